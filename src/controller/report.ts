// Tells the vendor how applying a channel release went, when the feed names a report URL.
// Level-triggered like the rest: after every pass the newest finished update in the status
// is compared with the last one reported (report.yaml), so a report lost to a crash or a
// down feed is sent on a later pass, and none is sent twice.
import type { Logger } from 'pino';
import type { HistoryEntry, StackStatus } from '../api/types.js';
import { postReport } from '../sources/feed-client.js';
import { reportTarget } from '../sources/report-target.js';
import { redactUrl } from '../util/redact.js';
import { readChannelState, readReportState, writeReportState } from '../store/channel.js';
import type { StateStore } from '../store/state.js';
import type { Clock } from './clock.js';

export interface ReporterDeps {
  state: StateStore;
  log: Logger;
  clock: Clock;
  instance: string;
  timeoutMs?: number;
}

/** What berth POSTs to the report URL, as JSON. */
export interface UpdateReport {
  apiVersion: 'berth.dev/v1alpha1';
  kind: 'UpdateReport';
  instance: string;
  stack: string;
  channel: string;
  version: string;
  revision: number;
  outcome: 'succeeded' | 'failed';
  /** berth went back to the last good revision after the failure. */
  rolledBack: boolean;
  reason?: string;
  message?: string;
  started: string;
  finished?: string;
  /** The version that runs now and passed its health gate; absent while that is not proven. */
  running?: string;
}

/** What of spec.channel decides where reports go. */
export interface ReportChannel {
  url: string;
  reportUrl?: string;
}

/**
 * The `running` field of a report: only a version proven to run, i.e. the applied revision
 * is the last good one and nothing is in flight. A report sent late, while a newer update is
 * still verified (or after it failed without a rollback), leaves the field out.
 */
export function runningOf(s: StackStatus['status']): Pick<UpdateReport, 'running'> {
  const proven = s.operation === undefined && s.revision !== undefined && s.revision === s.lastGoodRevision;
  return proven && s.currentVersion !== undefined ? { running: s.currentVersion } : {};
}

const REPORTABLE: ReadonlySet<HistoryEntry['outcome']> = new Set(['Healthy', 'Failed', 'RolledBack']);
const RETRY_AFTER_MS = 30_000;

export class Reporter {
  private readonly busy = new Map<string, Promise<void>>();
  private readonly failedAt = new Map<string, number>();
  /** report.yaml as last read or written, so a pass with nothing new to report reads no file. */
  private readonly reported = new Map<string, string | undefined>();

  constructor(private readonly deps: ReporterDeps) {}

  /** Refusals already logged, per stack, so a refused report URL is told once, not every pass. */
  private readonly refusedLogged = new Map<string, string>();

  /**
   * Reports the newest finished update of the stack unless it was reported already. `channel`
   * is the stack's spec.channel: its reportUrl, and the feed whose origin the index's report
   * URL must be on.
   */
  consider(stack: string, status: StackStatus, channel: ReportChannel): Promise<void> {
    const running = this.busy.get(stack);
    if (running !== undefined) return running;
    const work = this.send(stack, status, channel).finally(() => this.busy.delete(stack));
    this.busy.set(stack, work);
    return work;
  }

  /** Resolves when every report under way has been sent or has failed. */
  async idle(): Promise<void> {
    await Promise.all([...this.busy.values()]);
  }

  private async send(stack: string, status: StackStatus, spec: ReportChannel): Promise<void> {
    const { state, log, clock } = this.deps;
    // While an update or rollback is in flight, what runs is not proven yet: report once it settles.
    if (status.status.operation !== undefined) return;
    const entry = (status.status.history ?? []).find((h) => h.operation === 'update' && h.outcome !== 'Progressing');
    if (entry === undefined || !REPORTABLE.has(entry.outcome)) return;
    const key = `${entry.revision}@${entry.started}`;
    const failedAt = this.failedAt.get(`${stack}/${key}`);
    if (failedAt !== undefined && clock.now().getTime() - failedAt < RETRY_AFTER_MS) return;
    if (!this.reported.has(stack)) this.reported.set(stack, (await readReportState(state, stack)).lastReported);
    if (this.reported.get(stack) === key) return;
    const record = await state.readRevision(stack, entry.revision).catch(() => undefined);
    if (record?.release === undefined) return; // not a channel release: nobody to tell
    const channel = await readChannelState(state, stack);
    const target = reportTarget({ feedUrl: spec.url, ...(spec.reportUrl !== undefined ? { reportUrl: spec.reportUrl } : {}), ...(channel?.report !== undefined ? { offered: channel.report } : {}) });
    if (target.url === undefined) {
      if (target.refused !== undefined && this.refusedLogged.get(stack) !== target.refused) {
        this.refusedLogged.set(stack, target.refused);
        log.warn({ stack, offered: channel?.report !== undefined ? redactUrl(channel.report) : undefined }, `no report sent: ${target.refused}`);
      }
      return;
    }
    this.refusedLogged.delete(stack);
    const body: UpdateReport = {
      apiVersion: 'berth.dev/v1alpha1',
      kind: 'UpdateReport',
      instance: this.deps.instance,
      stack,
      channel: record.release.channel,
      version: entry.version,
      revision: entry.revision,
      outcome: entry.outcome === 'Healthy' ? 'succeeded' : 'failed',
      rolledBack: entry.outcome === 'RolledBack',
      ...(entry.reason !== undefined ? { reason: entry.reason } : {}),
      ...(entry.message !== undefined ? { message: entry.message } : {}),
      started: entry.started,
      ...(entry.finished !== undefined ? { finished: entry.finished } : {}),
      ...runningOf(status.status),
    };
    try {
      await postReport(target.url, body, { timeoutMs: this.deps.timeoutMs ?? 10_000 });
      await writeReportState(state, stack, { lastReported: key });
      this.reported.set(stack, key);
      this.failedAt.delete(`${stack}/${key}`);
      log.info({ stack, version: entry.version, outcome: body.outcome, url: redactUrl(target.url) }, 'reported the update outcome to the feed');
    } catch (err) {
      this.failedAt.set(`${stack}/${key}`, clock.now().getTime());
      log.warn({ stack, url: redactUrl(target.url), err }, 'reporting the update outcome failed; berth tries again later');
    }
  }
}
