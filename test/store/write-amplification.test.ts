import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { measureStoreWriteBytes } from '../../bench/store-write-bytes.js';

describe('SqliteStore write amplification', () => {
  it('writes well under 300 bytes to disk per reading (bench/store-write-bytes.ts, smaller)', () => {
    // The kernel's per-process count of bytes written (task I/O accounting): without it there is no measurement.
    expect(existsSync('/proc/self/io'), 'this test needs /proc/self/io (Linux task I/O accounting)').toBe(true);
    const result = measureStoreWriteBytes({ events: 30_000 });
    // A file system that writes nothing to a disk (tmpfs) counts nothing: that is no verdict either.
    expect(result.writeBytes, `nothing was counted as written: is ${tmpdir()} on a tmpfs? Set TMPDIR to a directory on a disk`).toBeGreaterThan(0);
    const perEvent = result.writeBytes / result.appended;
    expect(perEvent).toBeGreaterThan(30);
    // 230 on ext4 with 4 KiB pages when measured; a second B-tree per event or 4 KiB database pages exceed this.
    expect(perEvent).toBeLessThan(275);
  });
});
