// berth's Prometheus series, in a registry of the operator's own: tests and several
// operators in one process never share (or collide in) prom-client's global registry.
//
// Per-stack series are not kept as they change: they are derived, when Prometheus scrapes,
// from the last status each stack's pass wrote (observeStatus is called from the one place
// statuses are written). So they cannot drift from status.yaml, a label that changed (the
// Ready reason, a version) leaves no stale series behind, and a removed stack's series go
// with it. Applies and rollbacks are counted from the history entries a status settles.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { HistoryEntry, StackStatus } from '../api/types.js';
import type { EngineCallKind, PullStats } from '../docker/engine.js';

/** What the metrics read of the engine when scraped (its own counters). */
export interface EngineCounters {
  readonly callsByKind: ReadonlyMap<EngineCallKind, number>;
  readonly pullStats: Readonly<PullStats>;
}

export interface MetricsOptions {
  engine?: EngineCounters;
}

/** The outcome label of an apply (an update operation) or a rollback, by history outcome. */
const OUTCOME_LABEL: Record<HistoryEntry['outcome'], string | undefined> = {
  Progressing: undefined,
  Healthy: 'succeeded',
  // A rolled-back update failed; the rollback itself is counted in berth_rollbacks_total.
  Failed: 'failed',
  RolledBack: 'failed',
  Superseded: 'superseded',
};

const APPLY_OUTCOMES = ['succeeded', 'failed', 'superseded'] as const;
const ROLLBACK_OUTCOMES = ['succeeded', 'failed'] as const;

/** Reconcile passes of an idle stack take milliseconds; an update verified in one pass, minutes. */
const PASS_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

interface StackView {
  status: StackStatus['status'];
  /** Newest successful check-in seen, ms since the epoch (the status or the check-in itself). */
  lastCheckIn?: number;
  /** History entries already settled (counted, or settled before this berth saw them). */
  settled: Set<string>;
}

const entryKey = (e: HistoryEntry) => `${e.operation}/${e.revision}/${e.started}`;
const conditionOf = (s: StackStatus['status'], type: string) => s.conditions.find((c) => c.type === type);

export class Metrics {
  readonly registry = new Registry();
  private readonly stacks = new Map<string, StackView>();
  private readonly applies: Counter<'stack' | 'outcome'>;
  private readonly rollbacks: Counter<'stack' | 'outcome'>;
  private readonly passDuration: Histogram<'result'>;
  private processMetrics = false;

  constructor(opts: MetricsOptions = {}) {
    const registers = [this.registry];
    const stacks = this.stacks;
    const perStack = <L extends string>(name: string, help: string, labelNames: L[], value: (v: StackView) => Array<[Record<L, string>, number]>) =>
      new Gauge<L | 'stack'>({
        name,
        help,
        labelNames: ['stack', ...labelNames],
        registers,
        collect() {
          this.reset();
          for (const [stack, view] of stacks) for (const [labels, n] of value(view)) {
            // A spread of a generic record loses its key type; the keys are exactly L and stack.
            this.set({ stack, ...labels } as Record<L | 'stack', string>, n);
          }
        },
      });
    const flag = (v: StackView, type: string): Array<[Record<never, string>, number]> => [[{}, conditionOf(v.status, type)?.status === 'True' ? 1 : 0]];

    perStack('berth_stack_ready', 'Whether the stack is Ready (1) or not (0); reason is the Ready condition\'s reason.', ['reason'], (v) => {
      const ready = conditionOf(v.status, 'Ready');
      return [[{ reason: ready?.reason ?? 'Unknown' }, ready?.status === 'True' ? 1 : 0]];
    });
    perStack(
      'berth_stack_info',
      'Always 1: the stack\'s mode, the version that runs, the version it is asked to run, and the newest version its channel offers ("" when none).',
      ['mode', 'current_version', 'target_version', 'available_version'],
      (v) => [
        [
          {
            mode: v.status.mode ?? '',
            current_version: v.status.currentVersion ?? '',
            target_version: v.status.targetVersion ?? '',
            available_version: v.status.available?.version ?? '',
          },
          1,
        ],
      ],
    );
    perStack('berth_stack_revision', 'The revision berth applied last (what compose was last told to run).', [], (v) =>
      v.status.revision !== undefined ? [[{}, v.status.revision]] : [],
    );
    perStack('berth_stack_last_good_revision', 'The newest revision that passed the health gate: where an automatic rollback goes.', [], (v) =>
      v.status.lastGoodRevision !== undefined ? [[{}, v.status.lastGoodRevision]] : [],
    );
    perStack('berth_stack_update_available', 'Whether a newer release is available on the stack\'s channel (1) or not (0).', [], (v) => flag(v, 'UpdateAvailable'));
    perStack('berth_stack_awaiting_approval', 'Whether a version waits for a person\'s approval (1) or not (0).', [], (v) => flag(v, 'AwaitingApproval'));
    perStack('berth_stack_last_checkin_timestamp_seconds', 'When berth last accepted an answer from the stack\'s release feed (unix seconds); channel stacks only.', [], (v) =>
      v.lastCheckIn !== undefined ? [[{}, v.lastCheckIn / 1000]] : [],
    );

    this.applies = new Counter({
      name: 'berth_applies_total',
      help: 'Updates berth applied, by outcome: succeeded (passed the health gate), failed (including rolled back), superseded.',
      labelNames: ['stack', 'outcome'],
      registers,
    });
    this.rollbacks = new Counter({
      name: 'berth_rollbacks_total',
      help: 'Rollbacks to a last-good revision, by outcome: succeeded or failed.',
      labelNames: ['stack', 'outcome'],
      registers,
    });
    this.passDuration = new Histogram({
      name: 'berth_reconcile_duration_seconds',
      help: 'How long one reconcile pass took, by result: ok, or error (the pass is retried with backoff).',
      labelNames: ['result'],
      buckets: PASS_BUCKETS,
      registers,
    });

    const engine = opts.engine;
    if (engine === undefined) return;
    new Counter({
      name: 'berth_engine_calls_total',
      help: 'Calls berth made to the Docker engine API, by kind.',
      labelNames: ['kind'],
      registers,
      collect() {
        this.reset();
        for (const [kind, n] of engine.callsByKind) this.inc({ kind }, n);
      },
    });
    new Counter({
      name: 'berth_image_pulls_total',
      help: 'Image pulls (for updates and pre-downloads), by outcome: succeeded or failed.',
      labelNames: ['outcome'],
      registers,
      collect() {
        this.reset();
        this.inc({ outcome: 'succeeded' }, engine.pullStats.succeeded);
        this.inc({ outcome: 'failed' }, engine.pullStats.failed);
      },
    });
    new Counter({
      name: 'berth_image_pull_bytes_total',
      help: 'Bytes of image layers downloaded by pulls.',
      registers,
      collect() {
        this.reset();
        this.inc(engine.pullStats.bytes);
      },
    });
    new Counter({
      name: 'berth_image_pull_seconds_total',
      help: 'Seconds spent pulling images.',
      registers,
      collect() {
        this.reset();
        this.inc(engine.pullStats.seconds);
      },
    });
  }

