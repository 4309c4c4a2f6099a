/** SIGKILL at random moments under load, then restart (test/fault/crash-harness.ts); CI runs 10 rounds. */
import { expect, it } from 'vitest';
import { runCrashRounds } from './crash-harness.js';

const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 10);

it(`keeps every acknowledged reading, counts each once, and stays intact over ${ROUNDS} kill -9 rounds`, async () => {
  const result = await runCrashRounds({ rounds: ROUNDS, seed: process.env.CRASH_SEED ? Number(process.env.CRASH_SEED) : undefined, log: (l) => console.log(l) });
  expect(result.acknowledged).toBeGreaterThan(0);
  expect(result.stored).toBeGreaterThanOrEqual(result.acknowledged);
}, 60_000 + ROUNDS * 10_000);
