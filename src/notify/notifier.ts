// Outgoing webhooks, level-triggered like the release reports (controller/report.ts): after
// every pass the operator hands over the status; the events it calls for (events.ts), less
// what the stack's ledger says each webhook already heard (ledger.ts), are what is pending.
// Each webhook gets its events one at a time, oldest first; a failed attempt is tried again
// with exponential backoff, a restart starts the attempts over from the ledger. So every
// event is delivered at least once, and an event written down as delivered never again.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { NotifyEvent, NotifySpec, StackStatus, WebhookSpec } from '../api/types.js';
import { NOTIFY_EVENTS } from '../api/schema.js';
import type { StateStore } from '../store/state.js';
import { envDispatcher, loadUndici } from '../util/http-dispatcher.js';
import { REDACTED, redactText, redactUrl, registerSecret } from '../util/redact.js';
import { berthVersion } from '../util/version.js';
import { eventsOf, type StackEvent } from './events.js';
import { buildRequest } from './format.js';
import { readLedger, writeLedger, type NotifyLedger } from './ledger.js';

/** Time, as the controller's Clock gives it (structurally the same: notify does not import controller/). */
export interface NotifyClock {
  now(): Date;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The webhooks of every stack that names none: berth's own configuration (--notify-config). */
export interface NotifyDefaults {
  webhooks(): Promise<{ webhooks: NotifySpec; baseDir: string } | undefined>;
}

export interface NotifierDeps {
  state: StateStore;
  log: Logger;
  clock: NotifyClock;
  instance: string;
  defaults?: NotifyDefaults;
  /** Where secretEnv is looked up (default: this process's environment). */
  env?: NodeJS.ProcessEnv;
  /** First retry delay, doubled per failed attempt up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** `berth run --once`: one attempt per pending event, no retries scheduled (the next run resumes from the ledger). */
  once?: boolean;
  dispatcher?: Dispatcher;
}

const DEFAULT_BACKOFF_MS = 1_000;
const DEFAULT_MAX_BACKOFF_MS = 5 * 60_000;
/** Keys of events no longer in the status kept anyway, so a waiting state that flaps off and on is not announced again. */
const KEEP_STALE_KEYS = 32;
/** Bytes of a receiver's answer berth reads (for the log), the rest is discarded. */
const MAX_ANSWER_BYTES = 2048;

interface Hook {
  id: string;
  spec: WebhookSpec;
  events: ReadonlySet<NotifyEvent>;
  /** Where a relative secretFile is found. */
  baseDir: string;
  /** The URL as logs may show it. */
  target: string;
}

interface Retry {
  /** Failed attempts in a row. */
  attempts: number;
  /** The scheduled retry; while it waits, passes send nothing to this webhook (the order holds). */
  timer?: unknown;
}

/** A path-token webhook (Slack, Discord) carries its credential in the path: only the origin is shown. */
export function webhookTarget(spec: Pick<WebhookSpec, 'url' | 'format'>): string {
  if (spec.format === 'slack' || spec.format === 'discord') {
    try {
      return `${new URL(spec.url).origin}/${REDACTED}`;
    } catch {
      return REDACTED;
    }
  }
  return redactUrl(spec.url);
}

function hookId(spec: WebhookSpec): string {
  return createHash('sha256').update(`${spec.format ?? 'json'}\0${spec.url}`).digest('hex').slice(0, 16);
}

export class Notifier {
  private readonly startedAt: Date;
  private readonly latest = new Map<string, { status: StackStatus; notify: NotifySpec | undefined }>();
  private readonly busy = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private readonly lastConsidered = new Map<string, Date>();
  private readonly retries = new Map<string, Retry>();
  private readonly ledgers = new Map<string, NotifyLedger>();
  /** Problems logged already (a bad secret file, a damaged ledger), so each is told once, not every pass. */
  private readonly told = new Map<string, string>();
  private stopped = false;
  /** Per stack, the ledger write last queued: writes run one after another (see persist). */
  private readonly writes = new Map<string, Promise<void>>();

  constructor(private readonly deps: NotifierDeps) {
    this.startedAt = deps.clock.now();
  }

  /** Sends what the stack's status calls for and its webhooks have not heard. `notify` is spec.notify (undefined: the defaults). */
  consider(stack: string, status: StackStatus, notify: NotifySpec | undefined): Promise<void> {
    this.latest.set(stack, { status, notify });
    return this.kick(stack);
  }

  private kick(stack: string): Promise<void> {
    const running = this.busy.get(stack);
    if (running !== undefined) {
      // A newer status came while sending: one more round once this one ends.
      this.again.add(stack);
      return running;
    }
    const work = (async () => {
      do {
        this.again.delete(stack);
        await this.round(stack).catch((err: unknown) => this.deps.log.error({ stack, err }, 'sending notifications failed; berth tries again after the next pass'));
      } while (this.again.has(stack) && !this.stopped);
    })().finally(() => this.busy.delete(stack));
    this.busy.set(stack, work);
    return work;
  }

