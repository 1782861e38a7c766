// How loud berth says what a pass did: a rollback and a failed update stand out from info.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { levelOfAction, levelOfReady } from '../../src/controller/log-levels.js';

test('a rollback is announced at warn; applying, resuming, repairing and verifying at info', () => {
  assert.equal(levelOfAction('rollback'), 'warn');
  for (const a of ['apply', 'resume', 'repair', 'verify', 'none'] as const) assert.equal(levelOfAction(a), 'info', a);
});

test('Ready turning Failed or RollbackFailed is an error, RolledBack or InvalidSpec a warning, anything else info', () => {
  assert.equal(levelOfReady('Failed'), 'error');
  assert.equal(levelOfReady('RollbackFailed'), 'error');
  assert.equal(levelOfReady('RolledBack'), 'warn');
  assert.equal(levelOfReady('InvalidSpec'), 'warn', 'a manifest a person must fix');
  for (const r of ['Converged', 'Applying', 'Verifying', 'AwaitingApproval']) assert.equal(levelOfReady(r), 'info', r);
});
