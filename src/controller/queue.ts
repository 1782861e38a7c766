// The work queue, with client-go's guarantees: a key is queued at most once, a key is never
// processed by two workers at once (an add while it is processed re-queues it after), and
// failures come back with capped exponential backoff that a success forgets.
import type { Clock } from './clock.js';

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; handle: unknown }>();
  private readonly waiters: Array<(key: string | undefined) => void> = [];
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly backoff: BackoffOptions = { baseMs: 1_000, maxMs: 5 * 60_000 },
  ) {}

  add(key: string): void {
    if (this.closed) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      this.processing.add(key);
      waiter(key);
      return;
    }
    this.queued.add(key);
    this.queue.push(key);
  }

  /** Adds the key after `ms`; an earlier pending add wins over a later one. */
  addAfter(key: string, ms: number): void {
    if (this.closed) return;
    if (ms <= 0) return this.add(key);
    const at = this.clock.now().getTime() + ms;
    const pending = this.timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) this.clock.clearTimeout(pending.handle);
    const handle = this.clock.setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    this.timers.set(key, { at, handle });
  }

  /** Re-adds a key that failed, after base * 2^(failures-1), capped. Returns the delay. */
  addRateLimited(key: string): number {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    const delay = Math.min(this.backoff.maxMs, this.backoff.baseMs * 2 ** Math.min(n - 1, 30));
    this.addAfter(key, delay);
    return delay;
  }

  /** Forgets a key's failures: the next failure starts from the base delay again. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** The next key to process, waiting for one; undefined once the queue is shut down. */
  get(): Promise<string | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    const key = this.queue.shift();
    if (key !== undefined) {
      this.queued.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.delete(key)) this.add(key);
  }

  get length(): number {
    return this.queue.length;
  }

  shutdown(): void {
    this.closed = true;
    for (const { handle } of this.timers.values()) this.clock.clearTimeout(handle);
    this.timers.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }
}
