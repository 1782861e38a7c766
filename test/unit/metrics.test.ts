// berth's Prometheus series: what the exposition says for a given set of statuses (names,
// labels, types), how applies and rollbacks are counted from the history a status settles,
// and that a removed stack leaves no series behind.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { register as globalRegistry } from 'prom-client';
import type { HistoryEntry, StackStatus } from '../../src/api/types.js';
import { Metrics, type EngineCounters } from '../../src/controller/metrics.js';
import { startWebServer } from '../../src/web/server.js';
import { metricsRoute } from '../../src/web/metrics-route.js';

const T0 = '2026-01-02T03:00:00.000Z';

type Body = StackStatus['status'];
type Ready = { status: 'True' | 'False' | 'Unknown'; reason: string };

function status(name: string, body: Partial<Body> & { ready?: Ready; updateAvailable?: boolean; awaitingApproval?: boolean }): StackStatus {
  const { ready, updateAvailable, awaitingApproval, ...rest } = body;
  const cond = (type: string, s: 'True' | 'False' | 'Unknown', reason: string) => ({ type, status: s, reason, message: '', lastTransitionTime: T0 });
  return {
    apiVersion: 'berth.dev/v1alpha1',
    kind: 'StackStatus',
    metadata: { name },
    status: {
      services: [],
      conditions: [
        cond('Ready', ready?.status ?? 'True', ready?.reason ?? 'Converged'),
        ...(updateAvailable !== undefined ? [cond('UpdateAvailable', updateAvailable ? 'True' : 'False', updateAvailable ? 'Waiting' : 'UpToDate')] : []),
        ...(awaitingApproval !== undefined ? [cond('AwaitingApproval', awaitingApproval ? 'True' : 'False', awaitingApproval ? 'ApprovalRequired' : 'NothingToApprove')] : []),
      ],
      ...rest,
    },
  };
}

function entry(operation: 'update' | 'rollback', revision: number, version: string, outcome: HistoryEntry['outcome'], started = T0): HistoryEntry {
  return { operation, revision, version, outcome, started };
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of an exposition text (the text format is line-based; label values here hold no quotes). */
function parse(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_]+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { samples, types };
}

async function scrape(metrics: Metrics): Promise<{ samples: Sample[]; types: Map<string, string>; text: string }> {
  const { body } = await metrics.exposition();
  return { ...parse(body), text: body };
}

/** The samples of one series whose labels include `labels`. */
function find(samples: Sample[], name: string, labels: Record<string, string> = {}): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = find(samples, name, labels);
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
  return found[0]?.value;
}

