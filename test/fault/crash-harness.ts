/**
 * Crash safety, with real processes: a node takes readings from concurrent clients that retry the
 * same readings after any error (as real sensors do) and is killed with SIGKILL at a random moment;
 * then it is checked and restarted. After every round:
 *
 * - `PRAGMA integrity_check` of the database the kill left is ok;
 * - the node is ready again within 5 seconds of being started;
 * - once it is, every reading it acknowledged before the kill is in the event log, with its value (the node
 *   applies at start what its write journal holds and the database had not committed yet);
 * - nothing is counted twice: each region's aggregates equal a recomputation from the distinct
 *   readings stored.
 *
 * Used by test/fault/crash.test.ts (a few rounds in CI) and `npm run crashtest -- --rounds N`.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Reading } from '../../src/client/index.js';
import { NodeProcess } from '../helpers/node-process.js';
import { sleep, until } from '../helpers/poll.js';
import { Random } from '../../src/simulator/random.js';

export interface CrashRoundsOptions {
  rounds: number;
  /** Concurrent clients. @default 4 */
  clients?: number;
  /** Seed of the random choices (kill moments, batch sizes). @default Date.now() */
  seed?: number;
  /** Extra `serve` flags of every start (e.g. {@link PRUNING_FLAGS}). @default none */
  flags?: Record<string, string>;
  log?: (line: string) => void;
}

export interface CrashRoundsResult {
  rounds: number;
  acknowledged: number;
  stored: number;
  readyMs: number[];
}

export class CrashCheckError extends Error {
  override name = 'CrashCheckError';
}

const REGIONS = ['north', 'south', 'east', 'west'];

/**
 * Retention that prunes all the time: a pass every 20 ms deleting the minute buckets (kept one minute; the
 * readings are an hour old) and reclaiming their pages, so kills land in pruning transactions. The totals the
 * check compares are kept forever, and the readings themselves are inside the grace period.
 */
export const PRUNING_FLAGS: Record<string, string> = { 'retention-interval-ms': '20', 'retention-minute-ms': '60000' };
const READY_LIMIT_MS = 5000;

