/**
 * Names on NATS: subjects, the JetStream stream, message ids and consumer names. Everything that goes
 * into a name passes through {@link token}, so a region or a device id can never add a subject level or
 * a wildcard.
 */
import type { StoredEvent } from '../runtime/index.js';

/** The JetStream stream that carries every node's events. */
export const JETSTREAM_STREAM = 'EDGEAGG_EVENTS';
/** Events: `edgeagg.events.<stream>.<partition>`, e.g. `edgeagg.events.aggregator.eu-west_2Elab`. */
export const EVENTS_PREFIX = 'edgeagg.events';
/** Every node publishes its heartbeat here. */
export const HEARTBEAT_SUBJECT = 'edgeagg.fleet.heartbeat';
/** Anti-entropy requests to one node: `edgeagg.ae.<node>.<operation>`. */
export const ANTI_ENTROPY_PREFIX = 'edgeagg.ae';
/** The header that names the node an event was first accepted by. */
export const ORIGIN_HEADER = 'Edgeagg-Origin';
/** Durable consumers are named `edgeagg_<node>` (all regions) or `edgeagg_<node>__<region>`. */
export const CONSUMER_PREFIX = 'edgeagg_';

/**
 * Encodes a name as one subject token: `A-Z a-z 0-9 -` stay, every other byte of its UTF-8 form becomes
 * `_` and two hex digits (`.` is `_2E`, `_` is `_5F`). Injective, so decoding is exact; a token never
 * contains `.`, `*`, `>`, whitespace or two `_` in a row.
 */
export function token(name: string): string {
  let out = '';
  for (const byte of Buffer.from(name, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9-]/.test(c) ? c : `_${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The inverse of {@link token}; undefined for a string {@link token} cannot produce. */
export function untoken(encoded: string): string | undefined {
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    const c = encoded[i]!;
    if (c === '_') {
      const hex = encoded.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (/[A-Za-z0-9-]/.test(c)) {
      bytes.push(c.charCodeAt(0));
    } else {
      return undefined;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

export function eventSubject(stream: string, partition: string): string {
  return `${EVENTS_PREFIX}.${token(stream)}.${token(partition)}`;
}

/** The filter of a consumer: one partition of `stream`, or all of them. */
export function eventFilter(stream: string, partition?: string): string {
  return partition === undefined ? `${EVENTS_PREFIX}.${token(stream)}.*` : eventSubject(stream, partition);
}

/**
 * The stream and partition of an event subject, read from its last two tokens (so a prefix added by an
 * account import or a leaf node mapping does not matter).
 */
export function parseEventSubject(subject: string): { stream: string; partition: string } | undefined {
  const parts = subject.split('.');
  if (parts.length < 2) return undefined;
  const stream = untoken(parts[parts.length - 2]!);
  const partition = untoken(parts[parts.length - 1]!);
  return stream === undefined || partition === undefined ? undefined : { stream, partition };
}

/**
 * JetStream's `Nats-Msg-Id`, from the event's identity: the same reading published twice (by a retry, or by
 * two nodes that both received it) has the same id, and the stream stores it once within its duplicate
 * window.
 */
export function messageId(stream: string, event: Pick<StoredEvent, 'source' | 'timeMs'>): string {
  return `${token(stream)}.${token(event.source)}.${event.timeMs}`;
}

export function consumerName(nodeId: string, partition?: string): string {
  return partition === undefined ? `${CONSUMER_PREFIX}${token(nodeId)}` : `${CONSUMER_PREFIX}${token(nodeId)}__${token(partition)}`;
}

/** True for the names {@link consumerName} gives this node's consumers. */
export function isConsumerOf(name: string, nodeId: string): boolean {
  const own = consumerName(nodeId);
  return name === own || name.startsWith(`${own}__`);
}

export function antiEntropySubject(nodeId: string, operation: AntiEntropyOperation): string {
  return `${ANTI_ENTROPY_PREFIX}.${token(nodeId)}.${operation}`;
}

export type AntiEntropyOperation = 'digests' | 'events' | 'apply';
