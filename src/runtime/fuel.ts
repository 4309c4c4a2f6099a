/**
 * The CPU limit of a guest call: a fuel budget, counted in instructions by the instrumented code
 * (metering.ts) and in fixed costs by the host for its own work, so that the same call uses the same
 * fuel on an idle desktop and on a busy Raspberry Pi. The wall clock is only a backstop, far above
 * what valid work needs, for work the fuel undercounts.
 *
 * A module's budget is its deadline times the node's rate: `limits.deadline_ms` names CPU time on a
 * reference machine, where typical guest code (the aggregator's) runs {@link DEFAULT_FUEL_PER_MS}
 * fuel a millisecond.
 */

/**
 * Fuel per millisecond of a module's deadline. On the reference machine (an x86-64 core, Node 20) the
 * aggregator answering a 10,000-reading batch uses 580 million fuel in about 36 ms (16 million a
 * millisecond), and an infinite loop or a deep recursion runs 10-15 million a millisecond: an
 * infinite loop is stopped after one to two times its deadline of CPU time.
 */
export const DEFAULT_FUEL_PER_MS = 20_000_000;

/** The wall-clock backstop of a call, as a multiple of its deadline. */
export const DEFAULT_BACKSTOP_FACTOR = 10;
/**
 * The shortest wall-clock backstop: a 50 ms deadline's 500 ms is within reach of valid work on a
 * machine busy enough (a 10,000-reading batch on two cores shared with a dozen busy processes).
 */
export const MIN_BACKSTOP_MS = 2000;

/**
 * What the host charges for its own work in a host call, in fuel: a base cost for every call and
 * one unit per byte it copies across the boundary; store writes cost more (they are most of a
 * batch's time on a node). About what each takes on the reference machine.
 */
export const HOST_FUEL = {
  call: 5_000,
  storeRead: 10_000,
  storeWrite: 20_000,
  perByte: 1,
} as const;

/** Fuel handed to the guest at a time: the wall clock is read once per chunk. */
const CHUNK = 1 << 20;
/** Fuel of host work between readings of the wall clock (host work is what the fuel undercounts most). */
const HOST_CLOCK_INTERVAL = 200_000;

/** Which limit stopped a call. */
export type CallLimit = 'fuel' | 'wall_clock';

/** Thrown through the guest to stop it; never seen by callers. */
export class FuelExhausted extends Error {
  override name = 'FuelExhausted';
  constructor(readonly limit: CallLimit) {
    super(limit === 'fuel' ? 'fuel budget used up' : 'wall-clock backstop passed');
  }
}

/**
 * The fuel of one call. The guest's counter holds what it was handed and has not run yet (below zero,
 * what it ran beyond that); the tank keeps the rest of the account.
 */
export class FuelTank {
  /** Fuel handed to the guest's counter so far. */
  private given = 0;
  /** Fuel charged for host work. */
  private host = 0;
  private readonly backstopAt: number;
  private hostFuelToClock = HOST_CLOCK_INTERVAL;
  /** Set when a limit stopped the call. */
  stopped: CallLimit | undefined;

  constructor(
    readonly budget: number,
    backstopMs: number,
  ) {
    this.backstopAt = performance.now() + backstopMs;
  }

  /** The refill import: takes the guest's counter (at or below zero), returns its new value. */
  refill(counter: number): number {
    const used = this.used(counter);
    if (used > this.budget) this.stop('fuel');
    this.checkClock();
    const chunk = Math.min(CHUNK, this.budget - used);
    this.given = used - this.host + chunk;
    return chunk;
  }

  /** Charges host work. Stops the guest at once when that and what it was handed pass the budget. */
  charge(fuel: number): void {
    this.host += fuel;
    if (this.given + this.host > this.budget) this.stop('fuel');
    this.hostFuelToClock -= fuel;
    if (this.hostFuelToClock < 0) {
      this.hostFuelToClock = HOST_CLOCK_INTERVAL;
      this.checkClock();
    }
  }

  /** Fuel used so far, given the guest's counter. */
  used(counter: number): number {
    return this.given - counter + this.host;
  }

  private checkClock(): void {
    if (performance.now() > this.backstopAt) this.stop('wall_clock');
  }

  private stop(limit: CallLimit): never {
    this.stopped ??= limit;
    throw new FuelExhausted(limit);
  }
}
