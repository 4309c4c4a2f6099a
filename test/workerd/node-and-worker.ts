/**
 * A real node (auth off) and the Worker under Miniflare, side by side for a test file, and the check that
 * they answer a request alike: the same status, content type, headers a client acts on, and body bytes.
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { NodeProcess } from '../helpers/node-process.js';
import { tempDir } from '../helpers/temp-dirs.js';
import { runBundle, startWorker, type WorkerUnderTest } from './worker-harness.js';

export interface Exchange {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | ArrayBuffer;
  /** Send the body chunked (no Content-Length), in two pieces. */
  chunked?: boolean;
}

export interface Answer {
  status: number;
  contentType: string | null;
  /** The headers a client acts on. */
  headers: Record<string, string | null>;
  text: string;
  bytes: Buffer;
}

export interface PairOptions {
  /** `edgeagg serve` flags. */
  nodeFlags?: Record<string, string>;
  /** The Worker's variables (wrangler.toml `[vars]`). */
  workerVars?: Record<string, string>;
  /** Extra bundle.mjs arguments (`--module`, `--trusted-key`). */
  bundleArgs?: string[];
}

export interface Pair {
  /** Sends `req` to the node, then the Worker; fails unless they answer alike. Returns the node's answer. */
  same(req: Exchange): Promise<Answer>;
}

/** Registers the file's hooks that start (before its tests) and stop (after them) a node and a Worker. */
export function useNodeAndWorker(options: PairOptions | (() => PairOptions) = {}): Pair {
  let node: NodeProcess | undefined;
  let worker: WorkerUnderTest | undefined;
  beforeAll(async () => {
    const { nodeFlags = {}, workerVars = {}, bundleArgs = [] } = typeof options === 'function' ? options() : options;
    const dir = tempDir('workerd-bundle');
    const bundled = runBundle(['--out', dir, ...bundleArgs]);
    if (bundled.status !== 0) throw new Error(`bundle.mjs exited with ${bundled.status}:\n${bundled.stdout}\n${bundled.stderr}`);
    [node, worker] = await Promise.all([NodeProcess.start({ flags: nodeFlags, env: { EDGEAGG_AUTH: 'false' } }), startWorker(dir, workerVars)]);
  });
  afterAll(async () => {
    await worker?.dispose();
    await node?.stop();
    node?.cleanup();
  });
  return {
    async same(req) {
      const fromNode = await answer(node!.url, req);
      const fromWorker = await answer(worker!.url, req);
      const view = (a: Answer) => ({ status: a.status, contentType: a.contentType, headers: a.headers, text: a.text });
      expect(view(fromWorker), `${req.method} ${req.path}`).toEqual(view(fromNode));
      expect(Buffer.compare(fromWorker.bytes, fromNode.bytes), `body bytes of ${req.method} ${req.path}`).toBe(0);
      return fromNode;
    },
  };
}

async function answer(baseUrl: string, req: Exchange): Promise<Answer> {
  const body = req.chunked && typeof req.body === 'string' ? chunks(req.body) : req.body;
  const res = await fetch(new URL(req.path, baseUrl), { method: req.method, headers: req.headers, body, duplex: 'half' } as RequestInit & { duplex: 'half' });
  const bytes = Buffer.from(await res.arrayBuffer());
  const headers: Record<string, string | null> = {};
  for (const name of ['cache-control', 'x-content-type-options', 'retry-after', 'allow', 'accept-encoding']) headers[name] = res.headers.get(name);
  return { status: res.status, contentType: res.headers.get('content-type'), headers, text: bytes.toString('utf8'), bytes };
}

function chunks(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  const half = Math.floor(bytes.length / 2);
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes.subarray(0, half));
      controller.enqueue(bytes.subarray(half));
      controller.close();
    },
  });
}