export async function runCrashRounds(options: CrashRoundsOptions): Promise<CrashRoundsResult> {
  const seed = options.seed ?? Date.now();
  const generator = new Random(seed);
  const rand = (): number => generator.next();
  const log = options.log ?? (() => {});
  const dataDir = mkdtempSync(join(tmpdir(), 'edgeagg-crash-'));
  const acked = new Map<string, Reading>();
  /** Per client, the batch it must retry before anything new. */
  const pending: Array<Reading[] | undefined> = [];
  const clients = options.clients ?? 4;
  const base = Date.now() - 3_600_000;
  let nextTimestamp = 0;
  const readyMs: number[] = [];
  log(`crash test: ${options.rounds} rounds, ${clients} clients, seed ${seed}, data ${dataDir}`);

  try {
    for (let round = 1; round <= options.rounds; round++) {
      const startedAt = performance.now();
      const node = await NodeProcess.start({ dataDir, flags: options.flags });
      const ready = await waitReady(node);
      readyMs.push(performance.now() - startedAt);
      if (!ready) throw new CrashCheckError(`round ${round}: not ready within ${READY_LIMIT_MS} ms of starting`);
      const stored = checkStore(dataDir, acked, round);
      if (round > 1) log(`round ${round - 1}: ${acked.size} acknowledged, ${stored} stored, ready again in ${readyMs.at(-1)!.toFixed(0)} ms`);
      await checkAggregates(node, dataDir, round);
      const token = await node.token('gateway');

      let alive = true;
      const loops = Array.from({ length: clients }, async (_, c) => {
        while (alive) {
          const batch =
            pending[c] ??
            Array.from({ length: 1 + Math.floor(rand() * 40) }, () => ({
              device_id: `crash-${c}`,
              region: REGIONS[Math.floor(rand() * REGIONS.length)]!,
              temperature_c: Math.round((rand() * 60 - 20) * 100) / 100,
              timestamp: base + nextTimestamp++,
            }));
          pending[c] = batch;
          try {
            const res = await node.postReadings(batch, token);
            if (res.status !== 200) {
              await res.body?.cancel();
              continue; // retry the same readings
            }
            const body = (await res.json()) as { results: Array<{ status: string }> };
            body.results.forEach((r, i) => {
              if (r.status === 'rejected') throw new CrashCheckError(`a valid reading was rejected: ${JSON.stringify(r)}`);
              const reading = batch[i]!;
              acked.set(`${reading.device_id}/${reading.timestamp}`, reading);
            });
            pending[c] = undefined;
          } catch (error) {
            if (error instanceof CrashCheckError) throw error;
            await sleep(5); // connection refused or reset: retry
          }
        }
      });

      await sleep(30 + rand() * 300);
      await node.kill();
      alive = false;
      await Promise.all(loops);
      checkIntegrity(dataDir, round);
    }
    // A last start: the state the last kill left behind is served correctly.
    const node = await NodeProcess.start({ dataDir });
    try {
      if (!(await waitReady(node))) throw new CrashCheckError(`not ready within ${READY_LIMIT_MS} ms after the last round`);
      checkStore(dataDir, acked, options.rounds + 1);
      await checkAggregates(node, dataDir, options.rounds + 1);
    } finally {
      await node.stop();
    }
    return { rounds: options.rounds, acknowledged: acked.size, stored: countStored(dataDir), readyMs };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Whether the node answers /readyz with 200 within READY_LIMIT_MS (a refused connection: not yet). */
async function waitReady(node: NodeProcess): Promise<boolean> {
  return until(async () => (await node.fetch('/readyz')).status === 200, { timeoutMs: READY_LIMIT_MS, intervalMs: 10 }).then(
    () => true,
    () => false,
  );
}

interface StoredReading {
  source: string;
  time_ms: number;
  region: string;
  payload: Buffer;
}

/** The events of the database, read through a connection of its own (the node may be running: WAL allows it). */
function readStore(dataDir: string): StoredReading[] {
  const db = new Database(join(dataDir, 'edgeagg.db'), { readonly: true });
  try {
    return db.prepare('SELECT e.source, e.time_ms, p.name AS region, e.payload FROM event e JOIN symbol p ON p.id = e.partition').all() as StoredReading[];
  } finally {
    db.close();
  }
}

function countStored(dataDir: string): number {
  return readStore(dataDir).length;
}

/** The database a kill left is intact (opened read-write: opening after a crash may have to recover the WAL). */
function checkIntegrity(dataDir: string, round: number): void {
  const db = new Database(join(dataDir, 'edgeagg.db'));
  try {
    const integrity = db.pragma('integrity_check', { simple: true }) as string;
    if (integrity !== 'ok') throw new CrashCheckError(`round ${round}: integrity_check says ${integrity}`);
  } finally {
    db.close();
  }
}

/** Every acknowledged reading is stored with its value (checked once the node has started again). */
function checkStore(dataDir: string, acked: Map<string, Reading>, round: number): number {
  const readings = readStore(dataDir);
  const stored = new Map(readings.map((r) => [`${r.source}/${r.time_ms}`, r]));
  for (const [key, reading] of acked) {
    const s = stored.get(key);
    if (!s) throw new CrashCheckError(`round ${round}: acknowledged reading ${key} is missing`);
    if (s.region !== reading.region || s.payload.readDoubleLE(0) !== reading.temperature_c) {
      throw new CrashCheckError(`round ${round}: acknowledged reading ${key} is stored with another value`);
    }
  }
  return readings.length;
}

/** The node's aggregates equal a recomputation from the distinct readings stored. */
async function checkAggregates(node: NodeProcess, dataDir: string, round: number): Promise<void> {
  const res = await node.fetch('/v1/regions', { token: await node.token('read') });
  const served = ((await res.json()) as { regions: Array<{ region: string; count: number; sum: number }> }).regions;
  const expected = new Map<string, { count: number; micro: number }>();
  for (const r of readStore(dataDir)) {
    const e = expected.get(r.region) ?? { count: 0, micro: 0 };
    const t = r.payload.readDoubleLE(0);
    e.count++;
    e.micro += Math.sign(t) * Math.round(Math.abs(t) * 1e6);
    expected.set(r.region, e);
  }
  for (const [region, e] of expected) {
    const s = served.find((x) => x.region === region);
    if (!s || s.count !== e.count || Math.abs(s.sum - e.micro / 1e6) > 1e-6) {
      throw new CrashCheckError(`round ${round}: region ${region} serves ${JSON.stringify(s)}, the stored readings give count ${e.count}, sum ${e.micro / 1e6}`);
    }
  }
  if (served.length !== expected.size) throw new CrashCheckError(`round ${round}: ${served.length} regions served, ${expected.size} stored`);
}
