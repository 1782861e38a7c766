// Which `-p` berth passes compose: none unless the Stack sets one, so compose decides as it
// does for a person in that folder (COMPOSE_PROJECT_NAME, the file's name:, the folder). A
// stack an older berth ran under `-p <metadata.name>` stays in that project: moving it would
// orphan its containers and start it again with new volumes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { projectFlag } from '../../src/plan/project-name.js';
import { composeInputsOf } from '../../src/controller/target-file.js';
import { stack } from './fixtures.js';

describe('projectFlag: the -p berth passes, if any', () => {
  const rows: { why: string; spec?: string; applied?: string; want: string | undefined }[] = [
    { why: 'a new stack: compose decides (COMPOSE_PROJECT_NAME, name:, folder)', want: undefined },
    { why: 'spec.compose.project is passed as -p', spec: 'shop-eu', want: 'shop-eu' },
    { why: 'spec.compose.project wins over the project the stack runs under', spec: 'shop-eu', applied: 'shop', want: 'shop-eu' },
    { why: 'a stack running under metadata.name (as every older berth ran it) stays there', applied: 'shop', want: 'shop' },
    { why: 'a stack running under the project compose decided is left to compose', applied: 'vendor-shop', want: undefined },
  ];
  for (const row of rows) {
    test(row.why, () => assert.equal(projectFlag(row.spec, 'shop', row.applied), row.want));
  }
});

describe('composeInputsOf: the project flag', () => {
  const manifest = '/srv/manifests/shop.yaml';
  const s = stack();
  const withCompose = (compose: Record<string, unknown>) => ({ ...s, metadata: { ...s.metadata, name: 'shop' }, spec: { ...s.spec, compose: compose as typeof s.spec.compose } });
  test('a new stack passes no -p and no default: compose names the project', () => {
    const inputs = composeInputsOf(manifest, withCompose({ file: 'vendor/compose.yaml' }));
    assert.equal(inputs.project, undefined);
    assert.equal(inputs.defaultProject, undefined);
  });
  test('a stack whose applied revision ran under metadata.name keeps -p metadata.name, whatever the files now say', () => {
    assert.equal(composeInputsOf(manifest, withCompose({ file: 'vendor/compose.yaml' }), 'shop').project, 'shop');
  });
  test('spec.compose.project is -p', () => {
    assert.equal(composeInputsOf(manifest, withCompose({ file: 'vendor/compose.yaml', project: 'eu' }), 'shop').project, 'eu');
  });
});
