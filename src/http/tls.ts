/**
 * HTTPS for the node: the certificate and key from files, read again when they change (a renewed
 * certificate takes effect for new connections; open connections keep theirs), and optional client
 * certificates: a device may authenticate with a certificate signed by the client CA instead of a token,
 * its certificate's subject CN being its device id, as IoT platforms do.
 */
import { readFileSync, statSync, unwatchFile, watchFile } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { SecureContextOptions, TLSSocket } from 'node:tls';

export interface TlsFiles {
  /** PEM certificate chain of the node. */
  certFile: string;
  /** PEM private key of the node. */
  keyFile: string;
  /** PEM CA whose client certificates identify devices; undefined: no client certificates. @default none */
  clientCaFile?: string;
}

/** The server options of `files`, read now. */
export function readTls(files: TlsFiles): SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean } {
  return {
    cert: readFileSync(files.certFile),
    key: readFileSync(files.keyFile),
    ca: files.clientCaFile ? readFileSync(files.clientCaFile) : undefined,
    // Asked for, not required: gateways and readers keep authenticating with tokens.
    requestCert: files.clientCaFile !== undefined,
    rejectUnauthorized: false,
  };
}

/**
 * Calls `apply` with the files' new contents whenever one of them changes (polled: a certificate renewer
 * often replaces the file by a rename, which a watch on the old inode would miss). Returns a function that
 * stops watching. A half-written pair (a key that does not match) is reported and the old one kept.
 */
export function watchTls(files: TlsFiles, apply: (options: SecureContextOptions) => void, onError: (error: unknown) => void, intervalMs = 2_000): () => void {
  const paths = [files.certFile, files.keyFile, ...(files.clientCaFile ? [files.clientCaFile] : [])];
  let last = paths.map(stamp).join('|');
  const check = (): void => {
    const now = paths.map(stamp).join('|');
    if (now === last) return;
    last = now;
    try {
      apply(readTls(files));
    } catch (error) {
      onError(error);
    }
  };
  for (const path of paths) watchFile(path, { interval: intervalMs, persistent: false }, check);
  return () => {
    for (const path of paths) unwatchFile(path, check);
  };
}

function stamp(path: string): string {
  try {
    const s = statSync(path);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

const DEVICE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The device id a request's client certificate proves: its subject CN, when the certificate was verified
 * against the client CA; undefined for a request without one (or over plain HTTP).
 */
export function certificateDevice(req: IncomingMessage): string | undefined {
  const socket = req.socket as Partial<TLSSocket>;
  if (!socket.encrypted || !socket.authorized || typeof socket.getPeerCertificate !== 'function') return undefined;
  const cn = socket.getPeerCertificate().subject?.CN;
  const id = Array.isArray(cn) ? cn[0] : cn;
  return typeof id === 'string' && DEVICE_ID.test(id) ? id : undefined;
}
