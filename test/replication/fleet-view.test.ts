/**
 * The fleet view without NATS: `GET /v1/fleet` is made from replication's typed stats in one function
 * (renderFleet; standaloneFleet for a node that runs alone), byte for byte as docs/replication.md shows,
 * and those stats are what telemetry reads (its ReplicationStatsLike), with no JSON in between.
 */
import { describe, expect, it } from 'vitest';
import { renderFleet, standaloneFleet, type ReplicationStats } from '../../src/replication/index.js';
import type { ReplicationStatsLike } from '../../src/telemetry/index.js';

const AT = Date.UTC(2025, 0, 15, 12, 30, 0);

const stats: ReplicationStats = {
  nodeId: 'gw-berlin-1',
  at: AT,
  connection: { state: 'connected', since: 1736944199000, server: '127.0.0.1:4222' },
  jetstream: 'ok',
  self: { nodeId: 'gw-berlin-1', url: 'http://127.0.0.1:8787', lastContactAt: AT, outboxDepth: 0, lagMs: 12, pending: 0, catchingUp: false, regions: [], versions: [{ app: 'aggregator', stable: '0.2.0', canary: '0.3.0', canary_percent: 10, building: null }] },
  peers: [{ nodeId: 'gw-munich-1', url: undefined, lastContactAt: AT - 1500, outboxDepth: 3, lagMs: undefined, pending: 7, catchingUp: true, regions: ['eu-west'], versions: [] }],
  publisher: { published: 1200, duplicates: 0, failures: 1, lastError: 'timeout' },
  consumer: { received: 2400, applied: 1150, duplicates: 50, conflicts: 0, own: 1200, undecodable: 0, pending: 0 },
  antiEntropy: { digestsReady: true, rounds: 12, lastRoundAt: undefined, repairedIn: 4, repairedOut: 5, conflicts: 1, lastError: undefined },
};

describe('GET /v1/fleet', () => {
  it('renders the stats in the documented shape, key for key', () => {
    expect(JSON.stringify(renderFleet(stats))).toBe(
      JSON.stringify({
        node_id: 'gw-berlin-1',
        replication: 'nats',
        nats: { state: 'connected', since: 1736944199000, server: '127.0.0.1:4222', jetstream: 'ok' },
        nodes: [
          { node_id: 'gw-berlin-1', self: true, url: 'http://127.0.0.1:8787', last_contact: '2025-01-15T12:30:00.000Z', last_contact_age_ms: 0, outbox_depth: 0, replication_lag_ms: 12, pending: 0, catching_up: false, regions: 'all', versions: [{ app: 'aggregator', stable: '0.2.0', canary: '0.3.0', canary_percent: 10, building: null }] },
          { node_id: 'gw-munich-1', self: false, url: null, last_contact: '2025-01-15T12:29:58.500Z', last_contact_age_ms: 1500, outbox_depth: 3, replication_lag_ms: null, pending: 7, catching_up: true, regions: ['eu-west'], versions: [] },
        ],
        publisher: { published: 1200, duplicates: 0, failures: 1, last_error: 'timeout' },
        consumer: { received: 2400, applied: 1150, duplicates: 50, conflicts: 0, own: 1200, undecodable: 0, pending: 0 },
        anti_entropy: { digests_ready: true, rounds: 12, last_round_at: null, repaired_in: 4, repaired_out: 5, conflicts: 1, last_error: null },
      }),
    );
  });

  it('shows a node without NATS alone', () => {
    expect(JSON.stringify(standaloneFleet('solo', undefined, [], AT))).toBe(
      JSON.stringify({
        node_id: 'solo',
        replication: 'off',
        nodes: [{ node_id: 'solo', self: true, url: null, last_contact: '2025-01-15T12:30:00.000Z', last_contact_age_ms: 0, outbox_depth: 0, replication_lag_ms: null, pending: 0, catching_up: false, regions: 'all', versions: [] }],
      }),
    );
    expect(standaloneFleet('solo', 'http://127.0.0.1:8787').nodes[0].url).toBe('http://127.0.0.1:8787');
  });

  it('is what telemetry reads: the typed stats, not their JSON', () => {
    const read: ReplicationStatsLike = stats;
    expect(read.self.outboxDepth).toBe(0);
  });
});