describe('berth metrics', () => {
  test('every stack has ready, info, revision, update-available, approval and check-in series derived from its status', async () => {
    const m = new Metrics();
    m.observeStatus(
      'shop',
      status('shop', {
        mode: 'notify',
        currentVersion: '1.1.0',
        targetVersion: '1.1.0',
        revision: 3,
        lastGoodRevision: 3,
        available: { version: '2.0.0', channel: 'stable' },
        lastCheckIn: '2026-01-02T03:04:05.000Z',
        updateAvailable: true,
        awaitingApproval: true,
      }),
    );
    m.observeStatus('blog', status('blog', { mode: 'auto', currentVersion: '0.9.0', targetVersion: '1.0.0', revision: 2, lastGoodRevision: 1, ready: { status: 'False', reason: 'RolledBack' } }));
    const { samples, types } = await scrape(m);

    assert.equal(types.get('berth_stack_ready'), 'gauge');
    assert.equal(value(samples, 'berth_stack_ready', { stack: 'shop', reason: 'Converged' }), 1);
    assert.equal(value(samples, 'berth_stack_ready', { stack: 'blog', reason: 'RolledBack' }), 0);

    assert.equal(types.get('berth_stack_info'), 'gauge');
    assert.deepEqual(find(samples, 'berth_stack_info', { stack: 'shop' }), [
      { name: 'berth_stack_info', labels: { stack: 'shop', mode: 'notify', current_version: '1.1.0', target_version: '1.1.0', available_version: '2.0.0' }, value: 1 },
    ]);
    assert.deepEqual(find(samples, 'berth_stack_info', { stack: 'blog' })[0]?.labels, {
      stack: 'blog',
      mode: 'auto',
      current_version: '0.9.0',
      target_version: '1.0.0',
      available_version: '',
    });

    assert.equal(value(samples, 'berth_stack_revision', { stack: 'shop' }), 3);
    assert.equal(value(samples, 'berth_stack_revision', { stack: 'blog' }), 2);
    assert.equal(value(samples, 'berth_stack_last_good_revision', { stack: 'blog' }), 1);
    assert.equal(value(samples, 'berth_stack_update_available', { stack: 'shop' }), 1);
    assert.equal(value(samples, 'berth_stack_update_available', { stack: 'blog' }), 0);
    assert.equal(value(samples, 'berth_stack_awaiting_approval', { stack: 'shop' }), 1);
    assert.equal(value(samples, 'berth_stack_awaiting_approval', { stack: 'blog' }), 0);
    assert.equal(value(samples, 'berth_stack_last_checkin_timestamp_seconds', { stack: 'shop' }), Date.parse('2026-01-02T03:04:05.000Z') / 1000);
    assert.equal(value(samples, 'berth_stack_last_checkin_timestamp_seconds', { stack: 'blog' }), undefined, 'a stack without a channel has no check-in series');

    for (const name of ['berth_applies_total', 'berth_rollbacks_total']) assert.equal(types.get(name), 'counter');
    // Every outcome is there from the first status on, at 0, so increase() sees the first one too.
    assert.deepEqual(find(samples, 'berth_applies_total', { stack: 'blog' }).map((s) => [s.labels['outcome'], s.value]), [
      ['succeeded', 0],
      ['failed', 0],
      ['superseded', 0],
    ]);
    assert.deepEqual(find(samples, 'berth_rollbacks_total', { stack: 'blog' }).map((s) => [s.labels['outcome'], s.value]), [
      ['succeeded', 0],
      ['failed', 0],
    ]);
    assert.equal(types.get('berth_reconcile_duration_seconds'), 'histogram');
  });

  test('a changed Ready reason or version replaces the old series instead of leaving it beside the new one', async () => {
    const m = new Metrics();
    m.observeStatus('shop', status('shop', { currentVersion: '1.0.0', ready: { status: 'False', reason: 'Progressing' } }));
    m.observeStatus('shop', status('shop', { currentVersion: '1.1.0', ready: { status: 'True', reason: 'Converged' } }));
    const { samples } = await scrape(m);
    assert.deepEqual(find(samples, 'berth_stack_ready', { stack: 'shop' }).map((s) => [s.labels['reason'], s.value]), [['Converged', 1]]);
    assert.deepEqual(find(samples, 'berth_stack_info', { stack: 'shop' }).map((s) => s.labels['current_version']), ['1.1.0']);
  });

  test('a removed stack loses every series, counters included, while other stacks keep theirs', async () => {
    const m = new Metrics();
    m.observeStatus('shop', status('shop', { revision: 1, currentVersion: '1.0.0', history: [entry('update', 1, '1.0.0', 'Progressing')] }));
    m.observeStatus('shop', status('shop', { revision: 1, currentVersion: '1.0.0', lastCheckIn: T0, history: [entry('update', 1, '1.0.0', 'Healthy')] }));
    m.observeStatus('blog', status('blog', { revision: 4 }));
    assert.equal(value((await scrape(m)).samples, 'berth_applies_total', { stack: 'shop', outcome: 'succeeded' }), 1);

    m.forgetStack('shop');
    const { samples, text } = await scrape(m);
    assert.deepEqual(
      samples.filter((s) => s.labels['stack'] === 'shop'),
      [],
      `series of the removed stack remain:\n${text}`,
    );
    assert.equal(value(samples, 'berth_stack_revision', { stack: 'blog' }), 4);
    // A check-in that finishes after the manifest went does not bring the stack back.
    m.checkedIn('shop', new Date(T0));
    assert.deepEqual((await scrape(m)).samples.filter((s) => s.labels['stack'] === 'shop'), []);
  });

  test('applies and rollbacks are counted once each, when their history entry settles', async () => {
    const m = new Metrics();
    const v1 = entry('update', 1, '1.0.0', 'Healthy', '2026-01-02T03:00:00.000Z');
    // Settled before this berth started: not counted again after a restart.
    m.observeStatus('shop', status('shop', { history: [v1] }), status('shop', { history: [v1] }));
    const v2 = (outcome: HistoryEntry['outcome']) => entry('update', 2, '2.0.0', outcome, '2026-01-02T03:10:00.000Z');
    const back = (outcome: HistoryEntry['outcome']) => entry('rollback', 1, '1.0.0', outcome, '2026-01-02T03:11:00.000Z');
    m.observeStatus('shop', status('shop', { history: [v2('Progressing'), v1] }));
    m.observeStatus('shop', status('shop', { history: [v2('Failed'), v1] }));
    // The failed update is marked rolled back once the rollback begins: still one failed apply.
    m.observeStatus('shop', status('shop', { history: [back('Progressing'), v2('RolledBack'), v1] }));
    m.observeStatus('shop', status('shop', { history: [back('Healthy'), v2('RolledBack'), v1] }));
    m.observeStatus('shop', status('shop', { history: [back('Healthy'), v2('RolledBack'), v1] }));
    // A retry of the same revision is a new apply.
    const retry = entry('update', 2, '2.0.0', 'Healthy', '2026-01-02T03:20:00.000Z');
    m.observeStatus('shop', status('shop', { history: [retry, back('Healthy'), v2('RolledBack'), v1] }));

    const { samples } = await scrape(m);
    assert.equal(value(samples, 'berth_applies_total', { stack: 'shop', outcome: 'failed' }), 1);
    assert.equal(value(samples, 'berth_applies_total', { stack: 'shop', outcome: 'succeeded' }), 1);
    assert.equal(value(samples, 'berth_rollbacks_total', { stack: 'shop', outcome: 'succeeded' }), 1);
    assert.equal(value(samples, 'berth_rollbacks_total', { stack: 'shop', outcome: 'failed' }), 0);
    assert.equal(value(samples, 'berth_applies_total', { stack: 'shop', outcome: 'superseded' }), 0);
  });

  test('the first status of a new stack counts what it settled', async () => {
    const m = new Metrics();
    m.observeStatus('new', status('new', { history: [entry('update', 1, '1.0.0', 'Healthy')] }), undefined);
    assert.equal(value((await scrape(m)).samples, 'berth_applies_total', { stack: 'new', outcome: 'succeeded' }), 1);
  });

  test('the last check-in is the newest of the status and the check-ins that changed nothing', async () => {
    const m = new Metrics();
    m.observeStatus('shop', status('shop', { lastCheckIn: '2026-01-02T03:00:00.000Z' }));
    m.checkedIn('shop', new Date('2026-01-02T03:05:00.000Z'));
    // A later pass rewrites the status with the check-in it last acted on: the newer one stays.
    m.observeStatus('shop', status('shop', { lastCheckIn: '2026-01-02T03:00:00.000Z' }));
    assert.equal(value((await scrape(m)).samples, 'berth_stack_last_checkin_timestamp_seconds', { stack: 'shop' }), Date.parse('2026-01-02T03:05:00.000Z') / 1000);
  });

  test('engine calls by kind and image pulls are read from the engine\'s own counters when scraped', async () => {
    const engine: EngineCounters = {
      callsByKind: new Map([
        ['list_containers', 7],
        ['pull', 2],
      ]),
      pullStats: { succeeded: 1, failed: 1, bytes: 4096, seconds: 1.5 },
    };
    const m = new Metrics({ engine });
    const { samples, types } = await scrape(m);
    assert.equal(types.get('berth_engine_calls_total'), 'counter');
    assert.equal(value(samples, 'berth_engine_calls_total', { kind: 'list_containers' }), 7);
    assert.equal(value(samples, 'berth_engine_calls_total', { kind: 'pull' }), 2);
    assert.equal(value(samples, 'berth_image_pulls_total', { outcome: 'succeeded' }), 1);
    assert.equal(value(samples, 'berth_image_pulls_total', { outcome: 'failed' }), 1);
    assert.equal(value(samples, 'berth_image_pull_bytes_total'), 4096);
    assert.equal(value(samples, 'berth_image_pull_seconds_total'), 1.5);
    (engine.callsByKind as Map<string, number>).set('list_containers', 9);
    assert.equal(value((await scrape(m)).samples, 'berth_engine_calls_total', { kind: 'list_containers' }), 9);
  });

  test('reconcile passes land in the duration histogram by result', async () => {
    const m = new Metrics();
    m.passFinished(0.02, true);
    m.passFinished(0.3, true);
    m.passFinished(4, false);
    const { samples } = await scrape(m);
    assert.equal(value(samples, 'berth_reconcile_duration_seconds_count', { result: 'ok' }), 2);
    assert.equal(value(samples, 'berth_reconcile_duration_seconds_count', { result: 'error' }), 1);
    assert.equal(value(samples, 'berth_reconcile_duration_seconds_bucket', { result: 'ok', le: '0.05' }), 1);
  });

  test('each operator has a registry of its own: two never collide, and the global one stays empty of berth series', async () => {
    const a = new Metrics();
    const b = new Metrics();
    a.observeStatus('shop', status('shop', { revision: 1 }));
    assert.equal(find((await scrape(b)).samples, 'berth_stack_revision').length, 0);
    assert.doesNotMatch(await globalRegistry.metrics(), /berth_/);
  });

  test('GET /metrics serves the exposition with process metrics, in Prometheus\' text format', async () => {
    const m = new Metrics();
    m.observeStatus('shop', status('shop', { revision: 5 }));
    const server = await startWebServer({ addr: '127.0.0.1:0', log: pino({ level: 'silent' }), ready: () => true, routes: [metricsRoute(m)] });
    try {
      const res = await fetch(`${server.url}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const text = await res.text();
      assert.equal(value(parse(text).samples, 'berth_stack_revision', { stack: 'shop' }), 5);
      assert.match(text, /^process_cpu_user_seconds_total /m);
      assert.match(text, /^nodejs_heap_size_used_bytes /m);
    } finally {
      await server.close();
    }
  });
});
