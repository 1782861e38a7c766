// The events berth is woken by, on the real engine (issue 10 item 6, bench idle): a health
// check runs as an exec, and its exec_create / exec_start / exec_die events were most of the
// event stream of a host whose services check their health; berth dropped them only after
// receiving and parsing each one. The engine now leaves them out, and still sends what says
// something about a container's life, health included.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { Engine } from '../../src/docker/engine.js';
import { engineEventFilters } from '../../src/controller/engine-events.js';
import { docker, removeProject, requireEngine, uniqueName } from '../support/engine.js';
import { buildTestImage, removeTestImages, type TestImage } from '../support/images.js';

let engine: Engine;
let image: TestImage;
const project = uniqueName('events');

before(async () => {
  await requireEngine();
  engine = await Engine.connect();
  image = await buildTestImage({ name: uniqueName('events'), variant: 'healthy', health: 'healthy' });
});

after(async () => {
  await removeProject(project);
  if (image !== undefined) await removeTestImages([image]);
});

/** Actions of `project`'s events on `stream`, as they arrive. */
function actionsOf(stream: Readable): string[] {
  const seen: string[] = [];
  let buffer = '';
  stream.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (line === '') continue;
      const e = JSON.parse(line) as { Action: string; Actor: { Attributes: Record<string, string> } };
      if (e.Actor.Attributes['com.docker.compose.project'] === project) seen.push(e.Action);
    }
  });
  stream.on('error', () => undefined);
  return seen;
}

async function until(what: string, pred: () => boolean, seen: string[]): Promise<void> {
  for (let i = 0; i < 600 && !pred(); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(pred(), `${what} never arrived; events seen: ${seen.join(', ')}`);
}

test('health checks and execs do not reach berth; start, health, stop and die do', async () => {
  const controller = new AbortController();
  const stream = await engine.events(engineEventFilters(), controller.signal);
  const seen = actionsOf(stream);
  try {
    const container = await docker().createContainer({
      Image: image.pinned,
      name: `${project}-web-1`,
      Labels: { 'com.docker.compose.project': project, 'com.docker.compose.service': 'web', 'berth.test': 'true' },
    });
    await container.start();
    // The health check (an exec) has run once it reports healthy.
    await until('health_status: healthy', () => seen.includes('health_status: healthy'), seen);
    const exec = await container.exec({ Cmd: ['/bin/busybox', 'true'] });
    await exec.start({ Detach: true });
    await container.stop({ t: 1 });
    // Events arrive in order, stop last: once it is here, any exec event would have been too.
    await until('stop', () => seen.includes('stop'), seen);
    assert.deepEqual(seen.filter((a) => a.startsWith('exec_')), [], `exec events reached berth: ${seen.join(', ')}`);
    for (const a of ['create', 'start', 'kill', 'die']) assert.ok(seen.includes(a), `${a} is missing: ${seen.join(', ')}`);
  } finally {
    controller.abort();
  }
});
