/**
 * An unbounded single-consumer queue exposed as an async iterable: the outbound side of the
 * runtime's bidirectional stream. Producers push synchronously; the transport pulls as HTTP/2 flow
 * control allows. {@link MessageQueue.whenWritable} lets a fast producer (a streaming handler) wait
 * until the backlog drains below the high-water mark instead of buffering without limit.
 */
export class MessageQueue<T> implements AsyncIterable<T> {
  readonly #highWaterMark: number;
  #items: T[] = [];
  #head = 0;
  #ended = false;
  #consumer: ((result: IteratorResult<T>) => void) | null = null;
  #writableWaiters: Array<() => void> = [];

  constructor(highWaterMark = 256) {
    this.#highWaterMark = highWaterMark;
  }

  /** Messages waiting to be taken by the consumer. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Whether {@link end} was called. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Enqueues `item`; returns false (dropping it) once the queue has ended. */
  push(item: T): boolean {
    if (this.#ended) return false;
    const consumer = this.#consumer;
    if (consumer !== null) {
      this.#consumer = null;
      consumer({ value: item, done: false });
    } else {
      this.#items.push(item);
    }
    return true;
  }

  /** Resolves once the backlog is below the high-water mark (or the queue has ended). */
  whenWritable(): Promise<void> {
    if (this.size < this.#highWaterMark || this.#ended) return Promise.resolve();
    return new Promise((resolve) => this.#writableWaiters.push(resolve));
  }

  /** Ends the stream after the messages already queued; later pushes are dropped. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.size === 0 && this.#consumer !== null) {
      const consumer = this.#consumer;
      this.#consumer = null;
      consumer({ value: undefined, done: true });
    }
    this.#releaseWriters();
  }

  /** Ends the stream and discards the messages not yet taken. */
  discard(): void {
    this.#items = [];
    this.#head = 0;
    this.end();
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.size > 0) {
          const value = this.#items[this.#head] as T;
          this.#head++;
          if (this.#head === this.#items.length) {
            this.#items = [];
            this.#head = 0;
          } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
            this.#items = this.#items.slice(this.#head);
            this.#head = 0;
          }
          if (this.size < this.#highWaterMark) this.#releaseWriters();
          return Promise.resolve({ value, done: false });
        }
        if (this.#ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.#consumer = resolve;
        });
      },
      return: () => {
        this.discard();
        return Promise.resolve({ value: undefined, done: true });
      },
      // The Connect runtime aborts request iterables through throw(); like a generator that does
      // not catch, the queue ends and the error is rethrown.
      throw: (err?: unknown) => {
        this.discard();
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      },
    };
  }

  #releaseWriters(): void {
    const waiters = this.#writableWaiters;
    this.#writableWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
