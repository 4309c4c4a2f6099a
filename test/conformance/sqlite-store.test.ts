import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/index.js';
import { describeStoreConformance } from './store-conformance.js';

describeStoreConformance('SqliteStore', () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgeagg-conformance-'));
  const store = SqliteStore.open({ path: join(dir, 'store.db') });
  return {
    store,
    close() {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
