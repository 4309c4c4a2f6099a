import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { SETTINGS } from '../node/index.js';
import { DEFAULT_FAULTS, NO_FAULTS, ProgressMeter, formatSummary, startSimulator, type FaultOptions } from '../simulator/index.js';

/** The flags: each fault's share or length has its own flag, named like its FaultOptions field. */
interface SimulateOptions extends FaultOptions {
  url: string;
  token?: string;
  dataDir?: string;
  readToken?: string;
  devices: number;
  regions: number | string[];
  rate: number;
  duration: number;
  batch: number;
  seed: number;
  concurrency: number;
  backfill: number;
  faults: boolean;
  check: boolean;
  json?: boolean;
}

/** `edgeagg simulate`: a fleet of simulated sensors posting to a node, then a check of its aggregates. */
export function registerSimulate(program: Command): void {
  program
    .command('simulate')
    .description('run a fleet of simulated sensors against a node, with the faults real fleets have, and check its aggregates at the end')
    .option('--url <url>', 'the node (env EDGEAGG_URL)', process.env.EDGEAGG_URL ?? 'http://127.0.0.1:8787')
    .option('--token <jwt>', 'a gateway or admin token for every request (env EDGEAGG_TOKEN); without it, --data-dir mints one device token per sensor')
    .option('--data-dir <dir>', "the node's data directory, to mint device tokens and a read token from its key (env EDGEAGG_DATA_DIR, default ./data when it has a key)")
    .option('--read-token <jwt>', 'a read token for the final check (default: minted from --data-dir, else --token)')
    .option('--devices <n>', 'number of sensors', int, 20)
    .option('--regions <n|names>', 'how many regions, or their names separated by commas', regionsArg, 4)
    .option('--rate <n>', 'readings per second across the fleet (outside bursts)', num, 50)
    .option('--duration <seconds>', 'how long to run; 0 runs until Ctrl-C', num, 0)
    .option('--batch <n>', 'readings per request at most', int, 20)
    .option('--seed <n>', 'seed of every random choice', int, 1)
    .option('--concurrency <n>', 'requests in flight at most', int, 8)
    .option('--backfill <seconds>', 'history each sensor sends first (one reading a minute), to fill the charts', num, 0)
    .option('--no-faults', 'a well-behaved fleet: every fault share 0')
    .option('--retry-share <share>', 'requests whose answer is lost, so the same batch is sent again', share, DEFAULT_FAULTS.retryShare)
    .option('--out-of-order-share <share>', 'readings delivered after a newer one of the same sensor', share, DEFAULT_FAULTS.outOfOrderShare)
    .option('--late-share <share>', 'readings delivered late', share, DEFAULT_FAULTS.lateShare)
    .option('--late-max-ms <ms>', 'longest delay of a late reading', num, DEFAULT_FAULTS.lateMaxMs)
    .option('--burst-share <share>', 'time spent in bursts of ten times the rate', share, DEFAULT_FAULTS.burstShare)
    .option('--burst-ms <ms>', 'length of a burst', num, DEFAULT_FAULTS.burstMs)
    .option('--offline-share <share>', 'sensors offline at any moment (they send their backlog when back)', share, DEFAULT_FAULTS.offlineShare)
    .option('--offline-mean-ms <ms>', 'mean length of an offline spell', num, DEFAULT_FAULTS.offlineMeanMs)
    .option('--malformed-share <share>', 'readings that are malformed', share, DEFAULT_FAULTS.malformedShare)
    .option('--no-check', "skip the final check of the node's aggregates")
    .option('--json', 'print the summary as JSON')
    .action(async (options: SimulateOptions, cmd: Command) => {
      const faults: FaultOptions = options.faults
        ? {
            retryShare: options.retryShare,
            outOfOrderShare: options.outOfOrderShare,
            lateShare: options.lateShare,
            lateMaxMs: options.lateMaxMs,
            burstShare: options.burstShare,
            burstMs: options.burstMs,
            offlineShare: options.offlineShare,
            offlineMeanMs: options.offlineMeanMs,
            malformedShare: options.malformedShare,
          }
        : { ...NO_FAULTS };
      // A share given explicitly still applies with --no-faults.
      if (!options.faults) {
        for (const key of Object.keys(faults) as Array<keyof FaultOptions>) {
          if (cmd.getOptionValueSource(key) === 'cli') faults[key] = options[key];
        }
      }
      const token = options.token ?? process.env.EDGEAGG_TOKEN;
      let dataDir = options.dataDir ?? process.env.EDGEAGG_DATA_DIR;
      if (!token && !dataDir && existsSync(join(SETTINGS['data-dir'].default, 'keys'))) dataDir = SETTINGS['data-dir'].default;

      const tty = process.stdout.isTTY === true && !options.json;
      const meter = new ProgressMeter(options.duration);
      let lastPlain = 0;
      const sim = startSimulator({
        url: options.url,
        token,
        dataDir,
        readToken: options.readToken,
        devices: options.devices,
        regions: options.regions,
        rate: options.rate,
        durationS: options.duration,
        batch: options.batch,
        seed: options.seed,
        concurrency: options.concurrency,
        backfillS: options.backfill,
        faults,
        check: options.check,
        progressIntervalMs: tty ? 250 : 1000,
        onProgress: (stats) => {
          if (options.json) return;
          if (tty) {
            process.stdout.write(`\r\x1b[2K${meter.line(stats, (process.stdout.columns || 100) - 1)}`);
          } else if (stats.elapsedMs - lastPlain >= 10_000) {
            lastPlain = stats.elapsedMs;
            process.stdout.write(`${meter.plain(stats)}\n`);
          }
        },
        onWarning: (message) => {
          if (tty) process.stdout.write('\r\x1b[2K');
          process.stderr.write(`edgeagg simulate: ${message}\n`);
        },
      });

      let interrupted = false;
      const onSigint = (): void => {
        if (interrupted) process.exit(130);
        interrupted = true;
        if (tty) process.stdout.write('\r\x1b[2K');
        process.stderr.write('stopping: delivering what is queued, then checking (Ctrl-C again to quit at once)\n');
        void sim.stop().catch(() => {});
      };
      process.on('SIGINT', onSigint);
      process.on('SIGTERM', onSigint);
      try {
        const summary = await sim.done;
        if (tty) process.stdout.write('\r\x1b[2K');
        process.stdout.write(options.json ? `${JSON.stringify(summary, null, 2)}\n` : `\n${formatSummary(summary)}\n`);
        if (!summary.passed) process.exitCode = 1;
      } finally {
        process.off('SIGINT', onSigint);
        process.off('SIGTERM', onSigint);
      }
    });
}

function int(value: string): number {
  const v = Number(value);
  if (!Number.isInteger(v)) throw new InvalidArgumentError('not an integer');
  return v;
}

function num(value: string): number {
  const v = Number(value);
  if (!Number.isFinite(v)) throw new InvalidArgumentError('not a number');
  return v;
}

function share(value: string): number {
  const v = Number(value);
  if (!(v >= 0 && v <= 1)) throw new InvalidArgumentError('a share from 0 to 1');
  return v;
}

function regionsArg(value: string): number | string[] {
  if (/^\d+$/.test(value)) return Number(value);
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}
