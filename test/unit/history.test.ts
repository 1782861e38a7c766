// What berth says runs, outside the status conditions: the marks of `berth history` and the
// `running` field of a release report (issue 9, items 18 and 19). Both name only what the
// journal proves.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { HistoryEntry, StackStatus } from '../../src/api/types.js';
import { runningOf } from '../../src/controller/report.js';
import { historyMarks } from '../../src/plan/history.js';
import { iso } from './fixtures.js';

function e(revision: number, version: string, operation: HistoryEntry['operation'], outcome: HistoryEntry['outcome']): HistoryEntry {
  return { revision, version, operation, started: iso(-revision * 100), outcome };
}

const v1 = e(1, '1.0.0', 'update', 'Healthy');
const v2RolledBack = e(2, '1.1.0', 'update', 'RolledBack');
const backTo1 = e(1, '1.0.0', 'rollback', 'Healthy');

describe('historyMarks: each revision is marked once, on its newest row', () => {
  const rows: Array<{ name: string; history: HistoryEntry[]; revision?: number; lastGood?: number; marks: string[] }> = [
    { name: 'one healthy update', history: [v1], revision: 1, lastGood: 1, marks: ['current,last-good'] },
    {
      name: 'an update being verified',
      history: [e(2, '1.1.0', 'update', 'Progressing'), v1],
      revision: 2,
      lastGood: 1,
      marks: ['current', 'last-good'],
    },
    {
      name: 'after an automatic rollback: the rollback row, not the old update row of the same revision',
      history: [backTo1, v2RolledBack, v1],
      revision: 1,
      lastGood: 1,
      marks: ['current,last-good', '-', '-'],
    },
    {
      name: 'a rollback still being verified: the failed revision is neither',
      history: [e(1, '1.0.0', 'rollback', 'Progressing'), v2RolledBack, v1],
      revision: 1,
      lastGood: 1,
      marks: ['current', '-', 'last-good'],
    },
    {
      name: 'a revision applied twice (retry): the newer row',
      history: [e(2, '1.1.0', 'update', 'Healthy'), e(2, '1.1.0', 'update', 'RolledBack'), backTo1, v1],
      revision: 2,
      lastGood: 2,
      marks: ['current,last-good', '-', '-', '-'],
    },
    { name: 'nothing applied yet', history: [], marks: [] },
  ];
  for (const row of rows) {
    test(row.name, () => {
      assert.deepEqual(historyMarks(row.history, row.revision, row.lastGood), row.marks);
    });
  }
});

describe('runningOf: a report names what is proven running', () => {
  const base: StackStatus['status'] = { conditions: [], services: [] };
  const rows: Array<{ name: string; s: Partial<StackStatus['status']>; running?: string }> = [
    {
      name: 'the applied revision passed its gate and nothing is in flight',
      s: { currentVersion: '1.4.0', revision: 3, lastGoodRevision: 3, history: [e(3, '1.4.0', 'update', 'Healthy')] },
      running: '1.4.0',
    },
    {
      name: 'a later update is still being verified: its version is not proven',
      s: {
        currentVersion: '1.5.0',
        revision: 4,
        lastGoodRevision: 3,
        operation: { id: 'op', kind: 'update', revision: 4, targetKey: 'k', desiredKey: 'k', step: 'verify', started: iso(0), stepStarted: iso(0) },
        history: [e(4, '1.5.0', 'update', 'Progressing'), e(3, '1.4.0', 'update', 'Healthy')],
      },
    },
    {
      name: 'after a rollback passed: the last good version runs',
      s: { currentVersion: '1.4.0', revision: 3, lastGoodRevision: 3, history: [e(3, '1.4.0', 'rollback', 'Healthy'), e(4, '1.5.0', 'update', 'RolledBack')] },
      running: '1.4.0',
    },
    {
      name: 'the applied revision failed and stayed (no rollback): not proven',
      s: { currentVersion: '1.5.0', revision: 4, lastGoodRevision: 3, history: [e(4, '1.5.0', 'update', 'Failed')] },
    },
    { name: 'what runs is unknown', s: { revision: 3, lastGoodRevision: 3 } },
  ];
  for (const row of rows) {
    test(row.name, () => {
      assert.deepEqual(runningOf({ ...base, ...row.s }), row.running !== undefined ? { running: row.running } : {});
    });
  }
});
