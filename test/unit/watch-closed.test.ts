// A pass that was running when berth stopped hands its compose files to the watcher after
// it closed. Watching them then would open handles nothing closes, and `berth run` would
// never exit (it hung after "could not listen on ..." until killed).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { watchManifests } from '../../src/store/watch.js';

const watchers = () => process.getActiveResourcesInfo().filter((r) => r === 'FSEventWrap').length;

test('files handed to a closed watcher are not watched: nothing is left open', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-watch-closed-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const compose = join(dir, 'app', 'compose.yaml');
  await writeFile(join(dir, 'compose.yaml'), 'services: {}\n');
  const before = watchers();
  const w = watchManifests(dir, () => undefined, () => undefined);
  await w.close();
  w.track([join(dir, 'compose.yaml'), compose]);
  // chokidar opens its watches asynchronously: give it the time it would take.
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(watchers(), before, 'a closed watcher opened fs watches');
  assert.deepEqual(w.trackedFiles(), []);
});
