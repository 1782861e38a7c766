// Notifications from a real `berth run` process to a real webhook receiver on 127.0.0.1:
// every outcome is delivered once (an apply; a failed update that is rolled back: failed,
// then rolledBack), also when the receiver fails the first attempts and berth is SIGKILLed
// and started again in the middle of delivering. The JSON is signed (HMAC-SHA256 over the
// timestamp and body), the secret never reaches the log, and every log line is JSON.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse, stringify } from 'yaml';
import type { StackStatus } from '../../src/api/types.js';
import { BerthProcess, berthDirs, killAllBerthProcesses } from '../support/berth-process.js';
import { removeProject, requireEngine, uniqueName } from '../support/engine.js';
import { composeFile, condition, stackManifest, type StackFields } from '../support/harness.js';
import { buildTestImage, removeTestImages, type TestImage } from '../support/images.js';
import { WebhookReceiver, type Received } from '../support/webhook-receiver.js';

const SECRET = 'whsec-notify-test-0123456789';
const name = uniqueName('notify');
let dir: string | undefined;
let good: TestImage;
let good2: TestImage;
let sick: TestImage;
let receiver: WebhookReceiver;

before(async () => {
  await requireEngine();
  dir = await mkdtemp(join(tmpdir(), 'berth-notify-'));
  good = await buildTestImage({ name, variant: 'good', health: 'healthy' });
  good2 = await buildTestImage({ name, variant: 'good2', health: 'healthy' });
  sick = await buildTestImage({ name, variant: 'sick', health: 'unhealthy' });
  receiver = await WebhookReceiver.start();
});

