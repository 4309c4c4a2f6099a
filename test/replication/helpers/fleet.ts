/** A fleet of real node processes on loopback for tests, sharing one NATS server and trusting each other's tokens. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { loadOrCreateNodeKey } from '../../../src/auth/tokens.js';
import { NodeProcess } from '../../helpers/node-process.js';
import type { Reading } from '../../guests/aggregator-oracle.js';

export interface FleetMember {
  name: string;
  dataDir: string;
  flags: Record<string, string>;
  /** Extra environment variables (e.g. OTEL_*). */
  env: Record<string, string>;
  process: NodeProcess | undefined;
}

export class TestFleet {
  readonly members = new Map<string, FleetMember>();
  private readonly root = mkdtempSync(join(tmpdir(), 'edgeagg-fleet-'));

  /**
   * Makes the members' data directories and keys first, so that each can be started trusting every other
   * member's token key (`--token-keys`, the fleet-wide trust of docs/replication.md).
   */
  constructor(names: string[], natsUrl: string, flags: Record<string, string> = {}, env: Record<string, string> = {}) {
    const dirs = names.map((name) => {
      const dataDir = join(this.root, name);
      loadOrCreateNodeKey(dataDir);
      return dataDir;
    });
    names.forEach((name, i) => {
      const others = dirs.filter((_, j) => j !== i).map((d) => join(d, 'keys', 'node-token.pub.pem'));
      this.members.set(name, {
        name,
        dataDir: dirs[i]!,
        flags: { 'node-id': name, nats: natsUrl, 'anti-entropy-interval-ms': '1000', 'token-keys': others.join(','), ...flags },
        env,
        process: undefined,
      });
    });
  }

  member(name: string): FleetMember {
    const m = this.members.get(name);
    if (!m) throw new Error(`no member ${name}`);
    return m;
  }

  node(name: string): NodeProcess {
    const p = this.member(name).process;
    if (!p) throw new Error(`${name} is not running`);
    return p;
  }

  async start(name: string): Promise<NodeProcess> {
    const m = this.member(name);
    m.process = await NodeProcess.start({ dataDir: m.dataDir, flags: m.flags, env: m.env });
    return m.process;
  }

  async stop(name: string, how: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const m = this.member(name);
    await m.process?.stop(how);
    m.process = undefined;
  }

  running(): NodeProcess[] {
    return [...this.members.values()].flatMap((m) => (m.process ? [m.process] : []));
  }

  async cleanup(): Promise<void> {
    await Promise.all([...this.members.values()].map((m) => m.process?.stop('SIGKILL')));
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** Posts readings in batches of at most 10,000; expects every one accepted or duplicate; returns the results. */
export async function post(node: NodeProcess, token: string, readings: Reading[]): Promise<{ accepted: number; duplicates: number }> {
  let accepted = 0;
  let duplicates = 0;
  for (let i = 0; i < readings.length; i += 10_000) {
    const res = await node.postReadings(readings.slice(i, i + 10_000), token);
    const text = await res.text();
    expect(res.status, text).toBe(200);
    const body = JSON.parse(text) as { accepted: number; duplicates: number; rejected: number };
    expect(body.rejected, text.slice(0, 500)).toBe(0);
    accepted += body.accepted;
    duplicates += body.duplicates;
  }
  return { accepted, duplicates };
}

export async function getJson<T>(node: NodeProcess, path: string, token: string): Promise<T> {
  const res = await node.fetch(path, { token });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** Readings of `devices` devices in `regions`, one every `stepMs` from `startMs`: distinct identities. */
export function readings(prefix: string, count: number, startMs: number, regions: string[], devices = 50, stepMs = 1_000): Reading[] {
  const out: Reading[] = [];
  for (let i = 0; i < count; i++) {
    const device = i % devices;
    out.push({
      device_id: `${prefix}-${device}`,
      region: regions[device % regions.length]!,
      temperature_c: Math.round((15 + ((i * 7919) % 2000) / 100) * 100) / 100,
      timestamp: startMs + Math.floor(i / devices) * stepMs + device,
    });
  }
  return out;
}