  /** Resolves when every round under way has ended. */
  async idle(): Promise<void> {
    while (this.busy.size > 0) await Promise.all([...this.busy.values()]);
  }

  stop(): void {
    this.stopped = true;
    for (const r of this.retries.values()) if (r.timer !== undefined) this.deps.clock.clearTimeout(r.timer);
    this.retries.clear();
  }

  private tellOnce(key: string, message: string, log: () => void): void {
    if (this.told.get(key) === message) return;
    this.told.set(key, message);
    log();
  }

  private async hooksOf(notify: NotifySpec | undefined, status: StackStatus): Promise<Hook[]> {
    let specs: NotifySpec;
    let baseDir: string;
    if (notify !== undefined) {
      specs = notify;
      baseDir = status.status.manifest !== undefined ? dirname(status.status.manifest) : process.cwd();
    } else {
      const d = await this.deps.defaults?.webhooks();
      if (d === undefined) return [];
      ({ webhooks: specs, baseDir } = d);
    }
    const seen = new Set<string>();
    const hooks: Hook[] = [];
    for (const spec of specs) {
      const id = hookId(spec);
      if (seen.has(id)) continue;
      seen.add(id);
      // A Slack or Discord hook's URL is its credential: hidden wherever it might be quoted.
      if (spec.format === 'slack' || spec.format === 'discord') registerSecret(spec.url);
      hooks.push({ id, spec, events: new Set(spec.events ?? NOTIFY_EVENTS), baseDir, target: webhookTarget(spec) });
    }
    return hooks;
  }

  private async ledgerOf(stack: string): Promise<NotifyLedger | undefined> {
    const cached = this.ledgers.get(stack);
    if (cached !== undefined) return cached;
    try {
      const ledger = await readLedger(this.deps.state, stack);
      this.ledgers.set(stack, ledger);
      this.told.delete(`${stack}/ledger`);
      return ledger;
    } catch (err) {
      this.tellOnce(`${stack}/ledger`, (err as Error).message, () => this.deps.log.error({ stack, err }, 'cannot read the notification ledger; no notifications are sent for this stack until it is readable'));
      return undefined;
    }
  }

  /**
   * Writes the stack's ledger as it is when the write starts. Webhooks deliver concurrently;
   * two overlapping atomic writes could land in the wrong order and lose a delivered key
   * (which a crash would then send again), so they are queued: the last one holds everything.
   */
  private persist(stack: string, ledger: NotifyLedger): Promise<void> {
    const write = (this.writes.get(stack) ?? Promise.resolve()).catch(() => undefined).then(() => writeLedger(this.deps.state, stack, ledger));
    this.writes.set(stack, write);
    return write;
  }

  private async round(stack: string): Promise<void> {
    const input = this.latest.get(stack);
    if (input === undefined || this.stopped) return;
    const now = this.deps.clock.now();
    // A webhook first seen now hears outcomes that finished since the previous round (or since berth started).
    const since = (this.lastConsidered.get(stack) ?? this.startedAt).toISOString();
    this.lastConsidered.set(stack, now);
    const hooks = await this.hooksOf(input.notify, input.status);
    if (hooks.length === 0) return;
    const ledger = await this.ledgerOf(stack);
    if (ledger === undefined) return;
    let added = false;
    for (const h of hooks) {
      if (ledger.webhooks[h.id] === undefined) {
        ledger.webhooks[h.id] = { target: h.target, since, delivered: [] };
        added = true;
      }
    }
    if (added) await this.persist(stack, ledger);
    const events = eventsOf(stack, input.status);
    await Promise.all(hooks.map((h) => this.deliver(stack, h, events, ledger)));
  }

  private pending(h: Hook, events: StackEvent[], ledger: NotifyLedger): StackEvent[] {
    const entry = ledger.webhooks[h.id]!;
    const delivered = new Set(entry.delivered);
    const since = Date.parse(entry.since);
    return events.filter((e) => h.events.has(e.event) && !delivered.has(e.key) && (!e.outcome || Date.parse(e.at) >= since));
  }

