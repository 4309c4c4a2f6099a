/**
 * The node's signal that ends a commit window early (ClientConnections, src/node/durability.ts): waiting may
 * gather more while more keep-alive connections that have sent writes wait for no answer than the group
 * holds; not while every such connection waits for an answer (clients that wait for each answer before they
 * send again), nor after they closed. A real HTTP server and client on loopback.
 */
import { Agent, createServer, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { ClientConnections } from '../../src/node/durability.js';
import { until } from '../helpers/poll.js';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** A server whose answers wait until the test releases them, watched by a ClientConnections. */
async function rig() {
  const held: ServerResponse[] = [];
  const server = createServer((_req, res) => {
    held.push(res);
  });
  const clients = new ClientConnections();
  clients.watch(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  cleanups.push(() => server.closeAllConnections());
  const port = (server.address() as AddressInfo).port;
  const agent = new Agent({ keepAlive: true, maxSockets: 2 });
  cleanups.push(() => agent.destroy());
  const send = (method = 'POST'): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/', method, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', reject);
      req.end();
    });
  const release = (): void => {
    for (const res of held.splice(0)) res.end('ok');
  };
  return { clients, held, send, release, agent };
}

it('says more may come while more connections that sent writes wait for nothing than a group holds', async () => {
  const { clients, held, send, release, agent } = await rig();
  expect(clients.moreMayCome(0), 'no client has connected yet').toBe(false);

  // A reader (a dashboard, a metrics scraper) is no writer that might join a commit group.
  const read = send('GET');
  await until(() => held.length === 1);
  release();
  expect(await read).toBe(200);
  expect(clients.moreMayCome(0), 'an idle connection that only read').toBe(false);

  const first = send();
  await until(() => held.length === 1);
  expect(clients.moreMayCome(0), 'the only client waits for its answer').toBe(false);
  release();
  expect(await first).toBe(200);
  await until(() => clients.moreMayCome(0), { message: 'the answered keep-alive connection to count as free' });

  // Two requests on two connections: both wait, so nothing more can come.
  const both = [send(), send()];
  await until(() => held.length === 2);
  expect(clients.moreMayCome(0), 'both clients wait for their answers').toBe(false);
  release();
  expect(await Promise.all(both)).toEqual([200, 200]);
  await until(() => clients.moreMayCome(0) && !clients.moreMayCome(1), { message: 'both connections to count as free' });
  // Two free connections may yet send, but a group of one already holds a third of the clients: it goes.
  expect(clients.moreMayCome(1)).toBe(false);

  // The clients hang up: no connection is left to send anything.
  agent.destroy();
  await until(() => !clients.moreMayCome(0), { message: 'closed connections to stop counting as free' });
});
