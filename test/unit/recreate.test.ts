// berth diff: what compose up would do to each service, from compose's config hashes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseServiceHashes, recreatePlan, type RunningContainer } from '../../src/plan/recreate.js';

const c = (service: string, configHash?: string, name = `p-${service}-1`): RunningContainer => ({ service, name, ...(configHash ? { configHash } : {}) });

describe('recreatePlan: what compose up would recreate', () => {
  const rows: { why: string; wanted: Record<string, string>; running: RunningContainer[]; want: Record<string, string> }[] = [
    { why: 'a container whose hash equals the new definition is kept', wanted: { web: 'h1' }, running: [c('web', 'h1')], want: { web: 'keep' } },
    { why: 'a changed definition recreates it', wanted: { web: 'h2' }, running: [c('web', 'h1')], want: { web: 'recreate' } },
    { why: 'a container compose did not label (started another way) is recreated', wanted: { web: 'h1' }, running: [c('web')], want: { web: 'recreate' } },
    { why: 'one stale replica of several recreates the service', wanted: { web: 'h1' }, running: [c('web', 'h1', 'a'), c('web', 'h0', 'b')], want: { web: 'recreate' } },
    { why: 'a service with no container is created', wanted: { web: 'h1', db: 'h2' }, running: [c('web', 'h1')], want: { db: 'create', web: 'keep' } },
    { why: 'a service the file no longer has is removed (--remove-orphans)', wanted: { web: 'h1' }, running: [c('web', 'h1'), c('old', 'h9')], want: { web: 'keep', old: 'remove' } },
  ];
  for (const row of rows) {
    test(row.why, () => {
      const plan = recreatePlan(new Map(Object.entries(row.wanted)), row.running);
      assert.deepEqual(Object.fromEntries(plan.map((r) => [r.service, r.change])), row.want);
    });
  }

  test('compose config --hash output is read as service -> hash', () => {
    assert.deepEqual([...parseServiceHashes('db 2afd\nweb bbec\n\n')], [['db', '2afd'], ['web', 'bbec']]);
  });
});