  /**
   * Adds prom-client's process metrics (CPU, memory, file descriptors, event loop lag, GC).
   * Only for a berth that serves /metrics: they start observers that live as long as the process.
   */
  includeProcessMetrics(): void {
    if (this.processMetrics) return;
    this.processMetrics = true;
    collectDefaultMetrics({ register: this.registry });
  }

  /**
   * The status a pass wrote (or kept) for `stack`. `previous` is what it replaced: on the
   * first status this berth sees of a stack, history settled before then is not counted again.
   */
  observeStatus(stack: string, status: StackStatus, previous?: StackStatus): void {
    let view = this.stacks.get(stack);
    if (view === undefined) {
      const settled = new Set((previous?.status.history ?? []).filter((e) => e.outcome !== 'Progressing').map(entryKey));
      view = { status: status.status, settled };
      this.stacks.set(stack, view);
      // Present from the start at 0, so increase() sees the first apply or rollback too.
      for (const outcome of APPLY_OUTCOMES) this.applies.inc({ stack, outcome }, 0);
      for (const outcome of ROLLBACK_OUTCOMES) this.rollbacks.inc({ stack, outcome }, 0);
    }
    view.status = status.status;
    const fromStatus = status.status.lastCheckIn !== undefined ? Date.parse(status.status.lastCheckIn) : undefined;
    if (fromStatus !== undefined && !Number.isNaN(fromStatus)) view.lastCheckIn = Math.max(view.lastCheckIn ?? 0, fromStatus);
    const history = status.status.history ?? [];
    for (const e of history) {
      const outcome = OUTCOME_LABEL[e.outcome];
      const key = entryKey(e);
      if (outcome === undefined || view.settled.has(key)) continue;
      view.settled.add(key);
      (e.operation === 'rollback' ? this.rollbacks : this.applies).inc({ stack, outcome });
    }
    // Entries trimmed from the history cannot come back: forget them, so the set stays as small as the history.
    if (view.settled.size > history.length) {
      const kept = new Set(history.map(entryKey));
      for (const key of view.settled) if (!kept.has(key)) view.settled.delete(key);
    }
  }

  /** The stack's manifest is gone: its series go too. */
  forgetStack(stack: string): void {
    if (!this.stacks.delete(stack)) return;
    for (const outcome of APPLY_OUTCOMES) this.applies.remove({ stack, outcome });
    for (const outcome of ROLLBACK_OUTCOMES) this.rollbacks.remove({ stack, outcome });
  }

  /**
   * A check-in with the stack's feed was accepted. The status records it too, but a check-in
   * that brings nothing new does not rewrite the status. Ignored for a stack no pass has
   * written a status for (a check-in finishing after its manifest was removed).
   */
  checkedIn(stack: string, at: Date): void {
    const view = this.stacks.get(stack);
    if (view !== undefined) view.lastCheckIn = Math.max(view.lastCheckIn ?? 0, at.getTime());
  }

  passFinished(seconds: number, ok: boolean): void {
    this.passDuration.observe({ result: ok ? 'ok' : 'error' }, seconds);
  }

  /** The exposition text Prometheus scrapes, and its content type. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
