#!/usr/bin/env node
// `npm run crashtest -- --rounds 200 [--pruning-rounds 200] [--seed N]`: the crash test
// (test/fault/crash-harness.ts) with as many rounds as asked, plain and with pruning running all the time.
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
const value = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const env = { ...process.env, CRASH_ROUNDS: value('--rounds', '10'), CRASH_PRUNING_ROUNDS: value('--pruning-rounds', value('--rounds', '10')) };
const seed = value('--seed', undefined);
if (seed) env.CRASH_SEED = seed;
const result = spawnSync('npx', ['vitest', 'run', 'test/fault/crash.test.ts', '--reporter=verbose', '--silent=false'], { stdio: 'inherit', env });
process.exit(result.status ?? 1);
