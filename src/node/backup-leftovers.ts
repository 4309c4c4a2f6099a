/**
 * The work folders of `edgeagg backup` and `edgeagg restore`: hidden siblings of what they make, named with
 * their pid, renamed into place only when complete. A run killed half-way (`kill -9`, a power cut) leaves
 * one behind and never a half-written output; the next run for the same output removes it.
 */
import { readdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { alive } from './data-dir-lock.js';

/** The work folder of this process for `target` and `purpose` (e.g. `.backup.edgeagg.partial-4242`). */
export function workPath(target: string, purpose: string): string {
  return join(dirname(target), `.${basename(target)}.${purpose}-${process.pid}`);
}

/** Removes the work folders for `target` left by processes that are gone. */
export function removeLeftovers(target: string, purpose: string): void {
  const prefix = `.${basename(target)}.${purpose}-`;
  let names: string[];
  try {
    names = readdirSync(dirname(target));
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length));
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !alive(pid)) rmSync(join(dirname(target), name), { recursive: true, force: true });
  }
}