after(async () => {
  await killAllBerthProcesses();
  await receiver?.close();
  await removeProject(name);
  await removeTestImages([good, good2, sick].filter(Boolean));
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** A Stack manifest with spec.notify added (the harness's helper knows the other fields). */
function withNotify(f: StackFields, notify: unknown[]): string {
  const doc = parse(stackManifest(f)) as { spec: Record<string, unknown> };
  doc.spec['notify'] = notify;
  return stringify(doc);
}

interface Doc {
  id: string;
  event: string;
  stack: string;
  version: string;
  revision?: number;
  failedVersion?: string;
}
const docOf = (r: Received): Doc => JSON.parse(r.body) as Doc;
const eventsAt = (path: string): string[] => receiver.accepted(path).map((r) => `${docOf(r).event} ${docOf(r).version}`);

async function statusOf(state: string): Promise<StackStatus | undefined> {
  const text = await readFile(join(state, name, 'status.yaml'), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : (parse(text) as StackStatus);
}

async function waitForStatus(p: BerthProcess, state: string, what: string, check: (s: StackStatus) => boolean): Promise<void> {
  for (let i = 0; i < 900; i++) {
    const s = await statusOf(state);
    if (s !== undefined && check(s)) return;
    assert.equal(p.exit, undefined, `berth exited while waiting for ${what}:\n${await p.logTail()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`the stack did not reach ${what}; log tail:\n${await p.logTail()}`);
}

test('each outcome reaches the webhook exactly once, signed, across a SIGKILL in the middle of delivery', async () => {
  const d = await berthDirs(dir, 'restart');
  await mkdir(join(d.manifests, name));
  await writeFile(join(d.manifests, name, 'compose.yaml'), composeFile({ web: 'placeholder' }));
  // The secret sits beside the manifest, not in it.
  await writeFile(join(d.manifests, 'hook.secret'), `${SECRET}\n`, { mode: 0o600 });
  const notify = [{ url: `${receiver.url}/hook`, secretFile: 'hook.secret', timeoutSeconds: 2 }];
  const manifest = join(d.manifests, `${name}.yaml`);
  await writeFile(manifest, withNotify({ name, version: '1.0.0', images: { web: good.pinned } }, notify));

  let p = BerthProcess.start(d);
  await p.started();
  await receiver.waitFor('applied 1.0.0', () => eventsAt('/hook').includes('applied 1.0.0'));

  // The receiver now fails: its first answer never comes (berth times out), then HTTP 500.
  let failing = 0;
  receiver.answer = () => (failing++ === 0 ? 'hang' : 500);
  await writeFile(manifest, withNotify({ name, version: '2.0.0', images: { web: sick.pinned }, health: { progressDeadlineSeconds: 30 } }, notify));
  await waitForStatus(p, d.state, 'rolled back to 1.0.0', (s) => condition(s, 'Degraded')?.reason === 'RolledBack' && s.status.operation === undefined && s.status.currentVersion === '1.0.0');
  await receiver.waitFor('two failed attempts', () => receiver.received.filter((r) => r.path === '/hook' && r.answered !== 200).length >= 2);
  await p.kill('SIGKILL');
  assert.deepEqual(eventsAt('/hook'), ['applied 1.0.0'], 'nothing of the failed update was accepted before the kill');

  // A new berth on the same state folder; the receiver takes everything now.
  receiver.answer = () => 200;
  p = BerthProcess.start({ ...d, logFile: `${d.logFile}.2` });
  await p.started();
  await receiver.waitFor('failed 2.0.0 and rolledBack 1.0.0', () => eventsAt('/hook').includes('rolledBack 1.0.0'));

  // A later update is the barrier: a webhook hears its events in order, so any second copy of
  // an earlier event would have come before this one.
  await writeFile(manifest, withNotify({ name, version: '3.0.0', images: { web: good2.pinned } }, notify));
  await receiver.waitFor('applied 3.0.0', () => eventsAt('/hook').includes('applied 3.0.0'));
  assert.deepEqual(eventsAt('/hook'), ['applied 1.0.0', 'failed 2.0.0', 'rolledBack 1.0.0', 'applied 3.0.0']);
  const accepted = receiver.accepted('/hook');
  assert.equal(new Set(accepted.map((r) => docOf(r).id)).size, accepted.length, 'every delivery id is distinct');
  const rolledBack = accepted.map(docOf).find((x) => x.event === 'rolledBack');
  assert.equal(rolledBack?.failedVersion, '2.0.0');

  // Every request is signed: t=<unix s>,v1=HMAC-SHA256(secret, "<t>.<body>").
  for (const r of receiver.received.filter((x) => x.path === '/hook')) {
    const sig = String(r.headers['x-berth-signature']);
    const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(sig);
    assert.ok(m, `signature header: ${sig}`);
    const want = createHmac('sha256', SECRET).update(`${m[1]}.${r.body}`).digest('hex');
    assert.equal(m[2], want, 'the HMAC verifies');
    assert.equal(r.headers['x-berth-event'], JSON.parse(r.body).event);
    assert.equal(r.headers['x-berth-delivery'], JSON.parse(r.body).id);
  }
  await p.stop();

  // The log: JSON lines only (no plain-text warning from undici on stderr), no secret, and
  // the failed update and its rollback above info level.
  const lines = `${await readFile(d.logFile, 'utf8')}${await readFile(`${d.logFile}.2`, 'utf8')}`.split('\n').filter((l) => l !== '');
  for (const l of lines) assert.doesNotThrow(() => JSON.parse(l), `a log line that is not JSON: ${l}`);
  assert.ok(!lines.some((l) => l.includes(SECRET)), 'the webhook secret appears in the log');
  const records = lines.map((l) => JSON.parse(l) as { level: number; msg: string; action?: string; reason?: string; event?: string });
  const rollback = records.find((r) => r.action === 'rollback');
  assert.equal(rollback?.level, 40, `the rollback is logged at warn: ${JSON.stringify(rollback)}`);
  assert.match(rollback.msg, /revision 2 \(version 2\.0\.0\) failed/);
  assert.ok(records.some((r) => r.reason === 'RolledBack' && r.level === 40), 'Ready turning RolledBack is logged at warn');
  assert.ok(records.some((r) => r.level === 40 && r.event === 'failed' && /notifying .* failed/.test(r.msg)), 'a failed delivery is logged at warn');
  // The ledger: private to berth.
  const ledger = await readFile(join(d.state, name, 'notify.yaml'), 'utf8');
  assert.ok(!ledger.includes(SECRET));
});

test('berth run --notify-config: the defaults reach a stack without spec.notify, in the slack shape', async () => {
  const d = await berthDirs(dir, 'defaults');
  const other = uniqueName('notify-def');
  await mkdir(join(d.manifests, other));
  await writeFile(join(d.manifests, other, 'compose.yaml'), composeFile({ web: 'placeholder' }));
  // Notify mode: 1.0.0 waits for approval, so berth announces it and runs nothing.
  await writeFile(join(d.manifests, `${other}.yaml`), stackManifest({ name: other, version: '1.0.0', images: { web: good.pinned }, mode: 'notify' }));
  const config = join(d.manifests, '..', 'notify.yaml');
  await writeFile(config, stringify({ notify: [{ url: `${receiver.url}/slack-defaults`, format: 'slack', events: ['awaitingApproval'] }] }));
  receiver.answer = () => 200;
  const p = BerthProcess.start({ ...d, args: ['--notify-config', config] });
  await p.started();
  await receiver.waitFor('the approval request', (r) => r.accepted('/slack-defaults').length === 1);
  const body = JSON.parse(receiver.accepted('/slack-defaults')[0]!.body) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body), ['text']);
  assert.match(String(body['text']), new RegExp(`^${other}: version 1\\.0\\.0 waits for approval`));
  await p.stop();
  await removeProject(other);
});
