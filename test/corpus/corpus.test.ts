/**
 * The malformed-request corpus: every folder under test/corpus holds one refused request
 * (`request.json`) and its answer (`expected.json`). One real node answers them all over raw HTTP
 * (paths go on the wire as written), and none of them may change what the node holds.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest, type RawAnswer } from '../fuzz/raw-request.js';
import { NodeProcess } from '../helpers/node-process.js';
import { tokenFor } from './tokens.js';

interface CorpusRequest {
  method: string;
  /** As sent; `{{token}}` is replaced by the token (which then goes nowhere else). */
  path: string;
  headers?: Record<string, string>;
  /** The body; `__NOW__` is replaced by a timestamp a minute old. */
  body?: string;
  bodyBase64?: string;
  /** A body too long to write out: prefix + count × item (joined by separator) + suffix. */
  bodyRepeat?: { prefix: string; item: string; separator: string; suffix: string; count: number };
  /** A symbolic token name (test/corpus/tokens.ts). */
  token: string;
  /** Send it this many times (e.g. to drain a rate limit); the last answer is checked. @default 1 */
  times?: number;
}

interface CorpusExpected {
  status: number;
  code?: string;
  /** For a 422: the code of each item's rejection, in order. */
  itemCodes?: string[];
}

const DIR = fileURLToPath(new URL('.', import.meta.url));
const cases = readdirSync(DIR)
  .filter((name) => statSync(join(DIR, name)).isDirectory())
  .sort()
  .map((name) => ({
    name,
    req: JSON.parse(readFileSync(join(DIR, name, 'request.json'), 'utf8')) as CorpusRequest,
    expected: JSON.parse(readFileSync(join(DIR, name, 'expected.json'), 'utf8')) as CorpusExpected,
  }));

/** Node flags the corpus relies on: a small body limit, and a device burst small enough to hit. */
const CORPUS_FLAGS = { 'body-limit': '65536', 'rate-limit-per-device': '1', 'rate-limit-per-device-burst': '5' };

let node: NodeProcess;
let admin: string;

function bodyOf(req: CorpusRequest): Buffer {
  if (req.bodyBase64 !== undefined) return Buffer.from(req.bodyBase64, 'base64');
  if (req.bodyRepeat) {
    const r = req.bodyRepeat;
    return Buffer.from(r.prefix + Array.from({ length: r.count }, () => r.item).join(r.separator) + r.suffix);
  }
  return Buffer.from((req.body ?? '').replaceAll('__NOW__', String(Date.now() - 60_000)));
}

function send(req: CorpusRequest, token: string | undefined): Promise<RawAnswer> {
  const headers: Record<string, string> = { ...req.headers };
  let path = req.path;
  if (path.includes('{{token}}')) path = path.replaceAll('{{token}}', token ?? '');
  else if (token) headers.authorization = `Bearer ${token}`;
  return rawRequest(node.url, req.method, path, headers, bodyOf(req));
}

async function snapshot(): Promise<string> {
  const regions = await node.fetch('/v1/regions?limit=1000', { token: admin });
  const seed = await node.fetch('/v1/regions/corpus-seed', { token: admin });
  return JSON.stringify([regions.status, await regions.json(), seed.status, await seed.json()]);
}

beforeAll(async () => {
  node = await NodeProcess.start({ flags: CORPUS_FLAGS });
  admin = (await tokenFor(node.dataDir, 'admin'))!;
  const seed = await node.postReadings({ device_id: 'seed-1', region: 'corpus-seed', temperature_c: 20, timestamp: Date.now() - 60_000 }, admin);
  expect(seed.status).toBe(200);
}, 30_000);

afterAll(async () => {
  await node?.stop();
  node?.cleanup();
});

describe('the malformed-request corpus', () => {
  it('has a case for every class', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it('answers every case as expected, and no refused case changes what the node holds', async () => {
    const before = await snapshot();
    const failures: string[] = [];
    for (const { name, req, expected } of cases) {
      const token = await tokenFor(node.dataDir, req.token);
      let answer = await send(req, token);
      for (let i = 1; i < (req.times ?? 1); i++) answer = await send(req, token);
      const { status, text } = answer;
      let parsed: { error?: { code?: string }; results?: { error?: { code?: string } }[] } = {};
      try {
        parsed = JSON.parse(text) as typeof parsed;
      } catch {
        // A non-JSON answer fails the code check below.
      }
      const got = { status, code: parsed.error?.code, itemCodes: parsed.results?.map((r) => r.error?.code) };
      const want = { status: expected.status, code: expected.code, itemCodes: expected.itemCodes ?? got.itemCodes };
      if (JSON.stringify(got) !== JSON.stringify(want)) failures.push(`${name}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)} ${text.slice(0, 200)}`);
    }
    expect(failures).toEqual([]);
    expect(await snapshot()).toBe(before);
  }, 60_000);
});
