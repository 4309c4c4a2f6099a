/**
 * Every setting of a node, declared once. Each has a flag (`--data-dir`), an environment variable
 * (`EDGEAGG_DATA_DIR`) and a config-file key (`"data-dir"`), with the same name. Precedence: flag,
 * then environment, then config file, then the default.
 */
import { readFileSync } from 'node:fs';

type Kind = 'string' | 'integer' | 'boolean' | 'list';

interface SettingSpec {
  kind: Kind;
  default: string | number | boolean | string[];
  description: string;
  /** Accepted values, for enumerations. */
  choices?: readonly string[];
  /** Largest accepted value, for integers. */
  max?: number;
}

export const SETTINGS = {
  host: { kind: 'string', default: '127.0.0.1', description: 'address to listen on' },
  port: { kind: 'integer', default: 8787, max: 65535, description: 'TCP port to listen on (0 picks a free one)' },
  'tls-cert': { kind: 'string', default: '', description: 'PEM certificate (chain) to serve HTTPS with; read again when the file changes (empty: plain HTTP)' },
  'tls-key': { kind: 'string', default: '', description: 'PEM private key of tls-cert' },
  'tls-client-ca': { kind: 'string', default: '', description: 'PEM CA whose client certificates identify devices (subject CN = device id), as an alternative to device tokens' },
  'node-id': { kind: 'string', default: '', description: "this node's name in the fleet; empty: derived from its key" },
  'data-dir': { kind: 'string', default: './data', description: 'directory for the database and the node key' },
  auth: { kind: 'boolean', default: true, description: 'require tokens (turn off only for local experiments)' },
  'body-limit': { kind: 'integer', default: 1024 * 1024, description: 'largest request body in bytes' },
  'grace-period-ms': { kind: 'integer', default: 7 * 24 * 3600 * 1000, description: 'how late a reading may arrive and still be counted' },
  'max-future-ms': { kind: 'integer', default: 5 * 60 * 1000, description: 'how far ahead of the node clock a reading timestamp may be' },
  'max-regions': { kind: 'integer', default: 10_000, description: 'regions the API may create; a reading for a new region beyond it is rejected (too_many_regions)' },
  'max-streams': { kind: 'integer', default: 1000, description: 'GET /v1/stream connections open at once; more are answered 503 too_many_streams' },
  'max-devices-tracked': { kind: 'integer', default: 100_000, description: 'devices GET /v1/devices remembers (in memory); past it the least recently seen are forgotten and the answer says capped' },
  'module-grants': { kind: 'list', default: ['clock', 'config', 'events', 'kv', 'log', 'metrics'], description: 'capabilities granted to the module --module names (what the aggregator needs); deployed apps get only what their deploy grants' },
  'max-module-bytes': { kind: 'integer', default: 16 * 1024 * 1024, description: 'largest module a deploy accepts, in bytes (413 module_too_large)' },
  'canary-window-ms': { kind: 'integer', default: 60_000, description: "the sliding window a canary's calls and errors are judged over" },
  'canary-min-calls': { kind: 'integer', default: 100, description: 'calls a canary must have had in the window before it is judged; fewer hold the rollout' },
  'canary-max-error-excess-pct': { kind: 'integer', default: 5, max: 100, description: "a canary whose error rate exceeds the stable version's by more than this many percentage points is rolled back" },
  'canary-stage-interval-ms': { kind: 'integer', default: 300_000, description: 'how long a staged canary stays healthy at a share before the next stage' },
  module: { kind: 'string', default: '', description: 'the aggregator module (.wasm with .wasm.sig.json beside it); empty: the one built with the package' },
  'trusted-keys': { kind: 'list', default: [], description: 'public keys (PEM files) whose module signatures are trusted, besides the build key' },
  'token-keys': { kind: 'list', default: [], description: 'public keys (PEM files) whose tokens are trusted, besides this node\'s own (a fleet shares them)' },
  'token-max-lifetime-s': { kind: 'integer', default: 90 * 24 * 3600, description: 'longest lifetime (exp - iat) a token may have; longer ones are refused' },
  durability: {
    kind: 'string',
    default: 'full',
    description: 'full: a 2xx means fsynced (survives a power cut); normal: survives a crash of the process, not a power cut',
    choices: ['full', 'normal'],
  },
  'group-commit': { kind: 'boolean', default: true, description: 'commit requests that arrive together in one transaction (false: one transaction and fsync per request, for comparison)' },
  'fold-delay-ms': { kind: 'integer', default: 50, description: 'how long a stored reading may wait to be folded into the aggregates with later ones (reads never see the wait; 0: fold every commit group)' },
  'commit-window-ms': { kind: 'integer', default: 50, max: 1000, description: 'how long a commit waits for more requests when they arrive slowly, so one disk write and fsync covers them all (less flash wear; each acknowledgement may wait this long; 0: no waiting)' },
  'db-commit-interval-ms': { kind: 'integer', default: 5_000, max: 600_000, description: 'how long acknowledged writes may wait in the write journal (small synced appends) before the database takes them in one commit (less flash wear; a longer replay at start after a crash; 0: no journal, every commit group is committed and its WAL synced)' },
  'fuel-per-ms': { kind: 'integer', default: 20_000_000, description: "a guest call's CPU budget per millisecond of its module's deadline, in fuel (the same on a busy machine)" },
  'backstop-factor': { kind: 'integer', default: 10, description: 'a guest call still running after this many times its deadline of wall-clock time (at least 2 s) is stopped' },
  'max-in-flight': { kind: 'integer', default: 1024, description: 'API requests handled at once; more are answered 503 overloaded at once' },
  'max-body-bytes-in-flight': { kind: 'integer', default: 64 * 1024 * 1024, description: 'request body bytes held at once (arriving or being processed); past it 503 uploads_overloaded' },
  'min-body-rate': { kind: 'integer', default: 1024, description: 'bytes/s a request body must average once min-body-grace-ms has passed, else 408 body_too_slow (0: no minimum)' },
  'min-body-grace-ms': { kind: 'integer', default: 5_000, description: 'time a request body may take before min-body-rate applies' },
  'rate-limit-per-token': { kind: 'integer', default: 50_000, description: 'readings/s each token may post, else 429 rate_limited (0: no limit)' },
  'rate-limit-per-token-burst': { kind: 'integer', default: 100_000, description: 'readings a token may post at once' },
  'rate-limit-per-device': { kind: 'integer', default: 1_000, description: 'readings/s each device (device tokens) may post, else 429 rate_limited (0: no limit)' },
  'rate-limit-per-device-burst': { kind: 'integer', default: 10_000, description: 'readings a device may post at once' },
  'headers-timeout-ms': { kind: 'integer', default: 10_000, description: 'time a client has to send its request headers' },
  'request-timeout-ms': { kind: 'integer', default: 30_000, description: 'time a client has to send its whole request' },
  'idle-timeout-ms': { kind: 'integer', default: 60_000, description: 'a connection silent this long is closed' },
  'breaker-threshold': { kind: 'integer', default: 5, description: 'store failures within breaker-window-ms that open the circuit' },
  'breaker-window-ms': { kind: 'integer', default: 10_000, description: 'the window of breaker-threshold' },
  'breaker-cooldown-ms': { kind: 'integer', default: 2_000, description: 'how long the circuit stays open before a probe' },
  'max-db-pages': { kind: 'integer', default: 0, description: 'largest database size in pages (0: no limit); writes past it fail with disk_full' },
  'log-level': { kind: 'string', default: 'info', description: 'debug, info, warn or error', choices: ['debug', 'info', 'warn', 'error'] },
  simulate: { kind: 'integer', default: 0, description: 'run this many simulated sensors in-process against this node (a demo fleet; 0: none)' },
  // Observability (docs/observability.md); OpenTelemetry's own OTEL_* variables configure OTLP export.
  'log-format': { kind: 'string', default: 'auto', description: 'json, pretty, or auto: pretty when stderr is a terminal', choices: ['auto', 'json', 'pretty'] },
  'metrics-token': { kind: 'string', default: '', description: 'bearer token that GET /metrics requires (prefer the environment or the config file to a flag); empty: none' },
  'metrics-listen': { kind: 'string', default: '', description: "host:port serving /metrics instead of the node's own port; empty: the node's port" },
  // Replication (docs/replication.md).
  nats: { kind: 'list', default: [], description: 'NATS server URLs (nats://host:port, comma separated) of the fleet to join; empty: run alone' },
  'nats-user': { kind: 'string', default: '', description: 'user for the NATS servers (with nats-password)' },
  'nats-password': { kind: 'string', default: '', description: 'password of nats-user (set it in the environment or the config file, not on the command line)' },
  'nats-token': { kind: 'string', default: '', description: 'token for the NATS servers' },
  'nats-creds': { kind: 'string', default: '', description: 'creds file (user JWT and nkey seed) for the NATS servers' },
  'nats-nkey': { kind: 'string', default: '', description: 'file holding an nkey seed the NATS servers know' },
  'nats-tls-ca': { kind: 'string', default: '', description: 'PEM CA of the NATS servers\' certificates (TLS to the fleet)' },
  'nats-tls-cert': { kind: 'string', default: '', description: 'PEM client certificate for NATS servers that verify clients' },
  'nats-tls-key': { kind: 'string', default: '', description: 'PEM key of nats-tls-cert' },
  regions: { kind: 'list', default: [], description: 'regions this node follows from the fleet (comma separated); empty: all' },
  'anti-entropy-interval-ms': { kind: 'integer', default: 30_000, description: 'time between anti-entropy rounds with each peer' },
  // Retention and the disk budget (docs/operations.md, "Retention and the disk budget").
  'retention-events-margin-ms': { kind: 'integer', default: 24 * 3600 * 1000, description: 'raw readings are kept for grace-period-ms plus this, then pruned (they are the dedup and anti-entropy set)' },
  'retention-minute-ms': { kind: 'integer', default: 30 * 24 * 3600 * 1000, description: "how long a module's minute buckets are kept (0: forever)" },
  'retention-hour-ms': { kind: 'integer', default: 730 * 24 * 3600 * 1000, description: "how long a module's hour buckets are kept (0: forever); totals are kept forever" },
  'retention-interval-ms': { kind: 'integer', default: 60_000, description: 'time between pruning passes (0: never prune)' },
  'max-db-size': { kind: 'integer', default: 0, description: 'database budget in bytes (0: none); near it the node prunes at once, at it writes are refused with disk_full' },
} as const satisfies Record<string, SettingSpec>;

