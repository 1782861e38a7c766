// CheckIns when channel.yaml cannot be written (a full or read-only disk, a file in the way):
// the check-in is logged with what failed and where, and tried again with backoff; it never
// becomes a rejected promise that ends berth. The host identity lives outside the stack
// namespace, so a stack may be called `instance-id`.
import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { ManualClock } from '../support/fake-clock.js';
import { CheckIns } from '../../src/controller/checkin.js';
import { instanceId } from '../../src/store/channel.js';
import { StateStore } from '../../src/store/state.js';

/** A logger whose JSON lines the test reads back. */
function capturingLog(): { log: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), `expected: ${what}`);
}

const channel = {
  url: 'http://127.0.0.1:1',
  name: 'stable',
  // Not a key: the check-in is refused before any request, which is the path under test.
  publicKey: 'missing-release.pub',
  intervalSeconds: 3600,
  jitterSeconds: 0,
  timeoutSeconds: 5,
};

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-checkin-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a check-in whose channel.yaml cannot be written', () => {
  test('is logged with the stack and the file, and retried with backoff, without a rejected promise', async () => {
    const state = new StateStore(dir);
    // A file where the stack's folder belongs: every write under it fails (ENOTDIR/EEXIST).
    await writeFile(join(dir, 'shop'), 'in the way\n');
    const clock = new ManualClock();
    const { log, lines } = capturingLog();
    const rejections: unknown[] = [];
    const onRejection = (err: unknown) => rejections.push(err);
    process.on('unhandledRejection', onRejection);
    try {
      const checkIns = new CheckIns({ state, log, clock, instance: 'test-instance', onChange: () => undefined, random: () => 0 });
      checkIns.track('shop', { stack: 'shop', channel: channel as never, manifest: join(dir, 'shop.yaml') });
      await until('the first check-in is scheduled', () => clock.timers.length === 1);
      clock.fire();
      await until('a retry is scheduled', () => clock.timers.length === 1);
      assert.equal(clock.timers[0]?.ms, 5_000, 'the first retry comes after 5 s');
      const logged = lines.find((l) => l['level'] === 50 && l['stack'] === 'shop');
      assert.ok(logged, `an error line for the stack: ${JSON.stringify(lines)}`);
      assert.match(String(logged['msg']), /channel\.yaml/);
      assert.match(String(logged['msg']), /retr/);
      clock.fire();
      await until('a second retry is scheduled', () => clock.timers.length === 1);
      assert.equal(clock.timers[0]?.ms, 10_000, 'the retries back off');
      checkIns.stop();
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(rejections, []);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });
});

describe('the host identity', () => {
  test('is kept outside the stack namespace, so a stack named instance-id has its own folder', async () => {
    const state = new StateStore(dir);
    const id = await instanceId(state);
    await mkdir(join(dir, 'instance-id', 'revisions'), { recursive: true });
    assert.equal((await stat(join(dir, 'instance-id'))).isDirectory(), true);
    assert.equal(await instanceId(state), id, 'the identity survives');
  });

  test('an identity kept at the old place is moved out of the way and stays the same', async () => {
    const old = '0f0e0d0c-0b0a-4909-8807-060504030201';
    await writeFile(join(dir, 'instance-id'), `${old}\n`);
    const state = new StateStore(dir);
    assert.equal(await instanceId(state), old);
    await assert.rejects(stat(join(dir, 'instance-id')), { code: 'ENOENT' });
    assert.equal((await readFile(join(dir, '_instance-id'), 'utf8')).trim(), old);
    assert.equal(await instanceId(new StateStore(dir)), old);
  });
});
