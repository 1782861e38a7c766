// The manifests watcher with real files (chokidar on this machine's file system): compose
// files it tracks for the stacks, and forgetting those that are deleted, so a long-running
// berth does not keep watching every compose file it ever saw.
import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchManifests, type FileWatcher } from '../../src/store/watch.js';

let dir: string;
let watcher: FileWatcher | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-watch-'));
});

afterEach(async () => {
  await watcher?.close();
  watcher = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** Starts a watcher on `dir` whose events can be awaited one path at a time. */
function start(): { next(path: string): Promise<void> } {
  const waiting = new Map<string, () => void>();
  const seen: string[] = [];
  watcher = watchManifests(
    dir,
    (file) => {
      seen.push(file);
      waiting.get(file)?.();
    },
    (err) => {
      throw err;
    },
  );
  return {
    next(path) {
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no event for ${path} within 10 s; saw ${JSON.stringify(seen)}`)), 10_000);
        waiting.set(path, () => {
          clearTimeout(timer);
          waiting.delete(path);
          resolve();
        });
      });
    },
  };
}

describe('watchManifests', () => {
  test('a tracked compose file that is deleted is reported once and forgotten; tracked again, it is watched again', async () => {
    const compose = join(dir, 'shop', 'compose.yaml');
    await mkdir(join(dir, 'shop'));
    await writeFile(compose, 'services: {}\n');
    const events = start();
    await new Promise((r) => setTimeout(r, 300)); // chokidar's initial scan
    watcher!.track([compose]);
    assert.deepEqual(watcher!.trackedFiles(), [compose]);

    let fired = events.next(compose);
    await writeFile(compose, 'services: {a: {image: x}}\n');
    await fired;

    fired = events.next(compose);
    await rm(compose);
    await fired;
    assert.deepEqual(watcher!.trackedFiles(), [], 'a deleted compose file is no longer tracked');

    // The next pass of its stack asks for it again (the reconciler returns the file it
    // reads); from then on it is watched as before.
    await writeFile(compose, 'services: {}\n');
    watcher!.track([compose]);
    assert.deepEqual(watcher!.trackedFiles(), [compose]);
    await new Promise((r) => setTimeout(r, 300));
    fired = events.next(compose);
    await writeFile(compose, 'services: {b: {image: y}}\n');
    await fired;
  });

  test('many compose files that come and go do not pile up', async () => {
    const events = start();
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 20; i++) {
      const compose = join(dir, `s${i}.compose.yml`);
      watcher!.track([compose]);
      let fired = events.next(compose);
      await writeFile(compose, 'services: {}\n');
      await fired;
      fired = events.next(compose);
      await rm(compose);
      await fired;
    }
    assert.deepEqual(watcher!.trackedFiles(), []);
  });
});
