// What `berth history` says about each row: which entry is what runs now and which is the
// last good one. Pure, so the marks are table-tested rather than read off a terminal.
import type { HistoryEntry } from '../api/types.js';

/**
 * One mark string per history entry ('current', 'last-good', both, or '-'), in the same
 * order. A revision appears in several rows once it was rolled back to or retried; only one
 * row is marked: for 'current' the newest row of the revision, for 'last-good' the newest row
 * of it that passed the gate (or its newest row, if the history kept none that did).
 */
export function historyMarks(history: readonly HistoryEntry[], revision: number | undefined, lastGoodRevision: number | undefined): string[] {
  const current = history.findIndex((e) => e.revision === revision);
  const healthy = history.findIndex((e) => e.revision === lastGoodRevision && e.outcome === 'Healthy');
  const lastGood = healthy >= 0 ? healthy : history.findIndex((e) => e.revision === lastGoodRevision);
  return history.map((_, i) => [i === current ? 'current' : '', i === lastGood ? 'last-good' : ''].filter(Boolean).join(',') || '-');
}
