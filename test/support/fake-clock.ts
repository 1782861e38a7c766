// A clock whose timers fire only when a test says so: the check-in tests read what berth
// scheduled (each timer's delay) and run it by hand.
import assert from 'node:assert/strict';
import type { Clock } from '../../src/controller/clock.js';

export class ManualClock implements Clock {
  private nextId = 1;
  timers: Array<{ id: number; ms: number; fn: () => void }> = [];
  now = () => new Date('2026-01-01T00:00:00Z');
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ id, ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== handle);
  }
  /** Fires the oldest pending timer. */
  fire(): void {
    const t = this.timers.shift();
    assert.ok(t, 'a timer is pending');
    t.fn();
  }
}
