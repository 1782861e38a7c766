// renderRevision() and resolveTarget(): the compose file berth runs, and the target it stands for.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { LABEL_INSTANCE } from '../../src/api/labels.js';
import { renderRevision } from '../../src/plan/render.js';
import { resolveTarget, TargetError } from '../../src/plan/target.js';
import { LABEL_REVISION, LABEL_STACK, type Target } from '../../src/plan/types.js';
import { COMPOSE_FILE, MANIFEST, STACK, composeDoc, pinned, stack, target } from './fixtures.js';

type Services = Record<string, Record<string, unknown>>;

function servicesOf(composeText: string): Services {
  const doc = parse(composeText) as { services: Services };
  return doc.services;
}

function labelsOf(composeText: string, service: string): Record<string, string> {
  const svc = servicesOf(composeText)[service];
  assert.ok(svc, `no service ${service}`);
  return svc['labels'] as Record<string, string>;
}

describe('renderRevision', () => {
  test('a pinned image replaces the image of the compose file and drops its build section', () => {
    const { composeText } = renderRevision(target(), 1);
    const web = servicesOf(composeText)['web']!;
    assert.equal(web['image'], pinned('web', 'a'));
    assert.equal('build' in web, false);
    assert.deepEqual(web['ports'], ['8080:80']);
  });

  test('a service the Stack does not pin keeps the image and build of the compose file', () => {
    const t = target({ images: { db: pinned('db', 'b') } });
    const { composeText, services } = renderRevision(t, 1);
    const web = servicesOf(composeText)['web']!;
    assert.equal(web['image'], 'registry.local/web:latest');
    assert.deepEqual(web['build'], { context: './web' });
    assert.equal(services.find((s) => s.name === 'web')!.pinned, undefined);
    assert.equal(services.find((s) => s.name === 'db')!.pinned, pinned('db', 'b'));
  });

  test('every service is labelled with the berth stack and revision', () => {
    const { composeText } = renderRevision(target(), 7);
    for (const name of ['web', 'db']) {
      const labels = labelsOf(composeText, name);
      assert.equal(labels[LABEL_STACK], STACK, name);
      assert.equal(labels[LABEL_REVISION], '7', name);
    }
  });

  test('every service is stamped with the berth instance that renders it, outside the definition hash', () => {
    const plain = renderRevision(target(), 1);
    const stamped = renderRevision(target(), 1, [], 'instance-a');
    for (const name of ['web', 'db']) {
      assert.equal(labelsOf(stamped.composeText, name)[LABEL_INSTANCE], 'instance-a', name);
      assert.equal(labelsOf(plain.composeText, name)[LABEL_INSTANCE], undefined, name);
    }
    // Another instance taking over renders the same definitions: revision labels carry over.
    assert.deepEqual(renderRevision(target(), 2, stamped.services, 'instance-b').services, stamped.services);
  });

  test("list-form labels of the user's file are kept beside berth's", () => {
    const t = target({}, composeDoc({ web: { image: 'registry.local/web:latest', labels: ['traefik.enable=true', 'team=shop=core', 'bare'] } }));
    const labels = labelsOf(renderRevision(t, 1).composeText, 'web');
    assert.deepEqual(labels, {
      'traefik.enable': 'true',
      team: 'shop=core',
      bare: '',
      [LABEL_STACK]: STACK,
      [LABEL_REVISION]: '1',
    });
  });

  test("map-form labels of the user's file are kept beside berth's", () => {
    const t = target({}, composeDoc({ db: { image: 'registry.local/db:latest', labels: { backup: 'nightly' } } }));
    const labels = labelsOf(renderRevision(t, 1).composeText, 'db');
    assert.equal(labels['backup'], 'nightly');
    assert.equal(labels[LABEL_REVISION], '1');
  });

  test('a service whose definition did not change keeps the previous revision number; a changed one gets the new number', () => {
    const first = renderRevision(target(), 1);
    const changed = target({ images: { web: pinned('web', 'c'), db: pinned('db', 'b') } });
    const second = renderRevision(changed, 2, first.services);
    assert.equal(labelsOf(second.composeText, 'web')[LABEL_REVISION], '2');
    assert.equal(labelsOf(second.composeText, 'db')[LABEL_REVISION], '1');
    assert.deepEqual(
      second.services.map((s) => [s.name, s.revision]),
      [
        ['web', 2],
        ['db', 1],
      ],
    );
    // And the carried-over number carries on: revision 3 changes db only, web keeps 2.
    const third = renderRevision(target({ images: { web: pinned('web', 'c'), db: pinned('db', 'd') } }), 3, second.services);
    assert.deepEqual(
      third.services.map((s) => [s.name, s.revision]),
      [
        ['web', 2],
        ['db', 3],
      ],
    );
  });

  test("a change to a service's compose definition (not its image) gives it the new revision number", () => {
    const first = renderRevision(target(), 1);
    const envChanged = target({}, composeDoc({ db: { image: 'registry.local/db:latest', environment: { POSTGRES_DB: 'shop2' } } }));
    const second = renderRevision(envChanged, 2, first.services);
    assert.equal(labelsOf(second.composeText, 'db')[LABEL_REVISION], '2');
    assert.equal(labelsOf(second.composeText, 'web')[LABEL_REVISION], '1');
  });

  test('the definition hash does not depend on the revision number, so the same target renders the same services', () => {
    const a = renderRevision(target(), 1);
    const b = renderRevision(target(), 9);
    assert.deepEqual(
      a.services.map((s) => s.definitionHash),
      b.services.map((s) => s.definitionHash),
    );
  });

  test('the rendered file says it is generated, and by which revision and version', () => {
    const { composeText } = renderRevision(target({ version: '3.1.4' }), 12);
    assert.match(composeText.split('\n')[0]!, /^# Rendered by berth for stack shop, revision 12 \(version 3\.1\.4\)\. Do not edit\.$/);
    const doc = parse(composeText) as Record<string, unknown>;
    assert.deepEqual(doc['x-berth'], { stack: STACK, revision: 12, version: '3.1.4' });
  });

  test("rendering does not modify the target's compose document", () => {
    const t = target();
    const before = structuredClone(t.compose);
    renderRevision(t, 1);
    assert.deepEqual(t.compose, before);
  });
});

describe('resolveTarget', () => {
  test('a Stack that pins an image for a service its compose file lacks is refused, naming the service', () => {
    assert.throws(
      () =>
        resolveTarget({
          stack: stack({ images: { web: pinned('web', 'a'), wbe: pinned('wbe', 'b') } }),
          manifest: MANIFEST,
          composeFile: COMPOSE_FILE,
          compose: composeDoc(),
        }),
      (err: unknown) => {
        assert.ok(err instanceof TargetError);
        assert.match(err.message, /"wbe"/);
        assert.match(err.message, /its services: web, db/);
        assert.ok(!/"web"/.test(err.message), 'a known service is not named as unknown');
        return true;
      },
    );
  });

  test('the project defaults to the stack name and the project directory is the compose file folder', () => {
    const t = target();
    assert.equal(t.project, STACK);
    assert.equal(t.projectDirectory, '/srv/stacks/shop');
    assert.equal(target({ project: 'shop-prod' }).project, 'shop-prod');
  });

  const base = target();
  const rows: Array<{ name: string; other: Target; changes: boolean }> = [
    { name: 'the version changes', other: target({ version: '1.0.1' }), changes: true },
    { name: 'a digest changes', other: target({ images: { web: pinned('web', 'a'), db: pinned('db', 'c') } }), changes: true },
    {
      name: 'the compose content changes',
      other: target({}, composeDoc({ db: { image: 'registry.local/db:latest', environment: { POSTGRES_DB: 'other' } } })),
      changes: true,
    },
    { name: 'the project changes', other: target({ project: 'shop-b' }), changes: true },
    { name: 'the same Stack is resolved again', other: target(), changes: false },
    { name: 'the mode changes', other: target({ mode: 'notify' }), changes: false },
    { name: 'an approval is added', other: target({ approve: '1.0.0' }), changes: false },
    { name: 'the resync interval changes', other: target({ resyncSeconds: 300 }), changes: false },
    {
      name: 'the compose keys are written in another order',
      other: target({}, { services: { db: composeDoc().services['db']!, web: composeDoc().services['web']! } }),
      changes: false,
    },
  ];
  for (const row of rows) {
    test(`the target key ${row.changes ? 'changes' : 'stays'} when ${row.name}`, () => {
      if (row.changes) assert.notEqual(row.other.key, base.key);
      else assert.equal(row.other.key, base.key);
    });
  }

  test('the generation changes with any spec change, even one that keeps the target key', () => {
    assert.notEqual(target({ mode: 'notify' }).generation, base.generation);
    assert.equal(target().generation, base.generation);
  });
});
