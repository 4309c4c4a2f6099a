import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

/** A fresh directory under the OS temp dir, removed after the current test. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'edgeagg-store-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs `fn` after the current test (in reverse order of registration), e.g. to close a store. */
export function defer(fn: () => void): void {
  cleanups.push(fn);
}

const cleanups: (() => void)[] = [];

afterEach(() => {
  for (const fn of cleanups.splice(0).reverse()) fn();
});

export const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);
export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
export const hex = (value: Uint8Array | undefined): string | undefined =>
  value === undefined ? undefined : Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex');
