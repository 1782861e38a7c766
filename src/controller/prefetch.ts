// Pre-download: the images of an accepted release are pulled by digest in the background,
// before anyone approves it, so that applying it later does not wait for the network. A few
// pulls at a time (the host keeps serving), progress in the logs, failures retried later.
import type { Logger } from 'pino';
import type { Engine } from '../docker/engine.js';
import { missingImages } from '../docker/pull.js';
import type { Clock } from './clock.js';

export interface PrefetchDeps {
  engine: Engine;
  log: Logger;
  clock: Clock;
  /** Pulls at once, over every stack. */
  concurrency?: number;
  timeoutMs?: number;
}

/** A failed pre-download is tried again no sooner than this. */
const RETRY_AFTER_MS = 30_000;

interface Job {
  image: string;
  stack: string;
  version: string;
}

export class Prefetcher {
  private readonly queue: Job[] = [];
  private readonly pending = new Set<string>();
  private readonly failedAt = new Map<string, number>();
  private active = 0;
  private idleWaiters: Array<() => void> = [];
  private stopped = false;

  constructor(private readonly deps: PrefetchDeps) {}

  /** Asks for the images of `version` of `stack`; those present, queued or recently failed are skipped. */
  async want(stack: string, version: string, images: readonly string[]): Promise<void> {
    if (this.stopped || images.length === 0) return;
    const now = this.deps.clock.now().getTime();
    const candidates = images.filter((i) => !this.pending.has(i) && now - (this.failedAt.get(i) ?? -Infinity) >= RETRY_AFTER_MS);
    if (candidates.length === 0) return;
    const missing = await missingImages(this.deps.engine, candidates);
    const fresh = missing.filter((i) => !this.pending.has(i));
    if (fresh.length === 0) return;
    this.deps.log.info({ stack, version, images: fresh.length }, `pre-downloading ${fresh.length} image(s) of version ${version}`);
    for (const image of fresh) {
      this.pending.add(image);
      this.queue.push({ image, stack, version });
    }
    this.pump();
  }

  /** Resolves once nothing is queued or being pulled (`berth run --once` waits for it). */
  idle(): Promise<void> {
    if (this.active === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
  }

  private pump(): void {
    const limit = Math.max(1, this.deps.concurrency ?? 2);
    while (this.active < limit && this.queue.length > 0) {
      const job = this.queue.shift()!;
      this.active++;
      void this.pull(job).finally(() => {
        this.active--;
        this.pending.delete(job.image);
        this.pump();
        if (this.active === 0 && this.queue.length === 0) {
          const waiters = this.idleWaiters;
          this.idleWaiters = [];
          waiters.forEach((w) => w());
        }
      });
    }
  }

  private async pull(job: Job): Promise<void> {
    const { log, engine } = this.deps;
    const started = this.deps.clock.now().getTime();
    try {
      let last = '';
      await engine.pull(job.image, this.deps.timeoutMs ?? 30 * 60_000, (e) => {
        // One line per layer state change is plenty; the engine repeats "Downloading" per chunk.
        const line = `${e.id ?? ''} ${e.status ?? ''}`;
        if (e.status !== undefined && !e.status.startsWith('Downloading') && !e.status.startsWith('Extracting') && line !== last) {
          last = line;
          log.debug({ stack: job.stack, version: job.version, image: job.image, layer: e.id, status: e.status }, 'pre-download progress');
        }
      });
      this.failedAt.delete(job.image);
      log.info(
        { stack: job.stack, version: job.version, image: job.image, ms: this.deps.clock.now().getTime() - started, left: this.queue.length },
        'pre-downloaded image',
      );
    } catch (err) {
      this.failedAt.set(job.image, this.deps.clock.now().getTime());
      log.warn({ stack: job.stack, version: job.version, image: job.image, err }, 'pre-downloading an image failed; berth tries again later');
    }
  }
}