export type SettingName = keyof typeof SETTINGS;

type ValueOf<S extends SettingSpec> = S['kind'] extends 'integer' ? number : S['kind'] extends 'boolean' ? boolean : S['kind'] extends 'list' ? string[] : string;

export type Settings = { [K in SettingName]: ValueOf<(typeof SETTINGS)[K]> };

export class SettingsError extends Error {
  override name = 'SettingsError';
}

export function envName(name: SettingName): string {
  return `EDGEAGG_${name.toUpperCase().replace(/-/g, '_')}`;
}

function parse(name: SettingName, raw: unknown, where: string): Settings[SettingName] {
  const spec: SettingSpec = SETTINGS[name];
  const bad = (expected: string): never => {
    throw new SettingsError(`${where}: ${name} must be ${expected}, got ${JSON.stringify(raw)}`);
  };
  switch (spec.kind) {
    case 'integer': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n) || n < 0 || (spec.max !== undefined && n > spec.max)) bad(spec.max !== undefined ? `a whole number from 0 to ${spec.max}` : 'a non-negative integer');
      return n;
    }
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1') return true;
      if (raw === 'false' || raw === '0') return false;
      return bad('true or false');
    case 'list':
      if (Array.isArray(raw) && raw.every((x) => typeof x === 'string')) return raw as string[];
      if (typeof raw === 'string') return raw.split(',').map((s) => s.trim()).filter(Boolean);
      return bad('a list of strings');
    default:
      if (typeof raw !== 'string') bad('a string');
      if (spec.choices && !spec.choices.includes(raw as string)) bad(`one of ${spec.choices.join(', ')}`);
      return raw as string;
  }
}

/**
 * Resolves settings from flags (already parsed, keyed by setting name), the environment and an
 * optional JSON config file.
 */
export function resolveSettings(flags: Partial<Record<SettingName, unknown>>, env: NodeJS.ProcessEnv, configPath?: string): Settings {
  let file: Record<string, unknown> = {};
  const path = configPath ?? env.EDGEAGG_CONFIG;
  if (path) {
    try {
      file = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new SettingsError(`config file ${path}: ${error instanceof Error ? error.message : String(error)}`);
    }
    for (const key of Object.keys(file)) {
      if (!(key in SETTINGS)) throw new SettingsError(`config file ${path}: unknown setting "${key}"; known: ${Object.keys(SETTINGS).join(', ')}`);
    }
  }
  const out: Partial<Record<SettingName, unknown>> = {};
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    if (flags[name] !== undefined) out[name] = parse(name, flags[name], `--${name}`);
    else if (env[envName(name)] !== undefined) out[name] = parse(name, env[envName(name)], envName(name));
    else if (file[name] !== undefined) out[name] = parse(name, file[name], `config file ${path}`);
    else out[name] = SETTINGS[name].default;
  }
  return out as Settings;
}
