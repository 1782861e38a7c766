// berth in its own container, as the README runs it: the image built from this checkout on
// the locally made Debian base image, started from manifests/berth-compose.yaml against the
// host's engine. A stack whose compose file bind-mounts a RELATIVE path converges, and the
// managed container sees the file: compose, running inside berth's container, resolves that
// path on the host, which works only because the manifests folder is mounted at the same
// absolute path. `compose exec berth berth …` works without flags, and an edit through it
// (rollback) lands in the read-write manifests folder and converges.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import type { StackStatus } from '../../src/api/types.js';
import { StateStore } from '../../src/store/state.js';
import { REPO_ROOT, debianBaseImage } from '../support/base-image.js';
import { describeError, docker, removeProject, requireEngine, uniqueName } from '../support/engine.js';
import { isReady, stackManifest } from '../support/harness.js';
import { buildTestImage, removeTestImages, type TestImage } from '../support/images.js';

const execFileAsync = promisify(execFile);

const REPO = REPO_ROOT;
const COMPOSE_FILE = join(REPO, 'manifests', 'berth-compose.yaml');
/** The test's own tag, kept between runs as the build cache (like the base image). */
const BERTH_IMAGE = 'berth-test/berth:latest';
/** The image's berth user; the manifests and state folders are given to it, as the README says. */
const BERTH_UID = 10001;
const BUILD_TIMEOUT_MS = 20 * 60_000;

const stack = uniqueName('ctr-stack');
const project = uniqueName('ctr-berth');
const marker = `seen through a relative bind mount ${stack}`;
let root: string;
let manifests: string;
let stateDir: string;
let httpAddr: string;
let v1: TestImage;
let v2: TestImage;

