// berth run, as a real process, against files and disks that misbehave: manifests and
// compose files that are not regular files, a state folder that fills up or turns
// read-only, and a failure nobody handled. Each is reported (under the file's name, or in
// the log when the state itself cannot be written) while berth keeps running; what nobody
// handled ends berth with a fatal log line and a distinct exit code, for its supervisor.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { BerthProcess, berthDirs, killAllBerthProcesses } from '../support/berth-process.js';
import { removeProject, requireEngine, uniqueName } from '../support/engine.js';
import { stackManifest } from '../support/harness.js';
import { testKeys } from '../support/releases.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const PINNED = `registry.local/web@sha256:${'a'.repeat(64)}`;
const loopName = uniqueName('robust-loop');
const fifoName = uniqueName('robust-fifo');
const chanName = uniqueName('robust-chan');
let dir: string | undefined;
const mounts: string[] = [];

before(async () => {
  await requireEngine();
  dir = await mkdtemp(join(tmpdir(), 'berth-robust-'));
});

after(async () => {
  await killAllBerthProcesses();
  for (const m of mounts) execFileSync('umount', ['-l', m]);
  await removeProject(loopName);
  await removeProject(fifoName);
  await removeProject(chanName);
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** Waits until `file` exists and `check` accepts its text; fails with berth's log tail. */
async function waitForFile(p: BerthProcess, file: string, check: (text: string) => boolean = () => true): Promise<string> {
  let last = '(missing)';
  for (let i = 0; i < 300; i++) {
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text !== undefined && check(text)) return text;
    last = text ?? '(missing)';
    if (p.exit !== undefined) break;
    await sleep(100);
  }
  assert.fail(`${file} did not appear as expected (last: ${last}); berth ${p.exit ? `exited: ${JSON.stringify(p.exit)}` : 'runs'}; log tail:\n${await p.logTail()}`);
}

// Nine levels of nine aliases: a few hundred bytes that expand to 9^9 strings.
const ALIAS_BOMB = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`),
].join('\n');

test('manifests and compose files that cannot be read as files are reported under their names, and berth keeps running', async () => {
  const d = await berthDirs(dir, 'files');
  const m = d.manifests;
  await symlink('loop.yaml', join(m, 'loop.yaml'));
  await mkdir(join(m, 'folder.yaml'));
  execFileSync('mkfifo', [join(m, 'pipe.yaml')]);
  await writeFile(join(m, 'bomb.yaml'), ALIAS_BOMB);
  // Stacks whose compose file is a symlink loop and a FIFO: the watcher is asked to follow both.
  await mkdir(join(m, loopName));
  await symlink('compose.yaml', join(m, loopName, 'compose.yaml'));
  await writeFile(join(m, `${loopName}.yaml`), stackManifest({ name: loopName, version: '1.0.0', images: { web: PINNED } }));
  await mkdir(join(m, fifoName));
  execFileSync('mkfifo', [join(m, fifoName, 'compose.yaml')]);
  await writeFile(join(m, `${fifoName}.yaml`), stackManifest({ name: fifoName, version: '1.0.0', images: { web: PINNED } }));

  const p = BerthProcess.start(d);
  await p.started();
  const of = (file: string) => join(d.state, '_files', file, 'status.yaml');
  await waitForFile(p, of('loop.yaml'), (t) => t.includes('ELOOP'));
  await waitForFile(p, of('folder.yaml'), (t) => t.includes('is a folder'));
  await waitForFile(p, of('pipe.yaml'), (t) => t.includes('FIFO'));
  await waitForFile(p, of('bomb.yaml'), (t) => t.includes('aliases'));
  await waitForFile(p, join(d.state, loopName, 'status.yaml'), (t) => t.includes('ELOOP'));
  await waitForFile(p, join(d.state, fifoName, 'status.yaml'), (t) => t.includes('FIFO'));
  await p.waitForLog(/"level":40,.*the file watcher failed \(ELOOP\); changes are found by rescanning the manifests folder every 5 s instead/);
  // A file added now is still noticed and reported: the scan goes on beside the bad ones.
  await writeFile(join(m, 'late.yaml'), 'kind: Stack\n');
  await waitForFile(p, of('late.yaml'));
  assert.equal(p.exit, undefined, await p.logTail());
  await p.stop();
});

test('a failure nobody handled is logged as fatal, with what it was, and berth exits 70 for its supervisor to restart it', async () => {
  const d = await berthDirs(dir, 'fatal');
  const trigger = join(d.manifests, '..', 'trigger');
  // Loaded into berth's own process before its code: once the test touches the trigger
  // file, a promise rejects that nobody awaits, as a bug in berth would leave one.
  const preload = join(d.manifests, '..', 'reject.mjs');
  await writeFile(
    preload,
    `import { existsSync } from 'node:fs';
const t = setInterval(() => { if (existsSync(${JSON.stringify(trigger)})) { clearInterval(t); Promise.reject(new Error('nobody handled this')); } }, 20);
t.unref();
`,
  );
  const p = BerthProcess.start({ ...d, env: { NODE_OPTIONS: `--import=${preload}` } });
  await p.started();
  await writeFile(trigger, '');
  const exit = await p.exited;
  assert.deepEqual(exit, { code: 70, signal: null }, await p.logTail());
  const fatal = (await p.log()).split('\n').find((l) => l.includes('"level":60'));
  assert.ok(fatal, `a fatal log line: ${await p.logTail()}`);
  assert.match(fatal, /unhandled promise rejection/);
  assert.match(fatal, /nobody handled this/);
  assert.match(fatal, /supervisor/);
});

test('a full or read-only state folder is logged while berth keeps running, and the status is written once the disk takes writes again', async () => {
  const d = await berthDirs(dir, 'disk');
  await mkdir(d.state, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', d.state]);
  mounts.push(d.state);
  await writeFile(join(d.manifests, 'first.yaml'), 'kind: Stack\n');
  // A stack on a feed that does not answer: every check-in is refused and written to channel.yaml.
  await mkdir(join(d.manifests, chanName));
  await writeFile(join(d.manifests, chanName, 'compose.yaml'), 'services:\n  web:\n    image: placeholder\n');
  await writeFile(
    join(d.manifests, `${chanName}.yaml`),
    // Checked often: the retry backoff is capped at the interval, so a refused check-in comes
    // within seconds of the disk filling up (at the default 300 s it could be 40 s or more away).
    stackManifest({ name: chanName, channel: { url: 'http://127.0.0.1:1', name: 'stable', publicKey: testKeys().publicPem, intervalSeconds: 5, jitterSeconds: 0 } }),
  );
  const p = BerthProcess.start(d);
  await p.started();
  await waitForFile(p, join(d.state, '_files', 'first.yaml', 'status.yaml'));
  const channelFile = join(d.state, chanName, 'channel.yaml');
  await waitForFile(p, channelFile, (t) => t.includes('FeedUnreachable'));

  // Full: a filler takes every block that is left.
  const filler = join(d.state, 'filler');
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k'], { stdio: 'ignore' });
  } catch {
    // dd ends with "No space left on device": that is the point.
  }
  // berth's own atomic replacements free the blocks of the files they replace, and a small
  // status fits in them: the disk is kept full while the test waits for what a full disk does.
  const fillers = [filler];
  const refill = setInterval(() => {
    const more = `${filler}-${fillers.length}`;
    fillers.push(more);
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${more}`, 'bs=4k'], { stdio: 'ignore' });
    } catch {
      // Full again.
    }
  }, 200);
  try {
    await writeFile(join(d.manifests, 'while-full.yaml'), 'kind: Stack\n');
    await p.waitForLog(/reconcile pass failed.*ENOSPC|ENOSPC.*reconcile pass failed/);
    await p.waitForLog(/could not write the refused check-in .*channel\.yaml \(ENOSPC\)/);
  } finally {
    clearInterval(refill);
  }
  assert.equal(p.exit, undefined, await p.logTail());
  const failuresBefore = Number(/failures: (\d+)/.exec(await readFile(channelFile, 'utf8'))?.[1]);
  await Promise.all(fillers.map((f) => rm(f, { force: true })));
  await waitForFile(p, join(d.state, '_files', 'while-full.yaml', 'status.yaml'));
  // The check-ins go on, and are written down again.
  await waitForFile(p, channelFile, (t) => Number(/failures: (\d+)/.exec(t)?.[1]) > failuresBefore);

  // Read-only: the same, with EROFS.
  execFileSync('mount', ['-o', 'remount,ro', d.state]);
  try {
    await writeFile(join(d.manifests, 'while-ro.yaml'), 'kind: Stack\n');
    await p.waitForLog(/EROFS/);
    assert.equal(p.exit, undefined, await p.logTail());
  } finally {
    execFileSync('mount', ['-o', 'remount,rw', d.state]);
  }
  await waitForFile(p, join(d.state, '_files', 'while-ro.yaml', 'status.yaml'));
  assert.ok((await stat(join(d.state, '_files', 'first.yaml', 'status.yaml'))).isFile());
  await p.stop();
});

