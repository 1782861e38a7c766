// Notifications: which events a status calls for, what each format sends, and delivery to a
// real HTTP receiver on 127.0.0.1: in order, retried with backoff, written down so a new
// notifier (a restarted berth) never sends an event twice, secrets kept out of the log.
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import type { Condition, HistoryEntry, NotifySpec, StackStatus } from '../../src/api/types.js';
import { parseNotifyConfig } from '../../src/api/validate-notify.js';
import { parseStack, parseYaml } from '../../src/api/validate.js';
import { systemClock } from '../../src/controller/clock.js';
import { notifyDefaultsFromFile } from '../../src/notify/defaults.js';
import { eventsOf } from '../../src/notify/events.js';
import { buildRequest } from '../../src/notify/format.js';
import { ledgerPath } from '../../src/notify/ledger.js';
import { Notifier, webhookTarget } from '../../src/notify/notifier.js';
import { StateStore } from '../../src/store/state.js';
import { redactingLogOptions, redactText } from '../../src/util/redact.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';
import { decide } from '../../src/plan/decide.js';
import { chooseRelease } from '../../src/plan/offer.js';
import { buildStatus } from '../../src/plan/status.js';
import { followChannel, releaseTarget } from '../../src/plan/target.js';
import { NOW, channelRelease, channelView, following, observed, record, recorded, release, runningOf, source, valid } from './fixtures.js';

const r100 = channelRelease(release('1.0.0'));

const T0 = '2026-01-02T03:00:00.000Z';
const at = (minutes: number) => new Date(Date.parse(T0) + minutes * 60_000).toISOString();

function cond(type: string, status: Condition['status'], reason: string, message = '', time = T0): Condition {
  return { type, status, reason, message, lastTransitionTime: time };
}

function statusWith(history: HistoryEntry[], extra: Partial<StackStatus['status']> = {}): StackStatus {
  return {
    apiVersion: 'berth.dev/v1alpha1',
    kind: 'StackStatus',
    metadata: { name: 'shop' },
    status: { manifest: '/nowhere/shop.yaml', conditions: [cond('Ready', 'True', 'Converged')], services: [], history, ...extra },
  };
}

const applied1: HistoryEntry = { revision: 1, version: '1.0.0', operation: 'update', started: at(0), finished: at(1), outcome: 'Healthy' };
const failed2: HistoryEntry = { revision: 2, version: '2.0.0', operation: 'update', started: at(2), finished: at(3), outcome: 'RolledBack', reason: 'Unhealthy', message: 'web is unhealthy' };
const rollback1: HistoryEntry = { revision: 1, version: '1.0.0', operation: 'rollback', started: at(3), finished: at(4), outcome: 'Healthy' };

test('the status calls for one event per outcome, oldest first: applied, failed, rolledBack', () => {
  const events = eventsOf('shop', statusWith([rollback1, failed2, applied1]));
  assert.deepEqual(
    events.map((e) => [e.event, e.version, e.key]),
    [
      ['applied', '1.0.0', `applied/update/1@${at(0)}`],
      ['failed', '2.0.0', `failed/update/2@${at(2)}`],
      ['rolledBack', '1.0.0', `rolledBack/rollback/1@${at(3)}`],
    ],
  );
  assert.equal(events[2]?.failedVersion, '2.0.0');
  assert.match(events[1]!.text, /update to version 2\.0\.0 \(revision 2\) failed \(Unhealthy: web is unhealthy\); berth rolls back/);
});

test("a rollback a person asked for names no failed version; one after a failure names that failure's", () => {
  const manual: HistoryEntry = { revision: 1, version: '1.0.0', operation: 'rollback', started: at(9), finished: at(10), outcome: 'Healthy' };
  const applied3: HistoryEntry = { revision: 3, version: '3.0.0', operation: 'update', started: at(5), finished: at(6), outcome: 'Healthy' };
  const events = eventsOf('shop', statusWith([manual, applied3, rollback1, failed2, applied1]));
  assert.deepEqual(events.filter((e) => e.event === 'rolledBack').map((e) => [e.version, e.failedVersion]), [['1.0.0', '2.0.0'], ['1.0.0', undefined]]);
});

