/**
 * The one Durable Object that holds the aggregator's state in its SQLite: it runs each request through the
 * guest (`ea_on_http`) in a transaction, then folds the events that were new (`ea_on_events`), as the
 * node's write path does with a fold delay of 0. A Durable Object runs one request at a time to the end
 * here (every call is synchronous), so reads always see every acknowledged write.
 */
import { DurableObject } from 'cloudflare:workers';
// The signed module, compiled by workerd at deploy (a module import): bundle.mjs checked its signature.
import aggregatorModule from './aggregator.wasm';
import { MANIFEST } from './manifest.js';
import { failureAnswer, guestAnswer } from './answers.js';
import { Guest, GuestCallError } from './guest.js';
import { SqlStore, StoreUnavailableError } from './sql-store.js';
import { moduleConfig } from './settings.js';

const LEVELS = ['debug', 'info', 'warn', 'error'];

export class AggregatorObject extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    this.store = new SqlStore(ctx.storage.sql);
    this.guest = new Guest(aggregatorModule, MANIFEST, {
      store: this.store,
      config: moduleConfig(env),
      now: () => Date.now(),
      log: (level, message) => console[LEVELS[level]](`${MANIFEST.name}@${MANIFEST.version}: ${message}`),
    });
  }

  /**
   * Answers one API request (RPC from the Worker).
   * @param {import('./envelope.js').GuestHttpRequest} request
   * @returns {import('./answers.js').Answer}
   */
  handle(request) {
    try {
      const result = this.ctx.storage.transactionSync(() => this.guest.http(request));
      if (result.newEvents.length > 0) this.fold(result.newEvents);
      return guestAnswer(result);
    } catch (error) {
      // The guest's failures are the client's answer; anything else is a bug of this adapter.
      if (!(error instanceof GuestCallError || error instanceof StoreUnavailableError)) console.error('request failed', error);
      return failureAnswer(error);
    }
  }

  /**
   * Folds committed events. Events the guest cannot fold are found by halving, kept in the `unfolded`
   * table and reported; the rest are folded (the node's write path does the same).
   */
  fold(events) {
    try {
      this.ctx.storage.transactionSync(() => this.guest.fold(events));
    } catch (error) {
      if (events.length > 1) {
        const half = Math.ceil(events.length / 2);
        this.fold(events.slice(0, half));
        this.fold(events.slice(half));
        return;
      }
      console.error('the aggregator could not fold an event; it is kept in the unfolded table', error);
      this.store.quarantine(MANIFEST.name, events);
    }
  }
}
