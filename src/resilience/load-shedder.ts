/**
 * A bound on the work in flight. Past it, a request is refused at once (503 `overloaded` with
 * `Retry-After`), before its body is read: answering "come back later" costs microseconds, while
 * queueing it would make every request late and memory grow without bound.
 */
export class LoadShedder {
  private active = 0;
  private shedCount = 0;

  /** @param maxInFlight requests admitted at once. */
  constructor(readonly maxInFlight: number) {}

  /** Admits a request if there is room; every admitted request must call `release` once. */
  tryAcquire(): boolean {
    if (this.active >= this.maxInFlight) {
      this.shedCount++;
      return false;
    }
    this.active++;
    return true;
  }

  /**
   * True when a request would be admitted now, taking no slot; a false counts as a shed. For work
   * that must do something (read a body) before it takes its slot.
   */
  hasRoom(): boolean {
    if (this.active < this.maxInFlight) return true;
    this.shedCount++;
    return false;
  }

  release(): void {
    this.active--;
  }

  get inFlight(): number {
    return this.active;
  }

  /** Requests refused so far. */
  get shed(): number {
    return this.shedCount;
  }
}
