// Check-ins with vendors' release feeds: one timer per stack that has a channel, every
// intervalSeconds plus jitter (so a fleet does not arrive at once), sooner with backoff
// after a failure. A check-in only writes channel.yaml and wakes the stack; the reconcile
// pass decides what to do with what was accepted. A refused answer keeps the releases
// accepted before, so a broken or hostile feed changes nothing that runs.
import type { Logger } from 'pino';
import { stableHash } from '../plan/hash.js';
import { FeedError } from '../sources/errors.js';
import { fetchIndex } from '../sources/feed-client.js';
import { checkDowngrade, parseIndex } from '../sources/feed.js';
import { channelFile, readChannelState, sameFeedUrl, writeChannelState, type ChannelState } from '../store/channel.js';
import { redactText, redactUrl } from '../util/redact.js';
import type { StateStore } from '../store/state.js';
import type { Clock } from './clock.js';
import { channelKey, releaseCompose, type ChannelSpecOf } from './releases.js';
import type { Metrics } from './metrics.js';

export interface CheckInDeps {
  state: StateStore;
  log: Logger;
  clock: Clock;
  instance: string;
  /** The stack has new releases (or a new refusal) to act on. */
  onChange: (stack: string) => void;
  /** Test hook: a random number in [0, 1) for the jitter. */
  random?: () => number;
  /** Told of every accepted check-in: one that brings nothing new rewrites no status. */
  metrics?: Metrics;
}

export interface CheckInTarget {
  stack: string;
  channel: ChannelSpecOf;
  manifest: string;
}

/** The first retry after a failed check-in; it doubles up to the stack's interval. */
const FIRST_RETRY_MS = 5_000;

export class CheckIns {
  private readonly tracked = new Map<string, { fingerprint: string; timer: unknown; target: CheckInTarget }>();
  private readonly running = new Map<string, Promise<void>>();
  /** channel.yaml writes failed in a row, per stack: the disk is full or read-only, or a file is in the way. */
  private readonly unwritten = new Map<string, number>();
  private stopped = false;

  constructor(private readonly deps: CheckInDeps) {}

  /**
   * Keeps a stack's check-in schedule in line with its spec: called after every pass. A new
   * or changed channel checks in at once; a stack without one loses its timer.
   */
  track(stack: string, target: CheckInTarget | undefined): void {
    const old = this.tracked.get(stack);
    if (target === undefined) {
      if (old !== undefined) this.deps.clock.clearTimeout(old.timer);
      this.tracked.delete(stack);
      return;
    }
    const fingerprint = stableHash({ channel: target.channel, manifest: target.manifest });
    if (old !== undefined && old.fingerprint === fingerprint) return;
    if (old !== undefined) this.deps.clock.clearTimeout(old.timer);
    const entry = { fingerprint, timer: undefined as unknown, target };
    this.tracked.set(stack, entry);
    void this.dueOrLater(stack, entry);
  }

  /**
   * After a pass of `stack`: its channel as the pass read it. A pass that failed as a whole
   * (a full state folder, the engine gone) did not get as far as reading it, so the schedule
   * stays as it was: a stack's check-ins must not stop because its status could not be
   * written (they stopped, once, while the disk was full).
   */
  passEnded(stack: string, pass: { error?: unknown; channel?: CheckInTarget }): void {
    if (pass.error !== undefined && pass.channel === undefined) return;
    this.track(stack, pass.channel);
  }

  /** Checks in now unless the last check-in is recent enough (a restarted berth does not stampede the feed). */
  private async dueOrLater(stack: string, entry: { timer: unknown; target: CheckInTarget }): Promise<void> {
    const stored = await readChannelState(this.deps.state, stack).catch(() => undefined);
    const last = stored !== undefined && sameFeedUrl(stored.url, entry.target.channel.url) && stored.channel === entry.target.channel.name ? stored.lastAttempt : undefined;
    const since = last !== undefined ? this.deps.clock.now().getTime() - Date.parse(last) : Infinity;
    const wait = stored !== undefined && stored.failures === 0 ? entry.target.channel.intervalSeconds * 1000 - since : 0;
    this.schedule(stack, Math.max(0, Number.isFinite(wait) ? wait : 0));
  }

  private schedule(stack: string, ms: number): void {
    const entry = this.tracked.get(stack);
    if (entry === undefined || this.stopped) return;
    this.deps.clock.clearTimeout(entry.timer);
    entry.timer = this.deps.clock.setTimeout(() => {
      // attempt() handles what it can foresee; anything else still must not end berth, nor the schedule.
      const run = this.checkIn(entry.target).catch((err: unknown) => {
        this.deps.log.error({ stack, err }, 'check-in failed unexpectedly; retrying with backoff');
        return Math.max(1, this.unwritten.get(stack) ?? 1);
      });
      void run.then((failures) => {
        const current = this.tracked.get(stack);
        if (current !== entry) return;
        const interval = entry.target.channel.intervalSeconds * 1000;
        const jitter = entry.target.channel.jitterSeconds * 1000 * (this.deps.random ?? Math.random)();
        const next = failures === 0 ? interval + jitter : Math.min(interval, FIRST_RETRY_MS * 2 ** (failures - 1)) + jitter / 10;
        this.schedule(stack, next);
      });
    }, ms);
  }

