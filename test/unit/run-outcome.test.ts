// runOutcome(): the exit code and last line of `berth run --once`. Non-zero whenever a stack
// did not end on its target, not only when a pass raised an error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StackStatus } from '../../src/api/types.js';
import { runOutcome, type StackPass } from '../../src/controller/run-outcome.js';

type Cond = [type: string, status: 'True' | 'False' | 'Unknown', reason: string, message?: string];

function status(fields: Partial<StackStatus['status']>, conds: Cond[]): StackStatus {
  return {
    apiVersion: 'berth.dev/v1alpha1',
    kind: 'StackStatus',
    metadata: { name: 'shop' },
    status: {
      ...fields,
      conditions: conds.map(([type, s, reason, message]) => ({ type, status: s, reason, message: message ?? reason, lastTransitionTime: '2026-01-01T00:00:00Z' })),
    },
  } as StackStatus;
}

const converged = status({ mode: 'auto', currentVersion: '1.0.0' }, [['Ready', 'True', 'Converged'], ['Degraded', 'False', 'AsExpected']]);
const rolledBack = status(
  {
    mode: 'auto',
    currentVersion: '1.0.0',
    quarantine: { targetKey: 'k', version: '1.1.0', revision: 2, reason: 'Unhealthy', message: 'web unhealthy', since: '2026-01-01T00:00:00Z' },
  },
  [['Ready', 'False', 'RolledBack', 'rolled back'], ['Degraded', 'True', 'RolledBack']],
);
const invalidSpec = status({ mode: 'auto' }, [['Ready', 'False', 'InvalidSpec', 'spec.mode: must be one of\n  "auto"'], ['Degraded', 'False', 'AsExpected']]);
const awaiting = status({ mode: 'notify', currentVersion: '1.0.0' }, [['Ready', 'False', 'AwaitingApproval'], ['AwaitingApproval', 'True', 'ApprovalRequired'], ['Degraded', 'False', 'AsExpected']]);
const disabled = status({ mode: 'disabled' }, [['Ready', 'False', 'UpdatesDisabled'], ['Degraded', 'False', 'AsExpected']]);
const disabledButFailed = status({ mode: 'disabled' }, [['Ready', 'False', 'CrashLooping'], ['Degraded', 'True', 'CrashLooping']]);
const stillUnhealthy = status({ mode: 'auto', currentVersion: '1.0.0' }, [['Ready', 'False', 'Unhealthy', 'unhealthy: web'], ['Degraded', 'True', 'Unhealthy']]);

const rows: Array<{ name: string; passes: StackPass[]; exit: 0 | 1; off: string[]; line?: RegExp }> = [
  { name: 'every stack converged', passes: [{ key: 'stack:shop', status: converged }], exit: 0, off: [], line: /1 stack\(s\), every one on its target$/ },
  { name: 'no stacks at all', passes: [], exit: 0, off: [] },
  {
    name: 'an update failed its gate and was rolled back',
    passes: [{ key: 'stack:shop', status: rolledBack }],
    exit: 1,
    off: ['shop'],
    line: /1 of 1 stack\(s\) did not end on their target: shop \(Unhealthy: version 1\.1\.0 failed and was rolled back; version 1\.0\.0 runs\)$/,
  },
  { name: 'a stack whose manifest is invalid', passes: [{ key: 'stack:shop', status: invalidSpec }], exit: 1, off: ['shop'], line: /shop \(InvalidSpec: spec\.mode: must be one of "auto"\)$/ },
  {
    name: 'an invalid manifest over a quarantined version says InvalidSpec',
    passes: [{ key: 'stack:shop', status: status({ ...rolledBack.status, conditions: [] }, [['Ready', 'False', 'InvalidSpec', 'bad'], ['Degraded', 'True', 'RolledBack']]) }],
    exit: 1,
    off: ['shop'],
    line: /shop \(InvalidSpec: bad\)$/,
  },
  { name: 'a manifest that never named its stack', passes: [{ key: 'file:bad.yaml', status: invalidSpec }], exit: 1, off: ['file bad.yaml'] },
  {
    name: 'a pass that failed (a pull, say)',
    passes: [{ key: 'stack:shop', error: Object.assign(new Error('pull of x failed'), { name: 'PullFailed' }), status: stillUnhealthy }],
    exit: 1,
    off: ['shop'],
    line: /shop \(.*: pull of x failed\)$/,
  },
  { name: 'a pass that wrote no status', passes: [{ key: 'stack:shop' }], exit: 1, off: ['shop'] },
  { name: 'a running stack that is unhealthy', passes: [{ key: 'stack:shop', status: stillUnhealthy }], exit: 1, off: ['shop'] },
  { name: 'notify mode waiting for a person to approve is not a failure', passes: [{ key: 'stack:shop', status: awaiting }], exit: 0, off: [] },
  { name: 'disabled mode keeps its hands off: not a failure', passes: [{ key: 'stack:shop', status: disabled }], exit: 0, off: [] },
  { name: 'disabled mode with a failing stack still fails', passes: [{ key: 'stack:shop', status: disabledButFailed }], exit: 1, off: ['shop'] },
  {
    name: 'one of two stacks off target: only it is named',
    passes: [
      { key: 'stack:ok', status: converged },
      { key: 'stack:shop', status: rolledBack },
    ],
    exit: 1,
    off: ['shop'],
    line: /: 1 of 2 stack\(s\) did not end on their target: shop \(/,
  },
];

for (const row of rows) {
  test(`run --once outcome: ${row.name}`, () => {
    const out = runOutcome(row.passes);
    assert.equal(out.exitCode, row.exit);
    assert.deepEqual(
      out.off.map((o) => o.name),
      row.off,
    );
    assert.ok(!out.summary.includes('\n'), 'the summary is one line');
    if (row.line) assert.match(out.summary, row.line);
  });
}
