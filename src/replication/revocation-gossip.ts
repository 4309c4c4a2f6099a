/**
 * Token revocations, honoured fleet-wide. Each node keeps its revocations in its store (`edgeagg token revoke`
 * writes them there); while connected it sends its whole list to the fleet every few seconds and merges every
 * list it receives. A revocation is (kind, value, time) and merging keeps the latest time per (kind, value): a
 * grow-only set with a max, so every node ends with the same list whatever the order, the duplicates and the
 * nodes that were offline (they get the list at the next round after they reconnect). Lists are small (a
 * revocation per lost device or leaked token), so a full exchange costs less than tracking what each peer has.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Revocation } from '../auth/index.js';
import type { Logger } from '../telemetry/index.js';

const REVOCATIONS_SUBJECT = 'edgeagg.fleet.revocations';


export interface RevocationStore {
  tokenRevocations(): Revocation[];
  /** Idempotent; keeps the later time of a (kind, value) it already holds. */
  revokeToken(revocation: Revocation): void;
}

/** Revocations per message: well under NATS's 1 MiB default payload limit. */
const PER_MESSAGE = 2_000;

/** Sends this node's revocations now and every `intervalMs`, merges the fleet's; returns a function that stops it. */
export function gossipRevocations(nc: NatsConnection, store: RevocationStore, logger: Logger, intervalMs = 5_000): () => void {
  // What the store holds, as of the last send or merge: a message is compared with it, not with a fresh read.
  let known = new Map<string, number>();
  const keyOf = (r: Revocation): string => `${r.kind}\0${r.value}`;
  const subscription = nc.subscribe(REVOCATIONS_SUBJECT, {
    callback: (error, msg) => {
      if (error) return;
      for (const r of parseRevocations(msg.data)) {
        const at = known.get(keyOf(r));
        if (at !== undefined && at >= r.revokedAtMs) continue;
        try {
          store.revokeToken(r);
          known.set(keyOf(r), r.revokedAtMs);
        } catch (e) {
          logger.warn('cannot store a token revocation from the fleet; the next round brings it again', { error: e });
          return;
        }
      }
    },
  });
  const send = (): void => {
    try {
      const all = store.tokenRevocations();
      known = new Map(all.map((r) => [keyOf(r), r.revokedAtMs]));
      for (let i = 0; i < all.length; i += PER_MESSAGE) nc.publish(REVOCATIONS_SUBJECT, JSON.stringify(all.slice(i, i + PER_MESSAGE)));
    } catch (error) {
      logger.debug('token revocations not sent this round', { error });
    }
  };
  send();
  const timer = setInterval(send, intervalMs);
  return () => {
    clearInterval(timer);
    subscription.unsubscribe();
  };
}

/** The valid revocations of a message; anything else in it is ignored (a peer of another version, a stray publish). */
export function parseRevocations(data: Uint8Array): Revocation[] {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(data));
  } catch {
    return [];
  }
  if (!Array.isArray(value)) return [];
  return value.filter(
    (r): r is Revocation =>
      typeof r === 'object' &&
      r !== null &&
      (r.kind === 'token' || r.kind === 'subject') &&
      typeof r.value === 'string' &&
      r.value.length > 0 &&
      r.value.length <= 256 &&
      Number.isSafeInteger(r.revokedAtMs) &&
      r.revokedAtMs >= 0,
  );
}