test('an update in flight or superseded calls for nothing; a failed rollback is a failure', () => {
  const progressing: HistoryEntry = { revision: 3, version: '3.0.0', operation: 'update', started: at(5), outcome: 'Progressing' };
  const superseded: HistoryEntry = { ...progressing, revision: 4, outcome: 'Superseded', finished: at(6) };
  const rollbackFailed: HistoryEntry = { ...rollback1, started: at(7), finished: at(8), outcome: 'Failed', reason: 'Unhealthy' };
  assert.deepEqual(eventsOf('shop', statusWith([rollbackFailed, superseded, progressing])).map((e) => [e.event, e.key]), [['failed', `failed/rollback/1@${at(7)}`]]);
});

test('a waiting release is announced as available, and as awaiting approval under its version; a quarantined one is not', () => {
  const available = { version: '2.0.0', channel: 'stable', change: 'major' as const, waitingFor: 'approval: set spec.approve to "2.0.0"' };
  const s = statusWith([applied1], {
    targetVersion: '2.0.0',
    available,
    conditions: [
      cond('UpdateAvailable', 'True', 'AwaitingApproval', 'version 2.0.0 (major) on channel stable waits', at(10)),
      cond('AwaitingApproval', 'True', 'ApprovalRequired', 'version 2.0.0 from channel stable waits: approval', at(10)),
    ],
  });
  assert.deepEqual(eventsOf('shop', s).map((e) => [e.event, e.key]), [
    ['applied', `applied/update/1@${at(0)}`],
    ['updateAvailable', 'updateAvailable/2.0.0'],
    ['awaitingApproval', 'awaitingApproval/2.0.0'],
  ]);
  const quarantined = { ...s, status: { ...s.status, conditions: [cond('UpdateAvailable', 'True', 'Quarantined', 'failed')] } };
  assert.deepEqual(eventsOf('shop', quarantined).map((e) => e.event), ['applied']);
  // A pinned stack in notify mode: the target waits, no channel involved.
  const pinned = statusWith([], { targetVersion: '1.1.0', conditions: [cond('AwaitingApproval', 'True', 'ApprovalRequired', 'version 1.1.0 waits for approval')] });
  assert.deepEqual(eventsOf('shop', pinned).map((e) => e.key), ['awaitingApproval/1.1.0']);
});

test('on a status the planner builds: a channel major waiting for approval is announced under its own version, not the running one', () => {
  const rev = { ...record(releaseTarget(source(following()), r100), 1), release: releaseTarget(source(following()), r100).release! };
  const feed = [r100, channelRelease(release('2.0.0'))];
  const stack = following();
  const offer = chooseRelease({ releases: feed.map((r) => r.release), current: '1.0.0', spec: stack.spec, now: NOW });
  const view = channelView({ ...(offer.available !== undefined ? { available: offer.available } : {}) });
  const t = followChannel(source(stack), offer, feed, rev, view);
  const running = observed(runningOf(rev, { web: { health: 'healthy' } }));
  const desired = valid(t);
  const p = decide({ desired, recorded: recorded(rev), observed: running, progress: { history: [], revision: 1 }, now: NOW });
  const s = buildStatus({ name: 'shop', desired, recorded: recorded(rev), observed: running, plan: p, progress: p.progress, now: NOW });
  assert.equal(s.status.targetVersion, '1.0.0');
  assert.deepEqual(eventsOf('shop', s).map((e) => e.key), ['updateAvailable/2.0.0', 'awaitingApproval/2.0.0']);
});