  private async deliver(stack: string, h: Hook, events: StackEvent[], ledger: NotifyLedger): Promise<void> {
    const retryKey = `${stack}/${h.id}`;
    // A retry is scheduled: it sends, in order, when its time comes.
    if (this.retries.get(retryKey)?.timer !== undefined) return;
    for (const e of this.pending(h, events, ledger)) {
      if (this.stopped) return;
      const failure = await this.attempt(h, e);
      if (failure !== undefined) {
        this.scheduleRetry(stack, h, e, failure);
        return;
      }
      const entry = ledger.webhooks[h.id]!;
      const current = new Set(events.map((x) => x.key));
      const stale = entry.delivered.filter((k) => !current.has(k)).slice(-KEEP_STALE_KEYS);
      entry.delivered = [...stale, ...entry.delivered.filter((k) => current.has(k)), e.key];
      await this.persist(stack, ledger);
      const r = this.retries.get(retryKey);
      if (r?.timer !== undefined) this.deps.clock.clearTimeout(r.timer);
      this.retries.delete(retryKey);
      this.deps.log.info({ stack, event: e.event, version: e.version, webhook: h.target }, `notified ${h.target} of ${e.event} (version ${e.version})`);
    }
  }

  /** The webhook's secret, from the manifest, a file or the environment; registered for redaction. */
  private async secretOf(h: Hook): Promise<string | undefined> {
    const { spec } = h;
    let value: string | undefined;
    if (spec.secret !== undefined) value = spec.secret;
    else if (spec.secretFile !== undefined) {
      const path = isAbsolute(spec.secretFile) ? spec.secretFile : resolve(h.baseDir, spec.secretFile);
      try {
        value = (await readFile(path, 'utf8')).trim();
      } catch (err) {
        throw new Error(`cannot read the secret file ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); nothing is sent unsigned: make the file readable by berth`);
      }
      if (value === '') throw new Error(`the secret file ${path} is empty; nothing is sent unsigned: write the secret into it`);
    } else if (spec.secretEnv !== undefined) {
      value = (this.deps.env ?? process.env)[spec.secretEnv];
      if (value === undefined || value === '') {
        throw new Error(`the environment variable ${spec.secretEnv} is not set in berth's environment; nothing is sent unsigned: set it where berth starts`);
      }
    }
    registerSecret(value);
    return value;
  }

  /** One attempt; returns why it failed, or undefined once the receiver answered 2xx. */
  private async attempt(h: Hook, e: StackEvent): Promise<string | undefined> {
    let secret: string | undefined;
    try {
      secret = await this.secretOf(h);
    } catch (err) {
      return (err as Error).message;
    }
    const req = buildRequest(h.spec.format ?? 'json', e, { instance: this.deps.instance, ...(secret !== undefined ? { secret } : {}), now: this.deps.clock.now(), userAgent: `berth/${berthVersion()}` });
    const timeoutMs = (h.spec.timeoutSeconds ?? 10) * 1000;
    try {
      const { request } = await loadUndici();
      const res = await request(h.spec.url, {
        method: 'POST',
        headers: req.headers,
        body: req.body,
        dispatcher: this.deps.dispatcher ?? (await envDispatcher()),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        signal: AbortSignal.timeout(timeoutMs),
      });
      let answer = '';
      for await (const chunk of res.body) {
        if (answer.length < MAX_ANSWER_BYTES) answer += (chunk as Buffer).toString('utf8');
      }
      if (res.statusCode >= 200 && res.statusCode < 300) return undefined;
      const said = answer.trim().slice(0, 200);
      return `the webhook answered HTTP ${res.statusCode}${said !== '' ? `: ${said}` : ''}`;
    } catch (err) {
      const name = (err as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError' || (err as { code?: string }).code === 'UND_ERR_HEADERS_TIMEOUT') {
        return `the webhook did not answer within ${timeoutMs / 1000} s (spec.notify[].timeoutSeconds)`;
      }
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      return `the webhook could not be reached: ${cause?.code ?? (err as { code?: string }).code ?? ''} ${cause?.message ?? (err as Error).message}`.replace(/\s+/g, ' ').trim();
    }
  }

  private scheduleRetry(stack: string, h: Hook, e: StackEvent, why: string): void {
    const key = `${stack}/${h.id}`;
    const r = this.retries.get(key) ?? { attempts: 0 };
    r.attempts++;
    const base = this.deps.backoffMs ?? DEFAULT_BACKOFF_MS;
    const delay = Math.min(this.deps.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS, base * 2 ** (r.attempts - 1));
    if (r.timer !== undefined) this.deps.clock.clearTimeout(r.timer);
    const next = this.deps.once === true ? 'the next berth run tries again' : `berth tries again in ${Math.round(delay / 100) / 10} s`;
    this.deps.log.warn(
      { stack, event: e.event, version: e.version, webhook: h.target, attempt: r.attempts, retryInMs: this.deps.once === true ? undefined : delay },
      redactText(`notifying ${h.target} of ${e.event} (version ${e.version}) failed: ${why}; ${next}`),
    );
    if (this.deps.once === true || this.stopped) {
      this.retries.set(key, r);
      return;
    }
    r.timer = this.deps.clock.setTimeout(() => {
      r.timer = undefined;
      void this.kick(stack);
    }, delay);
    this.retries.set(key, r);
  }
}