async function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<string> {
  try {
    const { stdout } = await execFileAsync(cmd, args, {
      cwd: REPO,
      env: { ...process.env, ...opts.env },
      timeout: opts.timeoutMs ?? 120_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    throw new Error(`\`${cmd} ${args.join(' ')}\` failed: ${describeError(err)}`, { cause: err });
  }
}

/** What the README has a person export before `docker compose -f manifests/berth-compose.yaml`. */
function composeEnv(dockerGid: number): NodeJS.ProcessEnv {
  return {
    BERTH_IMAGE,
    BERTH_MANIFESTS: manifests,
    BERTH_STATE_DIR: stateDir,
    BERTH_HTTP: httpAddr,
    DOCKER_GID: String(dockerGid),
  };
}

let env: NodeJS.ProcessEnv;
const compose = (...args: string[]) => run('docker', ['compose', '-p', project, '-f', COMPOSE_FILE, ...args], { env });

async function freeLoopbackPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Polls the status berth (in its container) writes to the host state folder. */
async function waitForStatus(what: string, pred: (s: StackStatus) => boolean, timeoutMs = 120_000): Promise<StackStatus> {
  const store = new StateStore(stateDir);
  const deadline = Date.now() + timeoutMs;
  let last: StackStatus | undefined;
  while (Date.now() < deadline) {
    last = await store.readStatus({ stack }).catch(() => undefined);
    if (last !== undefined && pred(last)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  const logs = await compose('logs', '--no-color', '--tail', '30', 'berth').catch((err: unknown) => describeError(err));
  throw new Error(`timed out waiting for ${what}\nlast status:\n${stringify(last)}\nberth's container log:\n${logs}`);
}

before(
  async () => {
    await requireEngine();
    // Both cached: the base image by a hash of its script, the berth image by the builder's layers.
    await debianBaseImage('trixie');
    await run('bash', [join(REPO, 'scripts', 'build-image.sh'), BERTH_IMAGE], { timeoutMs: BUILD_TIMEOUT_MS });

    v1 = await buildTestImage({ name: stack, variant: 'v1', health: 'healthy' });
    v2 = await buildTestImage({ name: stack, variant: 'v2', health: 'healthy' });

    root = await mkdtemp(join(tmpdir(), 'berth-ctr-'));
    manifests = join(root, 'manifests');
    stateDir = join(root, 'state');
    await mkdir(join(manifests, stack, 'data'), { recursive: true });
    await mkdir(stateDir);
    await writeFile(join(manifests, stack, 'data', 'hello.txt'), marker);
    await writeFile(
      join(manifests, stack, 'compose.yaml'),
      stringify({ services: { web: { image: 'placeholder', init: false, volumes: ['./data:/data:ro'] } } }),
    );
    await writeFile(join(manifests, `${stack}.yaml`), stackManifest({ name: stack, version: '1.0.0', images: { web: v1.pinned } }));
    for (const p of [root, manifests, join(manifests, stack), join(manifests, stack, 'data'), stateDir]) await chown(p, BERTH_UID, BERTH_UID);
    for (const f of [`${stack}.yaml`, join(stack, 'compose.yaml'), join(stack, 'data', 'hello.txt')]) await chown(join(manifests, f), BERTH_UID, BERTH_UID);

    httpAddr = `127.0.0.1:${await freeLoopbackPort()}`;
    const socketGid = (await run('stat', ['-c', '%g', '/var/run/docker.sock'])).trim();
    env = composeEnv(Number(socketGid));
    await compose('up', '-d');
  },
  { timeout: BUILD_TIMEOUT_MS + 5 * 60_000 },
);

after(async () => {
  // Only what this file made: berth's project (container, its network-less setup), the
  // managed stack, the two test images, the temp folders. The berth image stays as cache.
  if (env !== undefined) await compose('down', '--volumes', '--timeout', '10').catch(() => undefined);
  await removeProject(project);
  await removeProject(stack);
  await removeTestImages([v1, v2].filter(Boolean));
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

test('berth in its container converges a stack whose compose file bind-mounts a relative path, on the host engine', async () => {
  await waitForStatus('the stack at 1.0.0 and Ready', isReady('1.0.0'));

  const [web] = await docker().listContainers({ filters: { label: [`com.docker.compose.project=${stack}`] } });
  assert.ok(web, `no container of project ${stack} runs`);
  // The mount's source is the host path of manifests/<stack>/data, the same path berth saw.
  const info = await docker().getContainer(web.Id).inspect();
  assert.deepEqual(
    info.Mounts.filter((m) => m.Destination === '/data').map((m) => m.Source),
    [join(manifests, stack, 'data')],
  );
  assert.equal(await run('docker', ['exec', web.Id, 'cat', '/data/hello.txt']), marker);
});

test('the image runs as berth, not root, with its healthcheck passing where BERTH_HTTP binds on the host loopback', async () => {
  const [container] = await docker().listContainers({ filters: { label: [`com.docker.compose.project=${project}`] } });
  assert.ok(container, `berth's container (project ${project}) is not running`);
  const info = await docker().getContainer(container.Id).inspect();
  assert.equal(info.Config.User, `${BERTH_UID}:${BERTH_UID}`);
  assert.deepEqual(info.Config.Healthcheck?.Test, ['CMD', 'node', '/opt/berth/dist/src/cli/healthcheck.js']);

  // The engine's first check is 30 s away; run the same program the engine runs, in the container.
  await run('docker', ['exec', container.Id, 'node', '/opt/berth/dist/src/cli/healthcheck.js']);
  // Host networking: the console is on this machine's loopback, where BERTH_HTTP said.
  const res = await fetch(`http://${httpAddr}/healthz`);
  assert.equal(res.status, 200);
});

test('`compose exec berth berth …` needs no flags, and an edit it makes lands in the read-write manifests folder', async () => {
  await waitForStatus('the stack at 1.0.0 and Ready', isReady('1.0.0'));
  const table = await compose('exec', '-T', 'berth', 'berth', 'get');
  assert.match(table, new RegExp(`^${stack}\\s.*1\\.0\\.0`, 'm'));

  // 2.0.0 arrives by a manifest edit on the host, as a person or git would make it...
  const manifestPath = join(manifests, `${stack}.yaml`);
  await writeFile(manifestPath, stackManifest({ name: stack, version: '2.0.0', images: { web: v2.pinned } }));
  await waitForStatus('the stack at 2.0.0 and Ready', isReady('2.0.0'));

  // ...and berth, in its container, edits it back: the manifest must be writable there.
  await compose('exec', '-T', 'berth', 'berth', 'rollback', stack);
  assert.match(await readFile(manifestPath, 'utf8'), /version: 1\.0\.0/);
  await waitForStatus('the stack back at 1.0.0 and Ready', isReady('1.0.0'));
});

test('the Debian base image is made once and reused: a second build-base-image.sh keeps the same image', async () => {
  const base = 'berth-test/debian:trixie';
  const before = await docker().getImage(base).inspect();
  assert.match(before.Config.Labels?.['org.berth.base-image.key'] ?? '', /^[0-9a-f]{16}$/);
  assert.equal((await run('bash', [join(REPO, 'scripts', 'build-base-image.sh'), 'trixie'])).trim(), base);
  assert.equal(await debianBaseImage('trixie'), base);
  assert.equal((await docker().getImage(base).inspect()).Id, before.Id);
});

test('the berth image carries Node.js 20 or later and the compose v2 plugin, from Debian trixie', async () => {
  const inImage = (cmd: string) => run('docker', ['run', '--rm', '--entrypoint', 'sh', BERTH_IMAGE, '-c', cmd]);
  const node = (await inImage('node --version')).trim();
  assert.ok(Number(/^v(\d+)\./.exec(node)?.[1]) >= 20, `node ${node} is older than berth's engines.node (>=20)`);
  assert.match(await inImage('docker compose version --short'), /^v?2\./);
  assert.match(await inImage('cat /etc/debian_version'), /^13\./);
});
