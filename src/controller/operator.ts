// The operator: triggers (manifest changes, Docker events, per-stack resync) feed one work
// queue; a few workers drain it, one reconcile at a time per stack. Every dependency comes
// in through one options object, and start/stop are idempotent.
import type { Logger } from 'pino';
import type { StackStatus } from '../api/types.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { StringDecoder } from 'node:string_decoder';
import type { ComposeCli } from '../docker/compose.js';
import type { Engine } from '../docker/engine.js';
import type { PullProgress } from '../docker/pull.js';
import { LABEL_PROJECT } from '../plan/types.js';
import { scanManifests } from '../store/manifests.js';
import { acquireStateLock, type StateLock } from '../store/lock.js';
import type { StateStore } from '../store/state.js';
import { sweepLeftovers } from '../store/sweep.js';
import { watchManifests, type FileWatcher } from '../store/watch.js';
import { systemClock, type Clock } from './clock.js';
import { ManifestIndex, stackKey, type WorkKey } from './index.js';
import { WorkQueue } from './queue.js';
import { CheckIns } from './checkin.js';
import { Prefetcher } from './prefetch.js';
import { Reconciler, type ReconcileResult } from './reconciler.js';
import { Reporter } from './report.js';
import { RescanFilter } from './rescan-filter.js';
import { engineEventFilters } from './engine-events.js';
import { instanceId } from '../store/channel.js';
import { Metrics } from './metrics.js';
import { Notifier, type NotifyDefaults } from '../notify/notifier.js';

export interface OperatorOptions {
  manifestsDir: string;
  state: StateStore;
  engine: Engine;
  compose: ComposeCli;
  log: Logger;
  clock?: Clock;
  /** Stacks reconciled in parallel (never two passes of one stack). */
  workers?: number;
  /** Full rescan of the manifests folder, in case the watcher missed something. */
  rescanSeconds?: number;
  pullTimeoutMs?: number;
  composeTimeoutMs?: number;
  pullProgress?: PullProgress;
  /** berth's notification defaults (--notify-config): the webhooks of stacks without spec.notify. */
  notifyDefaults?: NotifyDefaults;
  /**
   * Where file events come from (default: the manifests folder's own watcher). Tests put one
   * here that misses every event, as a watcher on a network filesystem does, to show that the
   * periodic rescan alone finds every change.
   */
  watchManifests?: typeof watchManifests;
}

/** Engine events that say nothing about a container's life (health checks run execs every second). */
const IGNORED_ACTIONS = /^(exec_|attach|resize|top|archive-path|extract-to-dir|copy|commit|export)/;

/** How often the folder is rescanned once the file watcher has failed. */
const WATCHER_FALLBACK_MS = 5_000;

export interface PassResult {
  key: WorkKey;
  error?: Error;
  /** The status the stack's last pass wrote: whether it ended on its target. */
  status?: StackStatus;
}

export class Operator {
  private readonly index = new ManifestIndex();
  private readonly queue: WorkQueue;
  private readonly reconciler: Reconciler;
  private readonly clock: Clock;
  private readonly log: Logger;
  private watcher: FileWatcher | undefined;
  private events: AbortController | undefined;
  private workers: Promise<void>[] = [];
  private rescanTimer: unknown;
  private rescanPending = false;
  /** Keys with a pass since the last periodic rescan, which then need none from it. */
  private readonly sinceRescan = new RescanFilter();
  /** Error codes the file watcher reported: once there is one, rescans come more often. */
  private readonly watcherErrors = new Set<string>();
  private running = false;
  private lock: StateLock | undefined;
  private readonly lockLost = new AbortController();
  /** Aborted once the operator stopped by itself because it lost its state lock; `berth run` then exits non-zero. */
  readonly halted: AbortSignal = this.lockLost.signal;
  /** Whether the operator runs and still holds its state lock (/readyz). */
  get started(): boolean {
    return this.running && !this.lockLost.signal.aborted;
  }
  /** Reconcile passes finished so far (tests and metrics read this; an unchanged status is not rewritten). */
  passes = 0;
  private channels: { checkIns: CheckIns; prefetcher: Prefetcher; reporter: Reporter; notifier: Notifier } | undefined;
  /** berth's Prometheus series (served at /metrics), in a registry of this operator's own. */
  readonly metrics: Metrics;

  constructor(private readonly opts: OperatorOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log;
    this.queue = new WorkQueue(this.clock);
    this.metrics = new Metrics({ engine: opts.engine });
    this.reconciler = new Reconciler({
      metrics: this.metrics,
      state: opts.state,
      engine: opts.engine,
      compose: opts.compose,
      index: this.index,
      log: opts.log,
      clock: this.clock,
      ...(opts.pullTimeoutMs ? { pullTimeoutMs: opts.pullTimeoutMs } : {}),
      ...(opts.composeTimeoutMs ? { composeTimeoutMs: opts.composeTimeoutMs } : {}),
      ...(opts.pullProgress ? { pullProgress: opts.pullProgress } : {}),
    });
  }

