/**
 * A bound on bytes held at once (request bodies arriving or waiting to be processed): what a request
 * takes it gives back when done. Counting bytes rather than requests is what bounds memory: 256 batches
 * of 1 MB are 256 MB whatever the request count limit says.
 */
export class ByteBudget {
  private held = 0;
  private refusedCount = 0;

  /** @param limit bytes held at once. */
  constructor(readonly limit: number) {}

  /** Takes `bytes` if they fit. */
  tryTake(bytes: number): boolean {
    if (this.held + bytes > this.limit) {
      this.refusedCount++;
      return false;
    }
    this.held += bytes;
    return true;
  }

  give(bytes: number): void {
    this.held = Math.max(0, this.held - bytes);
  }

  get inUse(): number {
    return this.held;
  }

  /** Takes refused so far. */
  get refused(): number {
    return this.refusedCount;
  }
}
