/**
 * How a node proves itself to the fleet's NATS servers and checks them: TLS (a CA to trust, and a client
 * certificate when the servers require one), and credentials: user and password, a token, an nkey seed, or a
 * creds file (a JWT and its nkey, as NATS's decentralised auth issues them).
 */
import { readFileSync } from 'node:fs';
import { credsAuthenticator, nkeyAuthenticator, type ConnectionOptions } from '@nats-io/transport-node';

export interface NatsAuthOptions {
  /** User and password the servers' `authorization` block names. @default none */
  user?: string;
  password?: string;
  /** A token the servers accept. @default none */
  token?: string;
  /** A creds file (`nsc generate creds`): user JWT and nkey seed. @default none */
  credsFile?: string;
  /** A file holding an nkey seed (`SU...`) the servers know the public key of. @default none */
  nkeySeedFile?: string;
  /** PEM CA that signed the servers' certificates; set, the connection must be TLS. @default system CAs, plain when the server allows */
  tlsCaFile?: string;
  /** PEM client certificate and key, for servers that verify clients. @default none */
  tlsCertFile?: string;
  tlsKeyFile?: string;
}

/** The `connect()` options for `auth`; files are read now, so a missing one fails at start with its name. */
export function natsConnectOptions(auth: NatsAuthOptions): Partial<ConnectionOptions> {
  const options: Partial<ConnectionOptions> = {};
  if (auth.user !== undefined) {
    options.user = auth.user;
    options.pass = auth.password ?? '';
  }
  if (auth.token !== undefined) options.token = auth.token;
  if (auth.credsFile) options.authenticator = credsAuthenticator(readFileSync(auth.credsFile));
  else if (auth.nkeySeedFile) options.authenticator = nkeyAuthenticator(new TextEncoder().encode(readFileSync(auth.nkeySeedFile, 'utf8').trim()));
  if (auth.tlsCaFile || auth.tlsCertFile) {
    options.tls = {
      ...(auth.tlsCaFile ? { ca: readFileSync(auth.tlsCaFile, 'utf8') } : {}),
      ...(auth.tlsCertFile ? { cert: readFileSync(auth.tlsCertFile, 'utf8') } : {}),
      ...(auth.tlsKeyFile ? { key: readFileSync(auth.tlsKeyFile, 'utf8') } : {}),
    };
  }
  return options;
}
