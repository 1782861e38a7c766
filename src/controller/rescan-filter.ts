// The periodic rescan of the manifests folder is a safety net for file events the watcher
// missed: every stack gets a pass at least once per rescan interval. It used to queue every
// stack each time, on top of each stack's own resync; with the default intervals (rescan
// 60 s, resync 30 s) that was one pass in three of an idle berth, and it found nothing the
// resync would not (each pass reads its manifest and compose inputs afresh). Now it queues
// only the keys that had no pass since the previous periodic rescan: a new stack, a removed
// one, one whose resync is longer than the rescan interval. A change the watcher missed is
// still seen within two rescan intervals at worst (or at the stack's next pass, if sooner).
// A key the scan no longer finds is always queued, pass or not: its pass is the one that
// clears its status, and the next scan will not report it again (a periodic rescan racing
// the watcher's own rescan of a deleted file once left that file's status behind).
import type { WorkKey } from './index.js';

export class RescanFilter {
  private passed = new Set<WorkKey>();

  /** A pass of `key` is starting: it reads the key's files itself. */
  passStarted(key: WorkKey): void {
    this.passed.add(key);
  }

  /**
   * Of the keys a periodic rescan reported (`present`: those the folder still declares), the
   * ones gone from it and those that had no pass since the previous rescan; starts the next round.
   */
  due(keys: readonly WorkKey[], present: ReadonlySet<WorkKey>): WorkKey[] {
    const due = keys.filter((k) => !present.has(k) || !this.passed.has(k));
    this.passed = new Set();
    return due;
  }
}
