/**
 * Structured logs (pino): one JSON object per line on stderr with `level`, `time` (ISO 8601), `msg`,
 * and — when the line is written while a request is being handled — its `request_id` and, if the
 * request is traced, `trace_id` and `span_id`. On a terminal the same lines are pretty-printed.
 *
 * Every message and field is passed through {@link redact}: a token, a password or a private key
 * never reaches the output, even when a caller passes one by mistake.
 */
import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import { redact, redactText } from './redact.js';
import { currentScope } from './scope.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** `auto`: pretty when the output is a terminal, JSON otherwise. */
export type LogFormat = 'auto' | 'json' | 'pretty';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** The logger {@link createLogger} makes: a {@link Logger} that can bind fields for a component. */
export interface NodeLogger extends Logger {
  /** A logger whose lines all carry `bindings` (e.g. `{ component: 'replication' }`). */
  child(bindings: Record<string, unknown>): NodeLogger;
  isLevelEnabled(level: LogLevel): boolean;
}

export interface LoggerOptions {
  /** JSON lines, pretty lines, or pretty only on a terminal. @default 'auto' */
  format?: LogFormat;
  /**
   * Where lines go: a stream, or a function given each line (tests). @default stderr, written
   * synchronously (a line logged just before a crash is not lost in a buffer)
   */
  destination?: DestinationStream | ((line: string) => void);
  /** Fields on every line. @default { pid, hostname } */
  base?: Record<string, unknown>;
}

export function createLogger(level: LogLevel = 'info', options: LoggerOptions = {}): NodeLogger {
  const format = options.format ?? 'auto';
  const dest = options.destination;
  const pretty = format === 'pretty' || (format === 'auto' && dest === undefined && process.stderr.isTTY === true);
  const stream: DestinationStream =
    typeof dest === 'function' ? { write: (line: string) => dest(line) } : dest ?? (pretty ? prettyStream() : pino.destination({ dest: 2, sync: true }));
  const logger = pino(
    {
      level,
      ...(options.base ? { base: options.base } : {}),
      timestamp: pino.stdTimeFunctions.isoTime,
      // Level names, not numbers, in JSON; pino-pretty wants the numbers.
      ...(pretty ? {} : { formatters: { level: (label: string) => ({ level: label }) } }),
      mixin: requestFields,
    },
    stream,
  );
  return wrap(logger);
}

function wrap(p: PinoLogger): NodeLogger {
  const emit =
    (lvl: LogLevel) =>
    (msg: string, fields?: Record<string, unknown>): void => {
      if (!p.isLevelEnabled(lvl)) return;
      if (fields) p[lvl](redact(fields) as Record<string, unknown>, redactText(msg));
      else p[lvl](redactText(msg));
    };
  return {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    child: (bindings) => wrap(p.child(redact(bindings) as Record<string, unknown>)),
    isLevelEnabled: (lvl) => p.isLevelEnabled(lvl),
  };
}

/** The current request's ids, on every line written while it is being handled. */
function requestFields(): Record<string, unknown> {
  const scope = currentScope();
  if (!scope) return {};
  return requestLogFields(scope);
}

/** `request_id`, and `trace_id`/`span_id` when the request is traced. */
export function requestLogFields(scope: { requestId: string; span?: { spanContext(): { traceId: string; spanId: string } } | undefined }): Record<string, string> {
  if (!scope.span) return { request_id: scope.requestId };
  const sc = scope.span.spanContext();
  return { request_id: scope.requestId, trace_id: sc.traceId, span_id: sc.spanId };
}

function prettyStream(): DestinationStream {
  // Loaded only for terminals: a node in production never pays for it.
  const build = createRequire(import.meta.url)('pino-pretty') as (options: Record<string, unknown>) => DestinationStream;
  return build({ destination: 2, sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' });
}
