// Release names follow Kubernetes' DNS-1123 subdomain rule, as most Kubernetes kinds do:
// a vendor names a release after its version (shop-1.5.0). A Stack's name stays a DNS label,
// since it is also a compose project name, where dots are not allowed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidManifestError, parseStack } from '../../src/api/validate.js';
import { validateRelease } from '../../src/api/validate-release.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;

function release(name: string): unknown {
  return {
    apiVersion: 'berth.dev/v1alpha1',
    kind: 'Release',
    metadata: { name },
    spec: { version: '1.5.0', images: { web: `registry.local/web@${DIGEST}` } },
  };
}

function refusedAtName(fn: () => unknown): void {
  assert.throws(fn, (err: unknown) => err instanceof InvalidManifestError && err.problems.some((p) => p.path === 'metadata.name'));
}

describe('Release metadata.name', () => {
  test('takes dots, as in shop-1.5.0', () => {
    assert.equal(validateRelease('r.yaml', release('shop-1.5.0')).metadata.name, 'shop-1.5.0');
    assert.equal(validateRelease('r.yaml', release('shop.example.com-2.0.0-rc.1')).metadata.name, 'shop.example.com-2.0.0-rc.1');
  });

  test('takes up to 253 characters and no more', () => {
    const label = 'a'.repeat(63);
    const at253 = [label, label, label, 'b'.repeat(61)].join('.');
    assert.equal(at253.length, 253);
    assert.equal(validateRelease('r.yaml', release(at253)).metadata.name, at253);
    refusedAtName(() => validateRelease('r.yaml', release(`${at253}c`)));
  });

  test('refuses what no DNS subdomain is: capitals, underscores, empty labels, a dot or dash at either end', () => {
    for (const bad of ['Shop-1.5.0', 'shop_1.5.0', 'shop..1', '.shop', 'shop.', '-shop', 'shop-', 'shop.-1', '']) {
      refusedAtName(() => validateRelease('r.yaml', release(bad)));
    }
  });
});

describe('Stack metadata.name', () => {
  test('stays a DNS label (it is a compose project name): a dot is refused', () => {
    const text = `apiVersion: berth.dev/v1alpha1\nkind: Stack\nmetadata:\n  name: shop.1\nspec:\n  compose:\n    file: c.yaml\n  version: "1"\n`;
    refusedAtName(() => parseStack('s.yaml', text));
  });
});