test('formats: slack {text}, discord {content} (2000 characters at most), ntfy text with Title/Tags/Priority and a Bearer token, json signed', () => {
  const [, failed] = eventsOf('shop', statusWith([failed2, applied1]));
  const now = new Date(at(20));
  const opts = { instance: 'host-1', now, userAgent: 'berth/test' };
  const slack = buildRequest('slack', failed!, opts);
  assert.deepEqual(JSON.parse(slack.body), { text: failed!.text });
  assert.equal(slack.headers['content-type'], 'application/json');
  const long = { ...failed!, text: 'x'.repeat(5000) };
  assert.equal((JSON.parse(buildRequest('discord', long, opts).body) as { content: string }).content.length, 2000);
  const ntfy = buildRequest('ntfy', failed!, { ...opts, secret: 'tk_ntfy-token' });
  assert.equal(ntfy.body, failed!.text);
  assert.equal(ntfy.headers['title'], 'berth: shop update failed (2.0.0)');
  assert.equal(ntfy.headers['tags'], 'x');
  assert.equal(ntfy.headers['priority'], 'high');
  assert.equal(ntfy.headers['authorization'], 'Bearer tk_ntfy-token');
  const json = buildRequest('json', failed!, { ...opts, secret: 'k3y-of-the-hook' });
  const t = Math.floor(now.getTime() / 1000);
  assert.equal(json.headers['x-berth-signature'], `t=${t},v1=${createHmac('sha256', 'k3y-of-the-hook').update(`${t}.${json.body}`).digest('hex')}`);
  const doc = JSON.parse(json.body) as Record<string, unknown>;
  assert.deepEqual([doc['kind'], doc['event'], doc['stack'], doc['version'], doc['revision'], doc['reason'], doc['instance']], ['Notification', 'failed', 'shop', '2.0.0', 2, 'Unhealthy', 'host-1']);
  // The same event has the same id on every attempt; unsigned without a secret.
  assert.equal(doc['id'], (JSON.parse(buildRequest('json', failed!, opts).body) as Record<string, unknown>)['id']);
  assert.equal(buildRequest('json', failed!, opts).headers['x-berth-signature'], undefined);
});

test('webhook URLs are shown without their credentials: userinfo and query tokens, and the path of slack/discord hooks', () => {
  assert.equal(webhookTarget({ url: 'https://u:p@hooks.example.com/in?token=abc&x=1', format: 'json' }), 'https://***@hooks.example.com/in?token=***&x=1');
  assert.equal(webhookTarget({ url: 'https://hooks.slack.com/services/T0/B0/XXXX', format: 'slack' }), 'https://hooks.slack.com/***');
  assert.equal(webhookTarget({ url: 'https://discord.com/api/webhooks/1/tok', format: 'discord' }), 'https://discord.com/***');
});

test('spec.notify and the defaults file share one schema: one secret source at most, known events only', () => {
  const stack = (notify: unknown) =>
    parseStack('s.yaml', JSON.stringify({ apiVersion: 'berth.dev/v1alpha1', kind: 'Stack', metadata: { name: 's' }, spec: { compose: {}, version: '1', notify } }));
  const ok = stack([{ url: 'https://h.example/x', secretEnv: 'HOOK_SECRET', events: ['failed'] }]);
  assert.deepEqual(ok.spec.notify, [{ url: 'https://h.example/x', secretEnv: 'HOOK_SECRET', events: ['failed'], format: 'json', timeoutSeconds: 10 }]);
  assert.throws(() => stack([{ url: 'https://h.example/x', secret: 'a', secretFile: 'b' }]), /spec\.notify\.0: names its secret more than once/);
  assert.throws(() => stack([{ url: 'https://h.example/x', events: ['exploded'] }]), /spec\.notify\.0\.events\.0: must be one of/);
  assert.throws(() => stack([{ url: 'ftp://h.example/x' }]), /spec\.notify\.0\.url/);
  assert.deepEqual(parseNotifyConfig('n.yaml', 'notify:\n  - url: http://127.0.0.1/x\n    format: ntfy\n'), [{ url: 'http://127.0.0.1/x', format: 'ntfy', timeoutSeconds: 10 }]);
  assert.throws(() => parseNotifyConfig('n.yaml', 'hooks: []\n'), /n\.yaml: .*notify: is required|hooks: is not a known field/);
});

