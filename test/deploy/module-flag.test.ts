/**
 * `serve --module` over time (issue 15's "Why"): a node restarted with a new version of its module keeps
 * every aggregate in view (the old version serves until the new one has built its state from the event log),
 * a restart with a version the registry already holds changes nothing, and a node whose data predates the
 * registry builds its first version's state from the log before it serves.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NodeProcess } from '../helpers/node-process.js';
import { eventually } from '../helpers/poll.js';
import { aggregatorVersion, appView, trustingDataDir } from './deploy-fixtures.js';
import { ReadingLoad, aggregateViews } from './reading-load.js';

describe('serve --module over restarts', () => {
  const dataDir = trustingDataDir();
  let before: Map<string, string>;
  const from = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000;

  beforeAll(async () => {
    const node = await NodeProcess.start({ dataDir });
    const load = new ReadingLoad(node, await node.token('gateway'), new Map());
    for (let i = 0; i < 5; i++) await load.post(Array.from({ length: 400 }, () => load.next()), await node.token('gateway'), true);
    before = await aggregateViews(node, await node.token('read'), from, from + 4 * 3_600_000);
    await node.stop();
  }, 60_000);

  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  /** The built aggregator signed as `version`, written beside the data directory. */
  const moduleFile = (version: string, release: number): string => {
    const m = aggregatorVersion(version, release);
    const path = join(dataDir, '..', `${version}-${process.pid}.wasm`);
    writeFileSync(path, m.wasm);
    writeFileSync(`${path}.sig.json`, JSON.stringify(m.signature));
    return path;
  };

  it('a new version named by --module builds its state, then serves the same aggregates', async () => {
    const node = await NodeProcess.start({ dataDir, flags: { module: moduleFile('0.2.0', 1) } });
    try {
      const admin = await node.token('admin');
      // Whatever moment this is read at, the aggregates are whole: the old version serves until the new one is built.
      expect(await aggregateViews(node, await node.token('read'), from, from + 4 * 3_600_000)).toEqual(before);
      await eventually(async () => ((await appView(node, admin, 'aggregator'))?.stable?.version === '0.2.0' ? true : undefined), { timeoutMs: 30_000 });
      expect(await aggregateViews(node, await node.token('read'), from, from + 4 * 3_600_000)).toEqual(before);
    } finally {
      await node.stop();
    }
  }, 60_000);

  it('a restart with a version the registry holds (or a lower release) changes nothing', async () => {
    const node = await NodeProcess.start({ dataDir, flags: { module: moduleFile('0.1.5', 0) } });
    try {
      const view = (await appView(node, await node.token('admin'), 'aggregator'))!;
      expect(view.stable!.version).toBe('0.2.0');
      expect(view.building).toBeNull();
      expect(node.stderr + node.stdout).toContain('release_rollback');
    } finally {
      await node.stop();
    }
  }, 60_000);

  it('a node whose data predates the registry builds its first version from the event log before serving', async () => {
    // As a node of an older release left it: no registry, no state of the version it now runs.
    const db = new Database(join(dataDir, 'edgeagg.db'));
    db.exec("DELETE FROM deployment; DELETE FROM module_version; DELETE FROM kv WHERE ns IN (SELECT id FROM symbol WHERE name LIKE 'aggregator@%')");
    db.close();
    rmSync(join(dataDir, 'modules'), { recursive: true, force: true });
    const node = await NodeProcess.start({ dataDir, flags: { module: moduleFile('0.3.0', 3) } });
    try {
      expect(await aggregateViews(node, await node.token('read'), from, from + 4 * 3_600_000)).toEqual(before);
      expect((await appView(node, await node.token('admin'), 'aggregator'))!.stable!.version).toBe('0.3.0');
    } finally {
      await node.stop();
    }
  }, 60_000);
});
