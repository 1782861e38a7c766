// "Check for updates now" (the console's button) only moves a channel stack's next check-in
// to now; a stack without a channel has nothing to check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ManualClock } from '../support/fake-clock.js';
import { CheckIns } from '../../src/controller/checkin.js';
import { writeChannelState } from '../../src/store/channel.js';
import { StateStore } from '../../src/store/state.js';

const channel = { url: 'http://127.0.0.1:1', name: 'stable', publicKey: 'release.pub', intervalSeconds: 3600, jitterSeconds: 0, timeoutSeconds: 5 };

/** A stack "shop" that checked in a minute ago (its next check-in is due in 59 minutes), and CheckIns on a fake clock. */
async function checkedInAMinuteAgo(): Promise<{ dir: string; clock: ManualClock; checkIns: CheckIns }> {
  const dir = await mkdtemp(join(tmpdir(), 'berth-checkin-'));
  const state = new StateStore(dir);
  await writeChannelState(state, 'shop', { url: channel.url, channel: 'stable', failures: 0, releases: [], lastCheckIn: '2025-12-31T23:59:00Z', lastAttempt: '2025-12-31T23:59:00Z' });
  const clock = new ManualClock();
  return { dir, clock, checkIns: new CheckIns({ state, log: pino({ level: 'silent' }), clock, instance: 'test', onChange: () => undefined }) };
}

test('checkNow moves the next check-in of a channel stack to now, and is false for a stack without one', async () => {
  const { dir, clock, checkIns } = await checkedInAMinuteAgo();
  try {
    checkIns.track('shop', { stack: 'shop', channel, manifest: join(dir, 'shop.yaml') });
    for (let i = 0; i < 100 && clock.timers.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(clock.timers.map((t) => t.ms), [59 * 60 * 1000]);
    assert.equal(checkIns.checkNow('shop'), true);
    assert.deepEqual(clock.timers.map((t) => t.ms), [0], 'one timer, due now, in place of the old one');
    assert.equal(checkIns.checkNow('blog'), false);
    checkIns.stop();
    assert.equal(checkIns.checkNow('shop'), false, 'nothing is checked once berth stops');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a pass that failed as a whole keeps the stack's check-ins; a pass that found no channel ends them", async () => {
  const { dir, clock, checkIns } = await checkedInAMinuteAgo();
  try {
    const target = { stack: 'shop', channel, manifest: join(dir, 'shop.yaml') };
    checkIns.passEnded('shop', { channel: target });
    for (let i = 0; i < 100 && clock.timers.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(clock.timers.length, 1, 'the next check-in is scheduled');

    // The status could not be written: the pass failed before it knew the channel.
    checkIns.passEnded('shop', { error: Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }) });
    assert.equal(clock.timers.length, 1, 'the check-in stays scheduled');
    assert.equal(checkIns.checkNow('shop'), true);

    // The manifest no longer names a channel: nothing is left to check.
    checkIns.passEnded('shop', {});
    assert.equal(clock.timers.length, 0);
    assert.equal(checkIns.checkNow('shop'), false);
    checkIns.stop();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