  /** Reads the manifests folder and returns every key that needs a pass. */
  private async rescan(): Promise<WorkKey[]> {
    const holderOnDisk = (name: string) => this.opts.state.readStatus({ stack: name }).then((s) => s?.status.manifest, () => undefined);
    const runningOnDisk = (name: string) =>
      this.opts.state.readStatus({ stack: name }).then((s) => (s?.status.revision !== undefined ? s.status.project : undefined), () => undefined);
    return this.index.update(await scanManifests(this.opts.manifestsDir), holderOnDisk, runningOnDisk);
  }

  /** One pass over every stack, then return: for cron jobs and scripts (`berth run --once`). */
  async runOnce(): Promise<PassResult[]> {
    const lock = await this.takeLock('berth run --once');
    try {
      const results: PassResult[] = [];
      const keys = await this.rescan();
      this.reconciler.noteEngineInterruption();
      const channels = await this.channelParts(true);
      for (const key of keys) {
        this.stopIfLost(lock);
        let r = await this.reconcileSafely(key);
        if (r.channel !== undefined) {
          // One check-in per run, then a pass that acts on what it brought.
          await channels.checkIns.checkIn(r.channel);
          r = await this.reconcileSafely(key);
        }
        // One pass means the whole of it: an update applied now is verified (or rolled
        // back) before berth exits, bounded by the stack's progress deadline.
        while (r.inFlight === true && r.error === undefined) {
          // A plain timer, not the clock's: the clock's never hold the process open, and this wait must.
          await sleep(r.requeueAfterMs ?? 1_000);
          this.stopIfLost(lock);
          r = await this.reconcileSafely(key);
        }
        await this.afterPass(key, r);
        results.push({ key, ...(r.error ? { error: r.error } : {}), ...(r.status ? { status: r.status } : {}) });
      }
      await channels.prefetcher.idle();
      await channels.reporter.idle();
      await channels.notifier.idle();
      return results;
    } finally {
      await lock.release();
    }
  }

  /** One writer per state folder: a second berth on it refuses to start; a dead one's lock is taken over. */
  private async takeLock(command: string): Promise<StateLock> {
    const lock = await acquireStateLock(this.opts.state.root, { command });
    for (const f of await this.opts.state.tighten()) {
      this.log.warn({ path: f.path, error: f.error }, 'could not make this state file private to berth (0600, folders 0700); change its owner or mode by hand');
    }
    if (lock.tookOverFrom !== undefined) {
      this.log.warn({ previous: lock.tookOverFrom }, 'took over the state lock of a berth that is no longer running; finishing what it left in flight');
    }
    try {
      const removed = await sweepLeftovers(this.opts.state.root);
      if (removed.length > 0) this.log.info({ removed }, 'removed what interrupted writes left in the state folder');
    } catch (err) {
      // Leftovers take space and nothing more; they are tried again at the next start.
      this.log.warn({ err, state: this.opts.state.root }, 'could not sweep leftovers of interrupted writes from the state folder');
    }
    return lock;
  }

  /** Another berth may own the state now: acting on would fight it, so the pass ends here. */
  private stopIfLost(lock: StateLock): void {
    if (!lock.signal.aborted) return;
    this.log.fatal({ state: this.opts.state.root }, (lock.signal.reason as Error).message);
    throw lock.signal.reason;
  }

  private onLockLost(reason: Error): void {
    this.log.fatal({ state: this.opts.state.root }, reason.message);
    void this.stop()
      .catch((err: unknown) => this.log.error({ err }, 'stopping after losing the state lock failed'))
      .finally(() => this.lockLost.abort(reason));
  }

  /** The release-channel machinery, made once the state folder is ours (it holds the instance id). */
  private async channelParts(once: boolean): Promise<NonNullable<Operator['channels']>> {
    if (this.channels !== undefined) return this.channels;
    const instance = await instanceId(this.opts.state);
    const { state, engine } = this.opts;
    this.channels = {
      checkIns: new CheckIns({
        state,
        log: this.log,
        clock: this.clock,
        instance,
        metrics: this.metrics,
        onChange: (stack) => this.queue.add(stackKey(stack)),
      }),
      prefetcher: new Prefetcher({ engine, log: this.log, clock: this.clock, ...(this.opts.pullTimeoutMs ? { timeoutMs: this.opts.pullTimeoutMs } : {}) }),
      reporter: new Reporter({ state, log: this.log, clock: this.clock, instance }),
      notifier: new Notifier({ state, log: this.log, clock: this.clock, instance, once, ...(this.opts.notifyDefaults ? { defaults: this.opts.notifyDefaults } : {}) }),
    };
    return this.channels;
  }

