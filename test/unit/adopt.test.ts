// Adopting a running install (plan/adopt.ts, render, decide, drift): a service whose
// containers carry the config hash compose gives its unlabelled definition is adopted as it
// runs, rendered without berth's labels and known by that hash; everything else is labelled.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { adoptedServices } from '../../src/plan/adopt.js';
import { findDrift } from '../../src/plan/compare.js';
import { decide } from '../../src/plan/decide.js';
import { carriedServices, renderRevision, renderUnlabelled } from '../../src/plan/render.js';
import { resumeAfterRestart } from '../../src/plan/resume.js';
import { revisionRuns } from '../../src/plan/runs.js';
import { LABEL_REVISION, type ObservedContainer, type RevisionRecord } from '../../src/plan/types.js';
import { NOW, composeDoc, container, observed, operation, pinned, record, recorded, target, valid } from './fixtures.js';

const H_WEB = 'a'.repeat(64);
const H_DB = 'b'.repeat(64);
const HASHES = { web: H_WEB, db: H_DB };

function labelsOf(composeText: string, service: string): Record<string, string> | undefined {
  return (parse(composeText) as { services: Record<string, { labels?: Record<string, string> }> }).services[service]?.labels;
}

describe('adoptedServices', () => {
  const rows: Array<{ name: string; containers: ObservedContainer[]; adopted: string[] }> = [
    { name: 'every container carries its unlabelled hash', containers: [container('web', { configHash: H_WEB }), container('db', { configHash: H_DB })], adopted: ['db', 'web'] },
    { name: 'one service runs another definition', containers: [container('web', { configHash: 'c'.repeat(64) }), container('db', { configHash: H_DB })], adopted: ['db'] },
    { name: 'a service has no container', containers: [container('db', { configHash: H_DB })], adopted: ['db'] },
    {
      name: 'one of two replicas runs another definition',
      containers: [container('web', { configHash: H_WEB, name: 'shop-web-1' }), container('web', { configHash: 'c'.repeat(64), name: 'shop-web-2' })],
      adopted: [],
    },
    { name: 'a container compose did not label', containers: [container('web')], adopted: [] },
    { name: 'a container berth stamped (another instance)', containers: [container('web', { configHash: H_WEB, instance: 'other' })], adopted: [] },
    { name: 'a container with a berth revision label', containers: [container('web', { configHash: H_WEB, revision: 3 })], adopted: [] },
  ];
  for (const row of rows) {
    test(`${row.name} -> adopts ${row.adopted.join(', ') || 'nothing'}`, () => {
      assert.deepEqual(Object.keys(adoptedServices(HASHES, observed(row.containers))).sort(), row.adopted);
    });
  }
});

describe('rendering with adopted services', () => {
  test('an adopted service has no berth label and is known by its hash; the others are labelled', () => {
    const t = target({}, composeDoc({ web: { image: 'registry.local/web:latest', labels: { team: 'shop' } } }));
    const r = renderRevision(t, 1, [], 'instance-a', { web: H_WEB });
    assert.deepEqual(labelsOf(r.composeText, 'web'), { team: 'shop' });
    assert.equal(labelsOf(r.composeText, 'db')?.[LABEL_REVISION], '1');
    assert.equal(r.services.find((s) => s.name === 'web')?.configHash, H_WEB);
    assert.equal(r.services.find((s) => s.name === 'db')?.configHash, undefined);
    // The adopted service renders exactly as it does with no label at all: what compose hashed.
    const plain = renderUnlabelled(t);
    assert.deepEqual(parse(r.composeText).services.web, parse(plain.composeText).services.web);
  });

  test('an adopted service stays unlabelled while its definition stays, and is labelled once it changes', () => {
    const first = renderRevision(target(), 1, [], 'i', { web: H_WEB, db: H_DB });
    const dbChanged = target({ images: { web: pinned('web', 'a'), db: pinned('db', 'c') } });
    const second = renderRevision(dbChanged, 2, first.services, 'i');
    assert.equal(labelsOf(second.composeText, 'web'), undefined);
    assert.equal(second.services.find((s) => s.name === 'web')?.configHash, H_WEB);
    assert.equal(labelsOf(second.composeText, 'db')?.[LABEL_REVISION], '2');
    assert.equal(second.services.find((s) => s.name === 'db')?.configHash, undefined);
  });
});

