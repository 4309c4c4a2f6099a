import { once } from 'node:events';
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { Option, type Command } from 'commander';
import { SETTINGS } from '../node/index.js';
import { EventLogReader, type EventCursor, type EventRange } from '../store/index.js';
import { integerArg, print } from './args.js';

interface ExportOptions {
  dataDir?: string;
  region?: string;
  from: number;
  to: number;
  format: 'ndjson' | 'csv';
  out?: string;
  module: string;
  json?: boolean;
}

/** Events read per page: each page is one short read transaction of its own. */
const PAGE = 1000;
const CSV_HEADER = 'device_id,region,temperature_c,timestamp\n';

/**
 * `edgeagg export`: the raw readings a node retains, as NDJSON or CSV with the fields they were posted
 * with, read through a read-only connection (the node may be running). A progress bar goes to stderr
 * when it is a terminal.
 */
export function registerExport(program: Command): void {
  program
    .command('export')
    .description('write the raw readings a node retains (of one region and time range) as NDJSON or CSV, while it runs')
    .option('--data-dir <dir>', 'the node data directory (env EDGEAGG_DATA_DIR)')
    .option('--region <region>', 'only this region (default: every region)')
    .option('--from <ms>', 'first timestamp, in ms since the Unix epoch (inclusive)', integerArg(0), 0)
    .option('--to <ms>', 'end timestamp, in ms since the Unix epoch (exclusive)', integerArg(0), Number.MAX_SAFE_INTEGER)
    .addOption(new Option('--format <format>', 'ndjson: one JSON reading a line; csv: a header line, then one reading a line').choices(['ndjson', 'csv']).default('ndjson'))
    .option('--out <file>', 'write to this file (put in place once complete) instead of stdout')
    .option('--module <name>', 'the module whose event log holds the readings', 'aggregator')
    .option('--json', 'with --out: print what was written as JSON')
    .action(async (options: ExportOptions) => {
      const dataDir = options.dataDir ?? process.env.EDGEAGG_DATA_DIR ?? SETTINGS['data-dir'].default;
      const range: EventRange = { stream: options.module, fromMs: options.from, toMs: options.to, partition: options.region };
      const reader = new EventLogReader(join(dataDir, 'edgeagg.db'));
      try {
        if (options.out === undefined) {
          await exportTo(process.stdout, reader, range, options.format);
          return;
        }
        const out = resolve(options.out);
        const partial = join(dirname(out), `.${basename(out)}.partial-${process.pid}`);
        const file = createWriteStream(partial, { flags: 'wx', mode: 0o600 });
        try {
          const readings = await exportTo(file, reader, range, options.format);
          file.end();
          await once(file, 'close');
          renameSync(partial, out);
          print(options.json, { out, format: options.format, readings }, `exported ${readings} readings to ${out}`);
        } catch (error) {
          file.destroy();
          rmSync(partial, { force: true });
          throw error;
        }
      } finally {
        reader.close();
      }
    });
}

/** Writes the readings of `range` to `sink`, waiting for it to drain; returns how many. */
async function exportTo(sink: Writable, reader: EventLogReader, range: EventRange, format: 'ndjson' | 'csv'): Promise<number> {
  let failed: Error | undefined;
  const onError = (error: Error): void => {
    failed = error;
  };
  sink.on('error', onError);
  const progress = process.stderr.isTTY ? new ProgressBar(reader.count(range)) : undefined;
  let written = 0;
  try {
    if (format === 'csv' && !sink.write(CSV_HEADER)) await drained(sink);
    let after: EventCursor | undefined;
    do {
      const page = reader.read(range, after, PAGE);
      const lines = page.events.map((e) => line(format, e.source, e.partition, temperatureOf(e), e.timeMs)).join('');
      if (lines !== '' && !sink.write(lines)) await drained(sink);
      if (failed) break;
      written += page.events.length;
      progress?.update(written);
      after = page.next;
    } while (after !== undefined);
  } finally {
    progress?.done();
    sink.off('error', onError);
  }
  // A reader that went away (`| head`) is not an error of the export.
  if (failed && (failed as { code?: string }).code !== 'EPIPE') throw failed;
  return written;
}

function drained(sink: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      sink.off('drain', done);
      sink.off('error', done);
      resolve();
    };
    sink.on('drain', done);
    sink.on('error', done);
  });
}

/** The aggregator stores a reading's temperature as its event payload: one little-endian f64. */
function temperatureOf(e: { source: string; timeMs: number; payload: Uint8Array }): number {
  if (e.payload.length !== 8) {
    throw new Error(`the event of ${e.source} at ${e.timeMs} has a ${e.payload.length}-byte payload, not an aggregator reading: is --module right?`);
  }
  return Buffer.from(e.payload.buffer, e.payload.byteOffset, 8).readDoubleLE(0);
}

function line(format: 'ndjson' | 'csv', device: string, region: string, temperature: number, timestamp: number): string {
  if (format === 'ndjson') return `${JSON.stringify({ device_id: device, region, temperature_c: temperature, timestamp })}\n`;
  return `${csvField(device)},${csvField(region)},${temperature},${timestamp}\n`;
}

/** RFC 4180: a field with a comma, a quote or a line break is quoted, its quotes doubled. */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** `[#########...........]  45% 4500/10000 readings` on stderr, redrawn at most ten times a second. */
class ProgressBar {
  private last = 0;

  constructor(private readonly total: number) {}

  update(done: number): void {
    const now = Date.now();
    if (now - this.last < 100 && done < this.total) return;
    this.last = now;
    const share = this.total === 0 ? 1 : Math.min(1, done / this.total);
    const width = 30;
    const filled = Math.round(share * width);
    process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.round(share * 100)).padStart(3)}% ${done}/${this.total} readings`);
  }

  done(): void {
    process.stderr.write('\n');
  }
}
