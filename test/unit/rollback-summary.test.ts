// What `berth rollback` says it changed in the manifest, as a person reads it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rollbackSummary } from '../../src/cli/rollback.js';

const base = { stack: 'demo', version: '2.0.0', revision: 3, manifest: '/srv/m/demo.yaml' };

test('a pinned stack: the version change reads from -> to', () => {
  assert.equal(
    rollbackSummary({ ...base, fromVersion: '2.1.0' }),
    'demo: spec.version 2.1.0 -> 2.0.0, spec.images set to those of revision 3, in /srv/m/demo.yaml.',
  );
});

test('a channel stack had no spec.version: the line says it was unset, not "- -> 2.0.0"', () => {
  const line = rollbackSummary(base);
  assert.doesNotMatch(line, / - -> /);
  assert.equal(line, 'demo: spec.version set to 2.0.0 (it was unset), spec.images set to those of revision 3, in /srv/m/demo.yaml.');
});

test('in notify mode the rollback is the approval, and says so', () => {
  assert.match(rollbackSummary({ ...base, fromVersion: '2.1.0', approve: '2.0.0' }), /, spec\.approve set to 2\.0\.0 \(the stack is in notify mode; this rollback is the approval\), in /);
});