  /** What a pass asks of the channel machinery: a check-in schedule, pre-downloads, a report. */
  private async afterPass(key: WorkKey, r: ReconcileResult): Promise<void> {
    const channels = this.channels;
    if (channels === undefined || !key.startsWith('stack:')) return;
    const stack = key.slice('stack:'.length);
    if (this.running) channels.checkIns.passEnded(stack, r);
    const prefetch = r.prefetch;
    await Promise.all([
      prefetch !== undefined
        ? channels.prefetcher.want(stack, prefetch.version, prefetch.images).catch((err: unknown) => {
            this.log.warn({ stack, err }, 'could not start pre-downloading');
          })
        : undefined,
      r.status !== undefined && r.channel !== undefined ? channels.reporter.consider(stack, r.status, r.channel.channel) : undefined,
      r.status !== undefined ? channels.notifier.consider(stack, r.status, r.notify) : undefined,
    ]);
  }

  async start(): Promise<void> {
    if (this.running) return;
    const lock = (this.lock = await this.takeLock('berth run'));
    lock.signal.addEventListener('abort', () => this.onLockLost(lock.signal.reason as Error), { once: true });
    await this.channelParts(false);
    // Lost before it ran, stop() had nothing to stop: do not start either.
    lock.signal.throwIfAborted();
    this.running = true;
    for (const key of await this.rescan()) this.queue.add(key);
    // Whatever was in flight when the last berth stopped may have lost its containers since
    // (an engine restart while berth was down): each such operation runs compose up again.
    this.reconciler.noteEngineInterruption();
    this.watcher = (this.opts.watchManifests ?? watchManifests)(
      this.opts.manifestsDir,
      (file) => {
        this.log.debug({ file }, 'file changed');
        this.rescanSoon();
      },
      (err) => this.onWatcherError(err),
    );
    this.watchEvents();
    this.rescanEvery((this.opts.rescanSeconds ?? 60) * 1000);
    const n = Math.max(1, this.opts.workers ?? 2);
    this.workers = Array.from({ length: n }, () => this.work());
    this.log.info(
      { manifests: this.opts.manifestsDir, state: this.opts.state.root, engine: this.opts.engine.engineVersion, api: this.opts.engine.apiVersion, compose: `${this.opts.compose.flavour} ${this.opts.compose.version}` },
      'berth operator started',
    );
  }

  /** Wakes a channel stack's check-in early (the console's "check for updates now"); false when it follows no channel. */
  checkNow(stack: string): boolean {
    return this.running && (this.channels?.checkIns.checkNow(stack) ?? false);
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.clock.clearTimeout(this.rescanTimer);
    this.events?.abort();
    this.channels?.checkIns.stop();
    this.channels?.prefetcher.stop();
    this.channels?.notifier.stop();
    this.queue.shutdown();
    await this.watcher?.close();
    // Workers finish the pass they are in: a compose up is never cut off by a clean stop.
    await Promise.all(this.workers);
    // A delivery under way is written down (at most one request's timeout), so the next start does not repeat it.
    await this.channels?.notifier.idle();
    await this.lock?.release();
    this.lock = undefined;
    this.log.info('berth operator stopped');
  }

  /**
   * Rescans the folder and queues every key (`onlyDue`: only those without a pass since the
   * last periodic rescan, see rescan-filter.ts); a failed scan is logged, the next trigger retries.
   */
  private rescanAndQueue(onlyDue = false): void {
    if (!this.running) return;
    this.rescan().then(
      (keys) => (onlyDue ? this.sinceRescan.due(keys, new Set(this.index.keys())) : keys).forEach((k) => this.queue.add(k)),
      (err: unknown) => this.log.error({ err }, 'scanning the manifests folder failed'),
    );
  }

  /** A burst of file events (an editor's save, a git checkout) costs one rescan. */
  private rescanSoon(): void {
    if (this.rescanPending) return;
    this.rescanPending = true;
    this.clock.setTimeout(() => {
      this.rescanPending = false;
      this.rescanAndQueue();
    }, 100);
  }

