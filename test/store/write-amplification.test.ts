import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { measureStoreWriteBytes } from '../../bench/store-write-bytes.js';

// The kernel's per-process count of bytes dirtied for writing; absent without task I/O accounting.
const accounting = existsSync('/proc/self/io');

describe('SqliteStore write amplification', () => {
  it.skipIf(!accounting)('writes well under 300 bytes to disk per reading (bench/store-write-bytes.ts, smaller)', () => {
    const result = measureStoreWriteBytes({ events: 30_000 });
    // A file system that writes nothing to a disk (tmpfs) counts nothing: no measurement, no verdict.
    if (result.writeBytes === 0) return;
    const perEvent = result.writeBytes / result.appended;
    expect(perEvent).toBeGreaterThan(30);
    // 230 on ext4 with 4 KiB pages when measured; a second B-tree per event or 4 KiB database pages exceed this.
    expect(perEvent).toBeLessThan(275);
  });
});
