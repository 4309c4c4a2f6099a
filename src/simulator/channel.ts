/**
 * A queue of readings sent under one token (a sensor's own, or a gateway's for the sensors behind it),
 * and the client that posts them: src/client's, as a real sensor would use it, with one fault added.
 */
import { RetryableError, SensorClient, type BatchResult, type SendOptions } from '../client/index.js';
import type { RetryOptions } from '../resilience/index.js';
import type { SimReading } from './device.js';
import type { ResolvedOptions } from './options.js';
import type { Random } from './random.js';

/** A sensor keeps its readings until they are answered: it retries until the run gives up on them. */
const SEND_RETRY: RetryOptions = { maxAttempts: Number.POSITIVE_INFINITY, budgetMs: Number.POSITIVE_INFINITY, backoff: { initialMs: 100, maxMs: 2_000, multiplier: 2, jitter: 1 } };
/** The failure code of an answer thrown away on purpose (the `retryShare` fault); it is not an error of the node's. */
export const LOST_ANSWER = 'lost_answer';
/** Answers thrown away per batch at most, so that every batch is answered in the end. */
const MAX_LOST_PER_BATCH = 3;

export class Channel {
  readonly queue: SimReading[] = [];
  oldestAt = 0;
  busy = false;
  private readonly client: SensorClient;
  /** Answers thrown away for the batch in flight. */
  private lost = 0;

  constructor(
    o: ResolvedOptions,
    token: string | undefined,
    private readonly random: Random,
  ) {
    this.client = new SensorClient({ url: o.url, token, timeoutMs: o.requestTimeoutMs, retry: SEND_RETRY, fetch: this.losingAnswers(o.faults.retryShare) });
  }

  enqueue(reading: SimReading): void {
    if (this.queue.length === 0) this.oldestAt = Date.now();
    this.queue.push(reading);
  }

  /** Posts one batch until the node answers it or refuses it (SensorClient.send). */
  post(readings: readonly SimReading[], options: SendOptions): Promise<BatchResult> {
    this.lost = 0;
    return this.client.send(readings.map((r) => r.item), options);
  }

  /** fetch, except that a `share` of the node's answers never reach the sensor, as over a link that dropped, so it sends again. */
  private losingAnswers(share: number): typeof fetch {
    return async (input, init) => {
      const res = await fetch(input, init);
      if ((res.status === 200 || res.status === 422) && this.lost < MAX_LOST_PER_BATCH && this.random.chance(share)) {
        await res.arrayBuffer().catch(() => undefined);
        this.lost++;
        throw new RetryableError(LOST_ANSWER, 'the answer was lost (simulated)');
      }
      return res;
    };
  }
}