// Delivery, against a real receiver.
let dir: string;
let receiver: WebhookReceiver;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-notify-unit-'));
  receiver = await WebhookReceiver.start();
});
after(async () => {
  await receiver.close();
  await rm(dir, { recursive: true, force: true });
});

/** A logger whose lines the test reads, redacting as berth's does. */
function capture(): { log: pino.Logger; lines: () => string[] } {
  const out: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      out.push(...chunk.toString('utf8').split('\n').filter((l) => l !== ''));
      done();
    },
  });
  return { log: pino({ level: 'debug', ...redactingLogOptions }, sink), lines: () => out };
}

/** A webhook as validation leaves it: format and timeout defaulted. */
const hook = (o: Partial<NotifySpec[number]> & { url: string }): NotifySpec[number] => ({ format: 'json', timeoutSeconds: 5, ...o });

function notifier(stateDir: string, log: pino.Logger, more: Partial<ConstructorParameters<typeof Notifier>[0]> = {}): Notifier {
  return new Notifier({ state: new StateStore(stateDir), log, clock: systemClock, instance: 'host-1', backoffMs: 20, maxBackoffMs: 100, ...more });
}

test('each event reaches the webhook once, in order, after failed attempts; a new notifier on the same state sends nothing again', async () => {
  const state = join(dir, 'once');
  const path = '/once';
  let calls = 0;
  receiver.answer = (r) => (r.path === path && calls++ < 2 ? 500 : 200);
  const notify: NotifySpec = [hook({ url: `${receiver.url}${path}` })];
  const { log, lines } = capture();
  const status = statusWith([rollback1, failed2, applied1]);
  // The outcomes finished before this notifier started: a webhook new to it would not hear them.
  const n = notifier(state, log, { clock: { ...systemClock, now: () => new Date(T0) } });
  await n.consider('shop', status, notify);
  await receiver.waitFor('three events', (r) => r.accepted(path).length === 3, 10_000);
  const got = receiver.accepted(path).map((r) => (JSON.parse(r.body) as { event: string }).event);
  assert.deepEqual(got, ['applied', 'failed', 'rolledBack']);
  assert.equal(receiver.received.filter((r) => r.path === path).length, 5, 'two refused attempts, then three deliveries');
  const refusals = lines().filter((l) => l.includes('"level":40') && l.includes('HTTP 500')).map((l) => JSON.parse(l) as { attempt: number; retryInMs: number });
  // Exponential backoff: 20 ms, then 40 ms (backoffMs 20, doubling).
  assert.deepEqual(refusals.map((r) => [r.attempt, r.retryInMs]), [[1, 20], [2, 40]]);
  // The last delivery is written down once its round ends (a crash before that repeats it: at least once).
  await n.idle();
  assert.equal((await stat(ledgerPath(new StateStore(state), 'shop'))).mode & 0o777, 0o600);
  n.stop();

  // berth restarted: the ledger says what was heard.
  const again = notifier(state, log);
  await again.consider('shop', status, notify);
  await again.idle();
  assert.equal(receiver.accepted(path).length, 3);
  again.stop();
});

test('webhooks of one stack deliver side by side and the ledger keeps what each heard', async () => {
  receiver.answer = () => 200;
  const state = join(dir, 'two');
  const notify = ['/two-a', '/two-b', '/two-c'].map((p) => hook({ url: `${receiver.url}${p}` }));
  const { log } = capture();
  const status = statusWith([rollback1, failed2, applied1]);
  const n = notifier(state, log, { clock: { ...systemClock, now: () => new Date(T0) } });
  await n.consider('shop', status, notify);
  await n.idle();
  n.stop();
  const ledger = parseYaml('notify.yaml', await readFile(ledgerPath(new StateStore(state), 'shop'), 'utf8')) as { webhooks: Record<string, { delivered: string[] }> };
  assert.deepEqual(Object.values(ledger.webhooks).map((w) => w.delivered.length), [3, 3, 3]);
  const again = notifier(state, log);
  await again.consider('shop', status, notify);
  await again.idle();
  again.stop();
  for (const p of ['/two-a', '/two-b', '/two-c']) assert.equal(receiver.accepted(p).length, 3, p);
});