test('a new file declaring a stack name another file holds is InvalidSpec naming both, also after a restart, and berth keeps running', async () => {
  const d = await berthDirs(dir, 'duplicate');
  const name = uniqueName('robust-dup');
  await mkdir(join(d.manifests, name));
  await writeFile(join(d.manifests, name, 'compose.yaml'), 'services:\n  web:\n    image: placeholder\n');
  const holder = join(d.manifests, `${name}.yaml`);
  await writeFile(holder, stackManifest({ name, version: '1.0.0', images: { web: PINNED }, mode: 'disabled' }));
  let p = BerthProcess.start(d);
  await p.started();
  const statusFile = join(d.state, name, 'status.yaml');
  await waitForFile(p, statusFile, (t) => t.includes(`manifest: ${holder}`));

  // The copy's file name sorts first: name order alone would give it the stack.
  const copy = join(d.manifests, `a-copy-of-${name}.yaml`);
  await writeFile(copy, stackManifest({ name, version: '2.0.0', images: { web: PINNED }, mode: 'disabled' }));
  const copyStatus = join(d.state, '_files', `a-copy-of-${name}.yaml`, 'status.yaml');
  const reported = await waitForFile(p, copyStatus);
  assert.match(reported, /InvalidSpec/);
  assert.ok(reported.includes(copy) && reported.includes(holder), reported);
  assert.match(await readFile(statusFile, 'utf8'), new RegExp(`manifest: ${holder}`));
  assert.equal(p.exit, undefined, await p.logTail());
  await p.stop();

  // A restarted berth knows nothing of the first one's scans: one pass over every stack
  // (--once, so every pass has run when it exits) must still give the name to the holder.
  await rm(copyStatus);
  p = BerthProcess.start({ ...d, logFile: `${d.logFile}.2`, args: ['--once'] });
  const exit = await p.exited;
  assert.equal(exit.signal, null, await p.logTail());
  assert.match(await readFile(copyStatus, 'utf8'), /already declared/);
  assert.match(await readFile(statusFile, 'utf8'), new RegExp(`manifest: ${holder}`));
  assert.match(await readFile(statusFile, 'utf8'), /targetVersion: 1\.0\.0/);
});
