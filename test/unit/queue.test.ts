// WorkQueue: one pass per key at a time, deduplicated adds, capped exponential backoff.
// Time is a fake clock: timers fire only when the test advances it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Clock } from '../../src/controller/clock.js';
import { WorkQueue } from '../../src/controller/queue.js';

class FakeClock implements Clock {
  private t = Date.parse('2026-01-01T00:00:00Z');
  private nextId = 1;
  timers: Array<{ id: number; at: number; fn: () => void }> = [];

  now(): Date {
    return new Date(this.t);
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ id, at: this.t + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== handle);
  }
  /** Moves time forward by `ms`, firing due timers in order of their time. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (due === undefined) break;
      this.timers = this.timers.filter((x) => x !== due);
      this.t = due.at;
      due.fn();
    }
    this.t = end;
  }
}

/** Takes every key queued right now (each get() resolves at once when the queue has keys). */
async function drain(q: WorkQueue): Promise<string[]> {
  const out: string[] = [];
  while (q.length > 0) {
    const key = await q.get();
    assert.ok(key !== undefined);
    out.push(key);
  }
  return out;
}

function setup(backoff?: { baseMs: number; maxMs: number }): { clock: FakeClock; q: WorkQueue } {
  const clock = new FakeClock();
  return { clock, q: new WorkQueue(clock, backoff) };
}

describe('WorkQueue', () => {
  test('a key added twice before it is taken is processed once', async () => {
    const { q } = setup();
    q.add('shop');
    q.add('shop');
    q.add('blog');
    assert.equal(q.length, 2);
    assert.deepEqual(await drain(q), ['shop', 'blog']);
  });

  test('a key added while it is processed is not handed out again until done(), then comes back once', async () => {
    const { q } = setup();
    q.add('shop');
    assert.equal(await q.get(), 'shop');
    q.add('shop');
    q.add('shop');
    assert.equal(q.length, 0, 'not queued while processing');
    q.done('shop');
    assert.deepEqual(await drain(q), ['shop']);
    q.done('shop');
    assert.equal(q.length, 0, 'a clean done() does not re-queue');
  });

  test('a get() waiting on an empty queue receives the next key added', async () => {
    const { q } = setup();
    const pending = q.get();
    q.add('shop');
    assert.equal(await pending, 'shop');
    // It is now being processed: another add waits for done().
    q.add('shop');
    assert.equal(q.length, 0);
    q.done('shop');
    assert.equal(q.length, 1);
  });

  test('addRateLimited delays a failing key 1s, 2s, 4s … and caps the delay at maxMs', () => {
    const { q } = setup({ baseMs: 1_000, maxMs: 10_000 });
    const delays = Array.from({ length: 6 }, () => q.addRateLimited('shop'));
    assert.deepEqual(delays, [1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
    assert.equal(q.failuresOf('shop'), 6);
  });

  test('a rate-limited key is queued only when its delay has passed', async () => {
    const { clock, q } = setup({ baseMs: 1_000, maxMs: 60_000 });
    q.addRateLimited('shop');
    q.addRateLimited('shop'); // 2s, but the pending 1s add is earlier and wins
    clock.advance(999);
    assert.equal(q.length, 0);
    clock.advance(1);
    assert.deepEqual(await drain(q), ['shop']);
    q.done('shop');
    clock.advance(10_000);
    assert.equal(q.length, 0, 'the later add was dropped, not kept as a second timer');
  });

  test('forget() resets the backoff of a key to the base delay', () => {
    const { q } = setup({ baseMs: 1_000, maxMs: 60_000 });
    q.addRateLimited('shop');
    q.addRateLimited('shop');
    q.addRateLimited('shop');
    q.forget('shop');
    assert.equal(q.failuresOf('shop'), 0);
    assert.equal(q.addRateLimited('shop'), 1_000);
  });

  test('backoff is counted per key', () => {
    const { q } = setup({ baseMs: 1_000, maxMs: 60_000 });
    q.addRateLimited('shop');
    q.addRateLimited('shop');
    assert.equal(q.addRateLimited('blog'), 1_000);
  });

  test('addAfter keeps the earlier of two pending times', async () => {
    const { clock, q } = setup();
    q.addAfter('late-first', 5_000);
    q.addAfter('late-first', 2_000); // earlier: replaces the 5s timer
    q.addAfter('early-first', 2_000);
    q.addAfter('early-first', 5_000); // later: ignored
    clock.advance(2_000);
    assert.deepEqual((await drain(q)).sort(), ['early-first', 'late-first']);
    q.done('late-first');
    q.done('early-first');
    clock.advance(10_000);
    assert.equal(q.length, 0, 'no second add from a replaced or ignored timer');
    assert.equal(clock.timers.length, 0);
  });

  test('addAfter with no delay adds at once', () => {
    const { q } = setup();
    q.addAfter('shop', 0);
    assert.equal(q.length, 1);
  });

  test('shutdown() resolves waiting get() calls with undefined, and later get() calls too', async () => {
    const { clock, q } = setup();
    const a = q.get();
    const b = q.get();
    q.addAfter('shop', 1_000);
    q.shutdown();
    assert.equal(await a, undefined);
    assert.equal(await b, undefined);
    assert.equal(await q.get(), undefined);
    assert.equal(clock.timers.length, 0, 'pending timers are cancelled');
    q.add('shop');
    assert.equal(q.length, 0, 'adds after shutdown are ignored');
  });
});
