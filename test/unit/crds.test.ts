// crds/ is generated from the schemas; this test fails when it is stale.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { renderCrds } from '../../src/api/crd.js';

// dist/test/unit/ -> the repository root.
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const crds = renderCrds();

/** Every (path, key, value) in a parsed YAML value. */
function* walk(value: unknown, path = ''): Generator<[string, string, unknown]> {
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) yield* walk(v, `${path}[${i}]`);
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      yield [path, k, v];
      yield* walk(v, path ? `${path}.${k}` : k);
    }
  }
}

function openApiSchemaOf(text: string): unknown {
  const doc = parse(text) as { spec: { versions: Array<{ schema: { openAPIV3Schema: unknown } }> } };
  const schema = doc.spec.versions[0]?.schema.openAPIV3Schema;
  assert.ok(schema, 'the CRD has an openAPIV3Schema');
  return schema;
}

describe('crds/', () => {
  test('crds/ holds exactly the generated files', async () => {
    const onDisk = (await readdir(join(root, 'crds'))).filter((f) => f.endsWith('.yaml')).sort();
    assert.deepEqual(onDisk, [...crds.keys()].sort(), 'crds/ is stale: run `npm run crds`');
  });

  for (const [name, text] of crds) {
    test(
      `crds/${name} equals what the schemas generate`,
      async () => {
        const file = join(root, 'crds', name);
        const onDisk = await readFile(file, 'utf8').catch(() => '(missing)');
        assert.equal(onDisk, text, `crds/${name} is stale: run \`npm run crds\` and commit the result`);
      },
    );

    test(`crds/${name} is a structural schema: no const, $id or additionalProperties: false`, () => {
      const offending: string[] = [];
      for (const [path, key, value] of walk(openApiSchemaOf(text))) {
        if (key === 'const' || key === '$id' || (key === 'additionalProperties' && value === false)) {
          offending.push(`${path || '(root)'}.${key}`);
        }
      }
      assert.deepEqual(offending, []);
    });
  }

  test('a const of the schema becomes a one-value enum of type string in the CRD', () => {
    const schema = openApiSchemaOf(crds.get('stack.yaml')!) as { properties: Record<string, unknown> };
    assert.deepEqual(schema.properties['apiVersion'], { type: 'string', enum: ['berth.dev/v1alpha1'] });
    assert.deepEqual(schema.properties['kind'], { type: 'string', enum: ['Stack'] });
    assert.deepEqual(schema.properties['metadata'], { type: 'object' });
  });
});