test('a webhook added later hears outcomes from then on and the states that hold now, not old outcomes', async () => {
  const path = '/late';
  receiver.answer = () => 200;
  const { log } = capture();
  const n = notifier(join(dir, 'late'), log);
  const waiting = statusWith([applied1], {
    targetVersion: '1.1.0',
    conditions: [cond('AwaitingApproval', 'True', 'ApprovalRequired', 'version 1.1.0 waits for approval')],
  });
  await n.consider('shop', waiting, [hook({ url: `${receiver.url}${path}` })]);
  await n.idle();
  assert.deepEqual(receiver.accepted(path).map((r) => (JSON.parse(r.body) as { event: string }).event), ['awaitingApproval']);
  const now = new Date().toISOString();
  const applied2: HistoryEntry = { revision: 2, version: '1.1.0', operation: 'update', started: now, finished: now, outcome: 'Healthy' };
  await n.consider('shop', statusWith([applied2, applied1]), [hook({ url: `${receiver.url}${path}` })]);
  await n.idle();
  assert.deepEqual(receiver.accepted(path).map((r) => (JSON.parse(r.body) as { event: string; version: string }).version), ['1.1.0', '1.1.0']);
  n.stop();
});

test('defaults from --notify-config: slack and ntfy shapes, events filtered, the ntfy token from the environment; spec.notify: [] opts out', async () => {
  receiver.answer = () => 200;
  const config = join(dir, 'notify.yaml');
  await writeFile(
    config,
    `notify:\n  - url: ${receiver.url}/slack\n    format: slack\n    events: [failed]\n  - url: ${receiver.url}/ntfy/berth\n    format: ntfy\n    secretEnv: NTFY_TOKEN\n`,
  );
  const { log } = capture();
  const n = notifier(join(dir, 'defaults'), log, { defaults: notifyDefaultsFromFile(config, log), env: { NTFY_TOKEN: 'tk_from_the_env' }, clock: { ...systemClock, now: () => new Date(T0) } });
  await n.consider('shop', statusWith([failed2, applied1]), undefined);
  await n.idle();
  const slack = receiver.accepted('/slack');
  assert.equal(slack.length, 1, 'slack hears only failed');
  assert.equal(redactText(`posting to ${receiver.url}/slack failed`), 'posting to *** failed', "a slack hook's URL is a credential");
  assert.match((JSON.parse(slack[0]!.body) as { text: string }).text, /^shop: the update to version 2\.0\.0 \(revision 2\) failed/);
  const ntfy = receiver.accepted('/ntfy/berth');
  assert.deepEqual(ntfy.map((r) => r.headers['title']), ['berth: shop update applied (1.0.0)', 'berth: shop update failed (2.0.0)']);
  assert.deepEqual(ntfy.map((r) => r.headers['tags']), ['white_check_mark', 'x']);
  assert.equal(ntfy[0]!.headers['authorization'], 'Bearer tk_from_the_env');
  assert.match(ntfy[0]!.body, /^shop: version 1\.0\.0 applied as revision 1/);
  n.stop();

  const before = receiver.received.length;
  const none = notifier(join(dir, 'optout'), log, { defaults: notifyDefaultsFromFile(config, log), clock: { ...systemClock, now: () => new Date(T0) } });
  await none.consider('shop', statusWith([failed2, applied1]), []);
  await none.idle();
  assert.equal(receiver.received.length, before);
  none.stop();
});

