// Self-test of the crash-test support code: restarting the real Docker engine
// (test/support/dockerd.ts) and running `berth run` as a separate process that can be
// killed (test/support/berth-process.ts). The engine-restart test also pins down the engine
// behaviour the crash tests rely on: after a restart, containers with restart policy
// 'always' run again and the others stay exited.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { BerthProcess, berthDirs, environOf, isAlive, killAllBerthProcesses } from '../support/berth-process.js';
import { restartEngine, startEngine, stopEngine } from '../support/dockerd.js';
import { REGISTRY, docker, removeProject, requireEngine, uniqueName } from '../support/engine.js';
import { buildTestImage, removeTestImages, type TestImage } from '../support/images.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const project = uniqueName('berth-process');
let dir: string | undefined;
let image: TestImage | undefined;
let engineReady = false;
/** Set before a test stops the engine, so the after hook makes sure it runs again. */
let engineTouched = false;

before(async () => {
  await requireEngine();
  engineReady = true;
  dir = await mkdtemp(join(tmpdir(), 'berth-process-'));
  image = await buildTestImage({ name: project, variant: 'v1' });
});

after(async () => {
  await killAllBerthProcesses();
  if (engineReady) {
    // A restart test that failed half-way must not leave the machine without an engine.
    if (engineTouched) await startEngine();
    await removeProject(project);
    if (image !== undefined) await removeTestImages([image]);
  }
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** Polls a container until `pred` holds on its inspect data; fails with its last state. */
async function waitForContainer(id: string, what: string, pred: (state: { Status: string; Running: boolean }) => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  let last = '(not inspected)';
  while (Date.now() < deadline) {
    const { State } = await docker().getContainer(id).inspect();
    last = JSON.stringify({ Status: State.Status, Running: State.Running, ExitCode: State.ExitCode, Error: State.Error });
    if (pred(State)) return;
    await sleep(200);
  }
  assert.fail(`container ${id} did not become ${what} within 30 s; last state ${last}`);
}

async function runContainer(suffix: string, restart: 'always' | 'no'): Promise<string> {
  assert.ok(image, 'the before hook did not build the test image');
  // Compose labels, so removeProject() finds them whatever state a failed test leaves them in.
  const c = await docker().createContainer({
    name: `${project}-${suffix}`,
    Image: image.pinned,
    Labels: { 'com.docker.compose.project': project, 'com.docker.compose.service': suffix },
    HostConfig: { RestartPolicy: { Name: restart } },
  });
  await c.start();
  await waitForContainer(c.id, 'running', (s) => s.Running);
  return c.id;
}

const readPidFile = async (): Promise<number> => Number((await readFile('/var/run/docker.pid', 'utf8')).trim());

test('restartEngine brings the engine back: restart policy always runs again, restart policy no stays exited', async () => {
  const always = await runContainer('always', 'always');
  const no = await runContainer('no', 'no');
  const before = {
    dockerd: await readPidFile(),
    always: (await docker().getContainer(always).inspect()).State.Pid,
  };

  engineTouched = true;
  await restartEngine();

  const dockerd = await readPidFile();
  assert.notEqual(dockerd, before.dockerd, 'dockerd has the same pid after the restart, so it was not restarted');
  assert.equal(await isAlive(before.dockerd), false, `the old dockerd (pid ${before.dockerd}) still runs`);
  await docker().ping();
  await waitForContainer(always, 'running again', (s) => s.Running);
  assert.notEqual((await docker().getContainer(always).inspect()).State.Pid, before.always, 'the always container kept its process, so the engine did not stop it');
  const stopped = (await docker().getContainer(no).inspect()).State;
  assert.equal(stopped.Status, 'exited', `the restart-no container is ${stopped.Status}`);
  // The test image's shell exits 0 on the SIGTERM dockerd sends it when shutting down.
  assert.equal(stopped.ExitCode, 0);
  const registry = await fetch(`http://${REGISTRY}/v2/`);
  await registry.body?.cancel();
  assert.equal(registry.status, 200, 'the registry did not survive the engine restart');
});

test('stopEngine leaves no engine, no pid file and no socket; startEngine brings it back and is a no-op when it is up', async () => {
  const old = await readPidFile();
  engineTouched = true;
  await stopEngine();
  assert.equal(await isAlive(old), false, `dockerd (pid ${old}) still runs after stopEngine`);
  await assert.rejects(readFile('/var/run/docker.pid'), { code: 'ENOENT' });
  await assert.rejects(stat('/var/run/docker.sock'), { code: 'ENOENT' });
  await assert.rejects(docker().ping(), 'the engine still answers after stopEngine');
  await stopEngine(); // nothing to stop: returns quietly

  await startEngine();
  const started = await readPidFile();
  await docker().ping();
  await startEngine();
  assert.equal(await readPidFile(), started, 'startEngine started a second dockerd although one was answering');
});

test('BerthProcess.start with an empty manifests folder writes its log; kill() reports SIGKILL', async () => {
  const p = BerthProcess.start(await berthDirs(dir, 'kill'));
  await p.started();
  assert.equal(await isAlive(p.pid), true);
  const result = await p.kill();
  assert.deepEqual(result, { code: null, signal: 'SIGKILL' });
  assert.deepEqual(await p.exited, result);
  assert.equal(await isAlive(p.pid), false);
  // --log-level debug: pino's JSON lines, with the operator's start among them.
  const log = await p.log();
  assert.match(log, /"level":30,.*"msg":"berth operator started"/);
  await assert.rejects(p.stop(), /already was killed by SIGKILL/);
});

test('stop() sends SIGTERM and berth run exits 0 after stopping its operator', async () => {
  const p = BerthProcess.start(await berthDirs(dir, 'stop'));
  await p.started();
  await p.stop();
  assert.deepEqual(await p.exited, { code: 0, signal: null });
  // runCommand: the signal handler logs "stopping", then Operator.stop logs its last line.
  const log = await p.log();
  assert.match(log, /"signal":"SIGTERM".*"msg":"stopping"/);
  assert.match(log, /"msg":"berth operator stopped"/);
});

test('BERTH_FAILPOINTS reaches berth when given and is removed when not, even if the test runner has it', async () => {
  const inherited = process.env['BERTH_FAILPOINTS'];
  process.env['BERTH_FAILPOINTS'] = 'from-the-runner';
  let withPoints: BerthProcess;
  let without: BerthProcess;
  try {
    withPoints = BerthProcess.start({ ...(await berthDirs(dir, 'failpoints')), failpoints: ['apply.before-up', 'status.after-write'], env: { BERTH_TEST_EXTRA: 'yes' } });
    without = BerthProcess.start(await berthDirs(dir, 'no-failpoints'));
  } finally {
    if (inherited === undefined) delete process.env['BERTH_FAILPOINTS'];
    else process.env['BERTH_FAILPOINTS'] = inherited;
  }
  // Before exec, /proc/<pid>/environ of a fresh child still shows this process's environment.
  await withPoints.started();
  await without.started();
  const env = await environOf(withPoints.pid);
  assert.equal(env.get('BERTH_FAILPOINTS'), 'apply.before-up,status.after-write');
  assert.equal(env.get('BERTH_TEST_EXTRA'), 'yes');
  assert.equal((await environOf(without.pid)).has('BERTH_FAILPOINTS'), false);
  await withPoints.stop();
  await without.stop();
});

test('kill() leaves berth’s children running, as a crash does; killAllBerthProcesses() ends them and live berths', async () => {
  assert.ok(dir);
  // Stands in for a `docker compose up` that berth started when it was killed: a preload
  // script makes berth spawn a long sleep that inherits its environment.
  const preload = join(dir, 'spawn-child.cjs');
  await writeFile(preload, "require('node:child_process').spawn('sleep', ['600'], { stdio: 'ignore' }).unref();\n");
  const crashed = BerthProcess.start({ ...(await berthDirs(dir, 'crashed')), env: { NODE_OPTIONS: `--require ${preload}` } });
  const live = BerthProcess.start(await berthDirs(dir, 'live'));
  await crashed.started();
  await live.started();

  const children = await crashed.leftovers();
  assert.equal(children.length, 1, `expected one child of berth, found pids ${children.join(', ')}`);
  const child = children[0]!;
  await crashed.kill();
  assert.equal(await isAlive(child), true, 'the child died with berth');
  assert.deepEqual(await crashed.leftovers(), [child]);

  // A process outside berth's family, which must survive the cleanup.
  const bystander = spawn('sleep', ['600'], { stdio: 'ignore' });
  try {
    await killAllBerthProcesses();
    assert.equal(await isAlive(child), false, `berth's child (pid ${child}) survived killAllBerthProcesses`);
    assert.deepEqual(await live.exited, { code: null, signal: 'SIGKILL' });
    assert.equal(await isAlive(bystander.pid!), true, 'killAllBerthProcesses killed a process berth did not start');
  } finally {
    bystander.kill('SIGKILL');
  }
});
