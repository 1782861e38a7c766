// The controller's half of adoption: compose is asked for the unlabelled services' hashes only
// while a first revision could adopt something, and once per target, not once per pass.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { AdoptableHashes } from '../../src/controller/adoption.js';
import type { ComposeResult, RunOptions } from '../../src/docker/compose.js';
import { container, observed, record, recorded, target, valid } from './fixtures.js';

function fakeCompose() {
  const calls: { args: string[]; input?: string }[] = [];
  return {
    calls,
    run: async (args: string[], opts: RunOptions): Promise<ComposeResult> => {
      calls.push({ args, ...(opts.input !== undefined ? { input: opts.input } : {}) });
      return { stdout: `web ${'a'.repeat(64)}\ndb ${'b'.repeat(64)}\n`, stderr: '' };
    },
  };
}

const log = pino({ level: 'silent' });
const handRun = observed([container('web', { configHash: 'a'.repeat(64) }), container('db', { configHash: 'c'.repeat(64) })]);

describe('AdoptableHashes', () => {
  test('a first revision over a hand-run install: compose hashes the unlabelled file once per target, given on stdin', async () => {
    const compose = fakeCompose();
    const hashes = new AdoptableHashes(compose, log);
    const t = target();
    const got = await hashes.of('shop', valid(t), recorded(), handRun);
    assert.deepEqual(got, { web: 'a'.repeat(64), db: 'b'.repeat(64) });
    await hashes.of('shop', valid(t), recorded(), handRun);
    assert.equal(compose.calls.length, 1, 'asked again for the same target');
    assert.deepEqual(compose.calls[0]!.args.slice(-3), ['config', '--hash', '*']);
    assert.ok(compose.calls[0]!.args.includes('-'), 'the file is given on stdin');
    assert.doesNotMatch(compose.calls[0]!.input ?? '', /dev\.berth/, 'no berth label in what is hashed');
    await hashes.of('shop', valid(target({ version: '2.0.0', images: { web: 'registry.local/web@sha256:' + 'd'.repeat(64) } })), recorded(), handRun);
    assert.equal(compose.calls.length, 2, 'a new target is hashed anew');
  });

  test('nothing to adopt: no compose call', async () => {
    const compose = fakeCompose();
    const hashes = new AdoptableHashes(compose, log);
    const t = target();
    const cases = [
      { name: 'a revision is applied', desired: valid(t), recorded: recorded(record(t, 1)), observed: handRun },
      { name: 'no container runs', desired: valid(t), recorded: recorded(), observed: observed([]) },
      { name: 'every container carries a berth stamp', desired: valid(t), recorded: recorded(), observed: observed([container('web', { instance: 'other', revision: 1 })]) },
      { name: 'mode disabled (hands off)', desired: valid(target({ mode: 'disabled' })), recorded: recorded(), observed: handRun },
    ];
    for (const c of cases) assert.equal(await hashes.of('shop', c.desired, c.recorded, c.observed), undefined, c.name);
    assert.equal(compose.calls.length, 0);
  });

  test('compose failing to hash is not fatal: nothing is adopted, every service is labelled as before', async () => {
    const hashes = new AdoptableHashes({ run: async () => Promise.reject(new Error('compose exploded')) }, log);
    assert.equal(await hashes.of('shop', valid(target()), recorded(), handRun), undefined);
  });
});
