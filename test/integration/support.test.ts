// Self-test of the integration-test support code: engine checks, test images, cleanup.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { docker, removeProject, requireEngine, statusCodeOf, uniqueName } from '../support/engine.js';
import { buildTestImage, removeTestImages, type TestImage } from '../support/images.js';

const execFileAsync = promisify(execFile);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const name = uniqueName('support');
const project = uniqueName('support');
const built: TestImage[] = [];
let engineReady = false;

before(async () => {
  await requireEngine();
  engineReady = true;
});

after(async () => {
  if (!engineReady) return; // the failing before hook already says what is missing
  await removeProject(project);
  await removeTestImages(built);
});

async function ensureLocal(ref: string): Promise<void> {
  try {
    await docker().getImage(ref).inspect();
  } catch (err) {
    if (statusCodeOf(err) !== 404) throw err;
    await execFileAsync('docker', ['pull', ref]);
  }
}

async function waitForHealth(id: string, want: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '(none)';
  while (Date.now() < deadline) {
    const info = await docker().getContainer(id).inspect();
    last = info.State.Health?.Status ?? '(no healthcheck)';
    if (last === want) return;
    await sleep(250);
  }
  assert.fail(`container ${id} health is ${last}, wanted ${want} within ${timeoutMs} ms`);
}

async function runContainer(image: TestImage, suffix: string): Promise<{ id: string; port: string }> {
  await ensureLocal(image.pinned);
  const container = await docker().createContainer({
    name: `${project}-${suffix}`,
    Image: image.pinned,
    Labels: { 'com.docker.compose.project': project, 'com.docker.compose.service': suffix },
    ExposedPorts: { '8080/tcp': {} },
    HostConfig: { PortBindings: { '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] } },
  });
  await container.start();
  const info = await container.inspect();
  const port = info.NetworkSettings.Ports['8080/tcp']?.[0]?.HostPort;
  assert.ok(port, `no host port published for ${container.id}`);
  return { id: container.id, port };
}

test('uniqueName gives short DNS-label-safe names', () => {
  const n = uniqueName('Some_Very/Long Prefix That Goes On And On And On');
  assert.match(n, /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/);
  assert.ok(n.length <= 40, n);
  assert.notEqual(uniqueName('x'), uniqueName('x'));
});

test('variants get distinct digests and stay pullable by digest', async () => {
  const a = await buildTestImage({ name, variant: 'v1' });
  built.push(a);
  const b = await buildTestImage({ name, variant: 'v2', health: 'healthy' });
  built.push(b);

  for (const img of [a, b]) {
    assert.match(img.digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(img.ref, `${img.repo}:${img.tag}`);
    assert.equal(img.pinned, `${img.repo}@${img.digest}`);
  }
  assert.equal(a.repo, b.repo);
  assert.notEqual(a.digest, b.digest);

  await removeTestImages([a, b]);
  for (const ref of [a.ref, a.pinned, b.ref, b.pinned]) {
    await assert.rejects(docker().getImage(ref).inspect(), (err: unknown) => statusCodeOf(err) === 404);
  }
  for (const img of [a, b]) {
    await execFileAsync('docker', ['pull', img.pinned]);
    const info = await docker().getImage(img.pinned).inspect();
    assert.ok(info.RepoDigests.includes(img.pinned), `${img.pinned} not in ${JSON.stringify(info.RepoDigests)}`);
  }
});

test('a healthy image serves its variant over HTTP and stops promptly on SIGTERM', async () => {
  const img = built.find((i) => i.tag === 'v2') ?? (await buildTestImage({ name, variant: 'v2', health: 'healthy' }));
  const { id, port } = await runContainer(img, 'healthy');
  await waitForHealth(id, 'healthy', 15_000);

  let body = '';
  for (let i = 0; i < 20 && body === ''; i++) {
    try {
      body = await (await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) })).text();
    } catch {
      await sleep(250);
    }
  }
  assert.equal(body, 'v2');

  const t0 = Date.now();
  await docker().getContainer(id).stop({ t: 10 });
  const took = Date.now() - t0;
  const state = (await docker().getContainer(id).inspect()).State;
  assert.equal(state.ExitCode, 0, 'SIGTERM should make the container exit 0');
  assert.ok(took < 5000, `stop took ${took} ms; SIGTERM should be handled promptly`);
});

test('an unhealthy image turns unhealthy; an image without healthcheck has none', async () => {
  const bad = await buildTestImage({ name, variant: 'v3', health: 'unhealthy' });
  built.push(bad);
  const plain = built.find((i) => i.tag === 'v1') ?? (await buildTestImage({ name, variant: 'v1' }));
  const { id: badId } = await runContainer(bad, 'unhealthy');
  const { id: plainId } = await runContainer(plain, 'plain');
  await waitForHealth(badId, 'unhealthy', 15_000);
  const plainInfo = await docker().getContainer(plainId).inspect();
  assert.equal(plainInfo.State.Health, undefined);
  assert.equal(plainInfo.State.Running, true);
});

test('removeProject removes containers, networks and volumes of the project', async () => {
  const labels = { 'com.docker.compose.project': project };
  await docker().createNetwork({ Name: `${project}_default`, Labels: labels });
  await docker().createVolume({ Name: `${project}_data`, Labels: labels });
  const img = built[0] ?? (await buildTestImage({ name, variant: 'v1' }));
  await runContainer(img, 'extra');
  const stopped = await docker().createContainer({ name: `${project}-stopped`, Image: img.pinned, Labels: labels });
  assert.ok(stopped.id);

  const filters = { label: [`com.docker.compose.project=${project}`] };
  assert.ok((await docker().listContainers({ all: true, filters })).length >= 2);

  await removeProject(project);
  await removeProject(project); // idempotent

  assert.deepEqual(await docker().listContainers({ all: true, filters }), []);
  assert.deepEqual(await docker().listNetworks({ filters }), []);
  assert.deepEqual((await docker().listVolumes({ filters })).Volumes ?? [], []);
});
