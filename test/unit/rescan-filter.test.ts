// The periodic rescan (a safety net for missed file events) queues only the stacks that had
// no pass since the previous periodic rescan: with a resync shorter than the rescan
// interval, an idle stack gets no extra pass from it (issue 10 item 6, bench idle).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stackKey, fileKey } from '../../src/controller/index.js';
import { RescanFilter } from '../../src/controller/rescan-filter.js';

test('a stack that had a pass since the last periodic rescan is not queued again by it', () => {
  const f = new RescanFilter();
  f.passStarted(stackKey('shop'));
  const present = new Set([stackKey('shop'), stackKey('blog')]);
  assert.deepEqual(f.due([stackKey('shop'), stackKey('blog')], present), [stackKey('blog')], 'blog had no pass: it is due');
});

test('every stack is queued at least once per two rescan intervals, however long its resync', () => {
  const f = new RescanFilter();
  f.passStarted(stackKey('slow'));
  const present = new Set([stackKey('slow')]);
  assert.deepEqual(f.due([stackKey('slow')], present), []);
  // No pass of it in the next interval (its resync is longer): the next rescan queues it.
  assert.deepEqual(f.due([stackKey('slow')], present), [stackKey('slow')]);
});

test('new stacks, removed stacks and unnamed files the scan reports are queued unless they had a pass', () => {
  const f = new RescanFilter();
  f.passStarted(stackKey('shop'));
  const gone = stackKey('gone');
  const broken = fileKey('/m/broken.yaml');
  assert.deepEqual(f.due([stackKey('shop'), gone, broken], new Set([stackKey('shop'), gone, broken])), [gone, broken]);
});

test('a key the folder no longer declares is queued even if it had a pass: that pass clears its status', () => {
  // The scan that notices a deletion is the only one that reports the key; a later scan
  // (the watcher's own, racing this one) no longer does, so dropping it here loses it.
  const f = new RescanFilter();
  const junk = fileKey('/m/junk.yaml');
  const removed = stackKey('removed');
  f.passStarted(junk);
  f.passStarted(removed);
  f.passStarted(stackKey('shop'));
  assert.deepEqual(f.due([junk, removed, stackKey('shop')], new Set([stackKey('shop')])), [junk, removed]);
});