test('secrets stay out of the log, whatever the receiver answers; a missing secret sends nothing unsigned', async () => {
  const secretFile = join(dir, 'hook.secret');
  const secret = 'whsec_from_a_file_42';
  await writeFile(secretFile, `${secret}\n`, { mode: 0o600 });
  const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  // A receiver that quotes back what it got (its Authorization header) and a private key.
  receiver.answer = () => 500;
  const { log, lines } = capture();
  const n = notifier(join(dir, 'secrets'), log, { once: true, clock: { ...systemClock, now: () => new Date(T0) } });
  await n.consider('shop', statusWith([applied1]), [hook({ url: `${receiver.url}/echo`, format: 'ntfy', secretFile })]);
  await n.idle();
  assert.equal(receiver.received.filter((r) => r.path === '/echo').length, 1);
  assert.equal(receiver.received.find((r) => r.path === '/echo')?.headers['authorization'], `Bearer ${secret}`);
  // The same secret quoted anywhere in a later line (an answer, an error) is replaced.
  log.warn({ answer: `denied ${secret} ${pem}` }, `the receiver said ${secret}`);
  const text = lines().join('\n');
  assert.ok(!text.includes(secret), text);
  assert.ok(!text.includes('PRIVATE KEY') && !text.includes(pem.split('\n')[1]!), text);
  n.stop();

  const before = receiver.received.length;
  const { log: log2, lines: lines2 } = capture();
  const m = notifier(join(dir, 'nosecret'), log2, { once: true, env: {}, clock: { ...systemClock, now: () => new Date(T0) } });
  await m.consider('shop', statusWith([applied1]), [hook({ url: `${receiver.url}/unsigned`, secretEnv: 'MISSING_HOOK_SECRET' })]);
  await m.idle();
  assert.equal(receiver.received.length, before, 'nothing was sent unsigned');
  assert.match(lines2().join('\n'), /MISSING_HOOK_SECRET is not set in berth's environment; nothing is sent unsigned/);
  m.stop();
  assert.ok((await readFile(ledgerPath(new StateStore(join(dir, 'nosecret')), 'shop'), 'utf8')).includes('delivered: []'));
});

test("the README's notification examples are valid as written", async () => {
  const readme = await readFile(join(import.meta.dirname, '..', '..', '..', 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Notifications'), readme.indexOf('## Logs'));
  const blocks = [...section.matchAll(/```yaml\n([^]*?)```/g)].map((m) => m[1]!);
  assert.equal(blocks.length, 2);
  const spec = parseYaml('README.md', blocks[0]!) as { spec: { notify: unknown } };
  const stack = parseStack('README.md', JSON.stringify({ apiVersion: 'berth.dev/v1alpha1', kind: 'Stack', metadata: { name: 'shop' }, spec: { compose: {}, version: '1.0.0', notify: spec.spec.notify } }));
  assert.deepEqual(stack.spec.notify?.map((h) => h.format), ['json', 'slack', 'ntfy']);
  assert.equal(parseNotifyConfig('README.md', blocks[1]!)[0]?.secretFile, 'ntfy.token');
});

test('--notify-config that is missing or invalid at start is an error naming the file; a later bad edit is logged and skipped', async () => {
  const { openNotifyDefaults } = await import('../../src/notify/defaults.js');
  const { log, lines } = capture();
  await assert.rejects(openNotifyDefaults(join(dir, 'no-such-notify.yaml'), log), /cannot read the notification defaults .*no-such-notify\.yaml \(ENOENT\): check --notify-config/);
  const file = join(dir, 'bad-notify.yaml');
  await writeFile(file, 'notify:\n  - url: ftp://x\n');
  await assert.rejects(openNotifyDefaults(file, log), /bad-notify\.yaml: notify\.0\.url: must match/);
  await writeFile(file, 'notify:\n  - url: http://127.0.0.1:1/x\n');
  const defaults = await openNotifyDefaults(file, log);
  assert.equal((await defaults.webhooks())?.webhooks.length, 1);
  await writeFile(file, 'notify: nope\n');
  assert.equal(await defaults.webhooks(), undefined);
  assert.equal(await defaults.webhooks(), undefined);
  assert.equal(lines().filter((l) => l.includes('cannot use the notification defaults')).length, 1, 'told once');
});
