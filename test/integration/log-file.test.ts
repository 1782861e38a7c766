// `berth run --log-file PATH` as a real process: the log is appended to PATH (JSON lines);
// after logrotate renames the file, SIGHUP makes berth write a new one at PATH; and no
// secret reaches either file, whatever text carries it (here a webhook receiver quotes the
// webhook's secret, berth's HTTP token and a private key back in its refusal).
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { BerthProcess, berthDirs, killAllBerthProcesses } from '../support/berth-process.js';
import { removeProject, requireEngine, uniqueName } from '../support/engine.js';
import { composeFile, stackManifest } from '../support/harness.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

const PINNED = `registry.local/web@sha256:${'a'.repeat(64)}`;
const WEBHOOK_SECRET = 'ntfy-token-in-the-manifest-31337';
const HTTP_TOKEN = 'console-token-from-env-9001';
const name = uniqueName('logfile');
let dir: string | undefined;
let receiver: WebhookReceiver;

before(async () => {
  await requireEngine();
  dir = await mkdtemp(join(tmpdir(), 'berth-logfile-'));
  receiver = await WebhookReceiver.start();
});

after(async () => {
  await killAllBerthProcesses();
  await receiver?.close();
  await removeProject(name);
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

async function waitForText(p: BerthProcess, file: string, what: string, check: (text: string) => boolean): Promise<string> {
  for (let i = 0; i < 600; i++) {
    const text = await readFile(file, 'utf8').catch(() => '');
    if (check(text)) return text;
    assert.equal(p.exit, undefined, `berth exited while waiting for ${what}; its stderr:\n${await p.logTail()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`${file} did not get ${what}; it holds:\n${await readFile(file, 'utf8').catch(() => '(missing)')}`);
}

const REFUSED = /"level":40,.*notifying .* failed: the webhook answered HTTP 500/;

test('--log-file appends JSON lines, SIGHUP after a rename starts a new file, and no secret reaches either', async () => {
  const d = await berthDirs(dir, 'run');
  const logFile = join(d.manifests, '..', 'logs', 'berth.log');
  await mkdir(join(d.manifests, '..', 'logs'));
  const earlier = '{"level":30,"msg":"a line from an earlier run"}';
  await writeFile(logFile, `${earlier}\n`);
  const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  // The receiver's refusal quotes secrets back; berth logs what a receiver answers.
  receiver.answer = () => ({ status: 500, body: `denied ${WEBHOOK_SECRET} ${HTTP_TOKEN} ${pem}` });

  await mkdir(join(d.manifests, name));
  await writeFile(join(d.manifests, name, 'compose.yaml'), composeFile({ web: 'placeholder' }));
  // Notify mode: version 1.0.0 waits for approval, so berth notifies and changes nothing.
  const doc = parse(stackManifest({ name, version: '1.0.0', images: { web: PINNED }, mode: 'notify' })) as { spec: Record<string, unknown> };
  doc.spec['notify'] = [{ url: `${receiver.url}/ntfy`, format: 'ntfy', secret: WEBHOOK_SECRET, timeoutSeconds: 2 }];
  await writeFile(join(d.manifests, `${name}.yaml`), stringify(doc));

  const p = BerthProcess.start({ ...d, args: ['--log-file', logFile], env: { BERTH_HTTP_TOKEN: HTTP_TOKEN } });
  const first = await waitForText(p, logFile, 'a refused notification', (t) => REFUSED.test(t));
  assert.equal(first.split('\n')[0], earlier, 'the file is appended to, not truncated');
  const asked = receiver.received.find((r) => r.path === '/ntfy');
  assert.equal(asked?.headers['authorization'], `Bearer ${WEBHOOK_SECRET}`, 'the receiver got the token');
  assert.equal(asked?.headers['title'], `berth: ${name} awaiting approval (1.0.0)`);
  assert.match(asked?.body ?? '', new RegExp(`^${name}: version 1\\.0\\.0 waits for approval: run \`berth approve ${name} 1\\.0\\.0\``));

  // logrotate: rename, then SIGHUP.
  await rename(logFile, `${logFile}.1`);
  process.kill(p.pid, 'SIGHUP');
  await waitForText(p, logFile, 'the reopen line and a later refusal', (t) => t.includes('reopened the log file (SIGHUP)') && REFUSED.test(t));
  assert.equal(p.exit, undefined, 'SIGHUP did not end berth');
  await p.stop();

  const rotated = await readFile(`${logFile}.1`, 'utf8');
  const current = await readFile(logFile, 'utf8');
  assert.ok(!rotated.includes('reopened the log file'), 'nothing after the SIGHUP went into the renamed file');
  for (const text of [rotated, current]) {
    for (const line of text.split('\n').filter((l) => l !== '')) assert.doesNotThrow(() => JSON.parse(line), `not JSON: ${line}`);
    for (const secret of [WEBHOOK_SECRET, HTTP_TOKEN, 'PRIVATE KEY', pem.split('\n')[1]!]) assert.ok(!text.includes(secret), `${secret} is in the log:\n${text}`);
  }
  assert.match(current, /"msg":"berth operator stopped"/);
  // With a log file, nothing goes to stderr.
  assert.equal((await p.log()).trim(), '', 'berth wrote to stderr although --log-file was given');
});

test('with --log-file, the fatal line of a failure nobody handled is in the log file too', async () => {
  const d = await berthDirs(dir, 'fatal');
  const logFile = join(d.manifests, '..', 'berth.json.log');
  const preload = join(d.manifests, '..', 'throw.mjs');
  // Loaded before berth's code: once berth logs that it started, an exception nobody catches.
  await writeFile(
    preload,
    `import { readFileSync } from 'node:fs';
const t = setInterval(() => { let s = ''; try { s = readFileSync(${JSON.stringify(logFile)}, 'utf8'); } catch {} if (s.includes('berth operator started')) { clearInterval(t); setTimeout(() => { throw new Error('nobody caught this'); }, 0); } }, 20);
t.unref();
`,
  );
  const p = BerthProcess.start({ ...d, args: ['--log-file', logFile], env: { NODE_OPTIONS: `--import=${preload}` } });
  const exit = await p.exited;
  assert.deepEqual(exit, { code: 70, signal: null }, await readFile(logFile, 'utf8').catch(() => '(no log file)'));
  const fatal = (await readFile(logFile, 'utf8')).split('\n').find((l) => l.includes('"level":60'));
  assert.ok(fatal, 'a fatal line in the log file');
  assert.match(fatal, /nobody caught this/);
});
