import { createServer, type AddressInfo } from 'node:net';

/**
 * A TCP port free right now on 127.0.0.1, for a server that must be told its port before it starts
 * (or restart on the same one). Another process may take it meanwhile: use `--port 0` where possible.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}