describe('drift of an adopted service', () => {
  const rec = { services: renderRevision(target(), 1, [], undefined, { web: H_WEB, db: H_DB }).services } as RevisionRecord;
  const runs = revisionRuns(rec);
  const cs = (web: string, db: string) => [
    container('web', { configHash: web, digests: [pinned('web', 'a')] }),
    container('db', { configHash: db, digests: [pinned('db', 'b')] }),
  ];
  test('containers that carry the recorded hash run the revision, with no berth label', () => {
    assert.deepEqual(findDrift(runs, observed(cs(H_WEB, H_DB))), []);
  });
  test('a container made from another definition is stale', () => {
    const drift = findDrift(runs, observed(cs(H_WEB, 'c'.repeat(64))));
    assert.deepEqual(drift.map((d) => [d.service, d.kind]), [['db', 'staleRevision']]);
  });
});

describe('decide: the first revision over a running install', () => {
  const t = target();
  const running = [
    container('web', { configHash: H_WEB, digests: [pinned('web', 'a')] }),
    container('db', { configHash: 'c'.repeat(64), digests: [pinned('db', 'b')] }),
  ];

  test('adopts the services that run as rendered and labels the others', () => {
    const plan = decide({ desired: valid(t), recorded: recorded(), observed: observed(running), adoptable: HASHES, instance: 'i', now: NOW });
    assert.equal(plan.action, 'apply');
    const write = plan.steps.find((s) => s.kind === 'writeRevision');
    assert.ok(write?.kind === 'writeRevision');
    assert.deepEqual(write.record.services.map((s) => [s.name, s.configHash]), [['web', H_WEB], ['db', undefined]]);
    assert.equal(labelsOf(write.composeText, 'web'), undefined);
    assert.equal(labelsOf(write.composeText, 'db')?.['dev.berth.instance'], 'i');
  });

  test('without hashes (compose could not tell) every service is labelled, as before', () => {
    const plan = decide({ desired: valid(t), recorded: recorded(), observed: observed(running), instance: 'i', now: NOW });
    const write = plan.steps.find((s) => s.kind === 'writeRevision');
    assert.ok(write?.kind === 'writeRevision');
    assert.ok(write.record.services.every((s) => s.configHash === undefined));
  });
});

describe('an adopted revision after a restart of berth, and under another project', () => {
  const t = target();
  const rec: RevisionRecord = { ...record(t, 1), services: renderRevision(t, 1, [], undefined, { web: H_WEB, db: H_DB }).services };
  const running = () => [
    container('web', { configHash: H_WEB, digests: [pinned('web', 'a')] }),
    container('db', { configHash: H_DB, digests: [pinned('db', 'b')] }),
  ];

  test('verification resumes over the adopted containers: compose up does not run again', () => {
    assert.equal(resumeAfterRestart(operation(rec), rec, observed(running())).reapply, false);
  });

  test('a container made from another definition while berth was down makes compose up run again', () => {
    const drifted = [running()[0]!, container('db', { configHash: 'c'.repeat(64), digests: [pinned('db', 'b')] })];
    assert.equal(resumeAfterRestart(operation(rec), rec, observed(drifted)).reapply, true);
  });

  test('under another project nothing stays unlabelled: every container there is created anew', () => {
    const moved = target({ project: 'shop-b' });
    assert.ok(carriedServices(rec, moved).every((s) => s.configHash === undefined));
    assert.deepEqual(carriedServices(rec, t), rec.services);
  });
});
