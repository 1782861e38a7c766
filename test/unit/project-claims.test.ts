// Two stacks that resolve to one compose project: one holds it, the other is refused. Who
// holds it does not depend on which pass runs first, nor change across a restart.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { projectClashMessage, projectHolders, type ProjectClaim } from '../../src/plan/project-claims.js';
import { ManifestIndex } from '../../src/controller/index.js';
import type { ManifestEntry } from '../../src/store/manifests.js';
import { stack } from './fixtures.js';

const claim = (name: string, project: string, running = false): ProjectClaim => ({ stack: name, manifest: `/m/${name}.yaml`, project, running });

describe('projectHolders: one stack holds each compose project', () => {
  const rows: { why: string; claims: ProjectClaim[]; previous?: Record<string, string>; holders: Record<string, string> }[] = [
    { why: 'a project claimed once is held by its stack', claims: [claim('a', 'p'), claim('b', 'q')], holders: { p: 'a', q: 'b' } },
    { why: 'with nothing running and no holder yet, the first manifest by file name holds it', claims: [claim('b', 'p'), claim('a', 'p')], holders: { p: 'a' } },
    { why: 'the holder of this run keeps it against a file that sorts first', claims: [claim('a', 'p'), claim('b', 'p')], previous: { p: 'b' }, holders: { p: 'b' } },
    { why: 'a stack whose revision runs under the project keeps it against any other', claims: [claim('a', 'p'), claim('b', 'p', true)], holders: { p: 'b' } },
    { why: '... also against the holder of this run that runs nothing there yet', claims: [claim('a', 'p'), claim('b', 'p', true)], previous: { p: 'a' }, holders: { p: 'b' } },
    { why: 'two running (left from before berth refused them): the holder of this run keeps it', claims: [claim('a', 'p', true), claim('b', 'p', true)], previous: { p: 'b' }, holders: { p: 'b' } },
    { why: 'two running, no holder yet: the first by file name', claims: [claim('b', 'p', true), claim('a', 'p', true)], holders: { p: 'a' } },
    { why: 'the previous holder that moved to another project no longer counts', claims: [claim('a', 'q'), claim('b', 'p'), claim('c', 'p')], previous: { p: 'a' }, holders: { q: 'a', p: 'b' } },
  ];
  for (const row of rows) {
    test(row.why, () => {
      const holders = projectHolders(row.claims, new Map(Object.entries(row.previous ?? {})));
      assert.deepEqual(Object.fromEntries([...holders].map(([p, c]) => [p, c.stack])), row.holders);
    });
  }

  test('the refusal names both stacks, both files and the project, and says what to do', () => {
    const message = projectClashMessage(claim('b', 'shop'), claim('a', 'shop', true));
    for (const part of ['"b"', '/m/b.yaml', '"a"', '/m/a.yaml', '"shop"', 'spec.compose.project']) assert.ok(message.includes(part), `${part} in ${message}`);
  });
});

const entry = (name: string): ManifestEntry => {
  const s = stack();
  return { file: `/m/${name}.yaml`, stack: { ...s, metadata: { ...s.metadata, name } }, declaredName: name };
};
const noneOnDisk = async () => undefined;

describe('ManifestIndex.claimProject: the second stack in a project is told who holds it', () => {
  test('the stack that claims second is refused, and every later pass of either gets the same answer', async () => {
    const index = new ManifestIndex();
    await index.update([entry('a'), entry('b')], noneOnDisk);
    assert.equal(index.claimProject(claim('a', 'p')), undefined);
    for (let pass = 0; pass < 3; pass++) {
      assert.equal(index.claimProject(claim('b', 'p'))?.stack, 'a');
      assert.equal(index.claimProject(claim('a', 'p')), undefined);
    }
    await index.update([entry('a'), entry('b')], noneOnDisk);
    assert.equal(index.claimProject(claim('b', 'p'))?.stack, 'a', 'a rescan changes nothing');
  });

  test('a stack that claimed first keeps the project when a later file sorting first claims it', async () => {
    const index = new ManifestIndex();
    await index.update([entry('b')], noneOnDisk);
    assert.equal(index.claimProject(claim('b', 'p')), undefined);
    await index.update([entry('a'), entry('b')], noneOnDisk);
    assert.equal(index.claimProject(claim('a', 'p'))?.stack, 'b');
    assert.equal(index.claimProject(claim('b', 'p', true)), undefined);
  });

  test('after a restart, the stack whose status says it runs under the project keeps it before its first pass', async () => {
    const index = new ManifestIndex();
    const running = async (name: string) => (name === 'b' ? 'p' : undefined);
    await index.update([entry('a'), entry('b')], noneOnDisk, running);
    assert.equal(index.claimProject(claim('a', 'p'))?.stack, 'b');
    assert.deepEqual(index.stacksOfProject('p'), ['a', 'b']);
  });

  test("a stack's status is read for its claim once per run, not on every rescan", async () => {
    const index = new ManifestIndex();
    const reads: string[] = [];
    const running = async (name: string) => {
      reads.push(name);
      return undefined;
    };
    for (let i = 0; i < 5; i++) await index.update([entry('a'), entry('b')], noneOnDisk, running);
    assert.deepEqual(reads.sort(), ['a', 'b']);
  });

  test('once the holder is gone, the refused stack gets the project', async () => {
    const index = new ManifestIndex();
    await index.update([entry('a'), entry('b')], noneOnDisk);
    index.claimProject(claim('a', 'p'));
    assert.equal(index.claimProject(claim('b', 'p'))?.stack, 'a');
    await index.update([entry('b')], noneOnDisk);
    assert.equal(index.claimProject(claim('b', 'p')), undefined);
  });

  test('a holder that moves to another project frees the old one', async () => {
    const index = new ManifestIndex();
    await index.update([entry('a'), entry('b')], noneOnDisk);
    index.claimProject(claim('a', 'p'));
    assert.equal(index.claimProject(claim('b', 'p'))?.stack, 'a');
    assert.equal(index.claimProject(claim('a', 'q')), undefined);
    assert.equal(index.claimProject(claim('b', 'p')), undefined);
  });
});