  /**
   * Moves a tracked stack's next check-in to now ("check for updates now"); false when the
   * stack follows no channel. It only wakes the check-in: what comes of it is the pass's to decide.
   */
  checkNow(stack: string): boolean {
    if (!this.tracked.has(stack) || this.stopped) return false;
    this.schedule(stack, 0);
    return true;
  }

  stop(): void {
    this.stopped = true;
    for (const entry of this.tracked.values()) this.deps.clock.clearTimeout(entry.timer);
    this.tracked.clear();
  }

  /** One check-in now (one at a time per stack); returns the failures in a row after it. */
  checkIn(target: CheckInTarget): Promise<number> {
    const busy = this.running.get(target.stack);
    const run = (busy ?? Promise.resolve()).then(() => this.attempt(target));
    const done = run.then(
      () => undefined,
      () => undefined,
    );
    this.running.set(target.stack, done);
    void done.then(() => {
      if (this.running.get(target.stack) === done) this.running.delete(target.stack);
    });
    return run;
  }

  private async attempt({ stack, channel, manifest }: CheckInTarget): Promise<number> {
    const { state, log, clock } = this.deps;
    const now = clock.now();
    const stored = await readChannelState(state, stack);
    const sameFeed = stored !== undefined && sameFeedUrl(stored.url, channel.url) && stored.channel === channel.name;
    const base: ChannelState = sameFeed ? stored : { url: channel.url, channel: channel.name, failures: 0, releases: [] };
    const status = await state.readStatus({ stack }).catch(() => undefined);
    const current = status?.status.currentVersion;
    const url = channel.url.replace(/\/+$/, '');
    try {
      const key = await channelKey(channel, manifest);
      const fetched = await fetchIndex({
        url,
        channel: channel.name,
        identity: { instance: this.deps.instance, stack, ...(current !== undefined ? { version: current } : {}) },
        timeoutMs: channel.timeoutSeconds * 1000,
      });
      const index = parseIndex(fetched.body, { url: fetched.url, channel: channel.name, publicKey: key });
      for (const release of index.releases) releaseCompose(release);
      checkDowngrade(index.releases, current);
      const { refused: _cleared, ...rest } = base;
      const accepted: ChannelState = {
        ...rest,
        lastCheckIn: now.toISOString(),
        lastAttempt: now.toISOString(),
        failures: 0,
        releases: index.releases,
      };
      delete accepted.report;
      if (index.report !== undefined) accepted.report = index.report;
      // Not recorded means not accepted: the pass reads releases from channel.yaml only.
      const unwritten = await this.record(stack, accepted, 'the accepted feed answer');
      if (unwritten > 0) return unwritten;
      this.deps.metrics?.checkedIn(stack, now);
      const changed = !sameFeed || stored.refused !== undefined || stableHash(stored.releases) !== stableHash(index.releases);
      const newest = index.releases[0]?.spec.version;
      log[changed ? 'info' : 'debug']({ stack, channel: channel.name, releases: index.releases.length, newest }, 'checked in with the release feed');
      if (changed) this.deps.onChange(stack);
      return 0;
    } catch (err) {
      const reason = err instanceof FeedError ? err.reason : 'FeedUnreachable';
      const message = redactText((err as Error).message);
      const failures = base.failures + 1;
      const unwritten = await this.record(
        stack,
        { ...base, lastAttempt: now.toISOString(), failures, refused: { reason, message, at: now.toISOString() } },
        `the refused check-in (${reason})`,
      );
      log.warn({ stack, channel: channel.name, url: redactUrl(url), reason, failures }, `check-in refused: ${message}`);
      // Only the first refusal of a run changes the status; later ones would rewrite it for nothing.
      if (base.refused?.reason !== reason) this.deps.onChange(stack);
      return Math.max(failures, unwritten);
    }
  }

  /**
   * Writes channel.yaml; returns 0, or the writes failed in a row so far (the caller backs
   * off by it). A full or read-only disk is logged with the file and retried, never thrown:
   * the releases accepted before stay in force meanwhile.
   */
  private async record(stack: string, value: ChannelState, what: string): Promise<number> {
    try {
      await writeChannelState(this.deps.state, stack, value);
      this.unwritten.delete(stack);
      return 0;
    } catch (err) {
      const failures = (this.unwritten.get(stack) ?? 0) + 1;
      this.unwritten.set(stack, failures);
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      const file = channelFile(this.deps.state, stack);
      this.deps.log.error(
        { stack, file, err, failures },
        `could not write ${what} to ${file} (${code}); the releases accepted before stay in force, and the check-in is retried with backoff. Free space or make the state folder writable`,
      );
      return failures;
    }
  }
}