  /**
   * The watcher could not watch something (ENOSPC: the inotify limit; EMFILE; EACCES; a
   * symlink loop): changes may go unnoticed, so the folder is rescanned often instead.
   * Logged once per kind of error, as it can repeat for every file.
   */
  private onWatcherError(err: Error): void {
    const code = (err as NodeJS.ErrnoException).code ?? err.message;
    const first = !this.watcherErrors.has(code);
    const fellBack = this.watcherErrors.size === 0;
    this.watcherErrors.add(code);
    if (fellBack && this.running) {
      // The next rescan would otherwise still wait out the full interval.
      this.clock.clearTimeout(this.rescanTimer);
      this.rescanEvery((this.opts.rescanSeconds ?? 60) * 1000);
    }
    this.log[first ? 'warn' : 'debug'](
      { err, path: (err as NodeJS.ErrnoException).path, rescanSeconds: WATCHER_FALLBACK_MS / 1000 },
      `the file watcher failed (${code}); changes are found by rescanning the manifests folder every ${WATCHER_FALLBACK_MS / 1000} s instead` +
        (code === 'ENOSPC' ? ' (raise fs.inotify.max_user_watches to get events again)' : ''),
    );
    this.rescanSoon();
  }

  private rescanEvery(ms: number): void {
    // Once the watcher failed, rescans stand in for its events.
    const every = this.watcherErrors.size > 0 ? Math.min(ms, WATCHER_FALLBACK_MS) : ms;
    this.rescanTimer = this.clock.setTimeout(() => {
      // Standing in for a failed watcher, a rescan must queue everything, as an event would.
      this.rescanAndQueue(this.watcherErrors.size === 0);
      if (this.running) this.rescanEvery(ms);
    }, every);
  }

  private async work(): Promise<void> {
    for (let key = await this.queue.get(); key !== undefined; key = await this.queue.get()) {
      const k = key as WorkKey;
      this.sinceRescan.passStarted(k);
      try {
        const result = await this.reconcileSafely(k);
        if (result.watch) this.watcher?.track(result.watch);
        void this.afterPass(k, result);
        if (result.error) {
          const delay = this.queue.addRateLimited(k);
          this.log.warn({ key: k, retryInMs: delay, failures: this.queue.failuresOf(k) }, 'reconcile failed; backing off');
        } else {
          this.queue.forget(k);
          if (result.requeueAfterMs !== undefined) this.queue.addAfter(k, result.requeueAfterMs);
        }
      } finally {
        this.queue.done(k);
      }
    }
  }

  private async reconcileSafely(key: WorkKey): Promise<ReconcileResult> {
    const started = performance.now();
    let ok = false;
    try {
      const result = await this.reconciler.reconcile(key);
      ok = result.error === undefined;
      return result;
    } catch (err) {
      // Engine unreachable, state folder unwritable, …: the pass failed as a whole.
      this.log.error({ key, err }, 'reconcile pass failed');
      return { error: err as Error };
    } finally {
      this.passes++;
      this.metrics.passFinished((performance.now() - started) / 1000, ok);
    }
  }

  /** Docker events of compose projects; reconnects with backoff while the operator runs. */
  private watchEvents(attempt = 0): void {
    if (!this.running) return;
    const controller = new AbortController();
    this.events = controller;
    const retry = () => {
      if (!this.running || controller.signal.aborted) return;
      // The engine may have restarted: what it ran for an update in flight may be stopped.
      this.reconciler.noteEngineInterruption();
      for (const key of this.index.keys()) this.queue.add(key);
      const delay = Math.min(30_000, 1_000 * 2 ** attempt);
      this.clock.setTimeout(() => this.watchEvents(Math.min(attempt + 1, 5)), delay);
    };
    this.opts.engine
      .events(engineEventFilters(), controller.signal)
      .then((stream) => {
        attempt = 0;
        const decoder = new StringDecoder('utf8');
        let buffer = '';
        stream.on('data', (chunk: Buffer) => {
          buffer += decoder.write(chunk);
          let nl: number;
          while ((nl = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, nl).trim();
            buffer = buffer.slice(nl + 1);
            if (line) this.onEngineEvent(line);
          }
        });
        stream.on('error', () => undefined);
        stream.on('close', retry);
      })
      .catch((err: unknown) => {
        // Aborted by stop(): not the engine's fault, and nothing to retry.
        if (controller.signal.aborted) return;
        this.log.warn({ err }, 'engine event stream unavailable; retrying');
        retry();
      });
  }

  private onEngineEvent(line: string): void {
    let event: { Action?: string; Actor?: { Attributes?: Record<string, string> } };
    try {
      event = JSON.parse(line) as typeof event;
    } catch {
      return;
    }
    if (event.Action === undefined || IGNORED_ACTIONS.test(event.Action)) return;
    const project = event.Actor?.Attributes?.[LABEL_PROJECT];
    if (project === undefined) return;
    for (const name of this.index.stacksOfProject(project)) this.queue.add(stackKey(name));
  }
}
