// The example manifests the README points vendors and admins to are valid as written.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseStack, parseYaml } from '../../src/api/validate.js';
import { validateRelease } from '../../src/api/validate-release.js';

const EXAMPLES = join(import.meta.dirname, '..', '..', '..', 'manifests', 'examples');
const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.js');

describe('manifests/examples', () => {
  test('the release example is a valid Release a vendor can publish as it is', async () => {
    const file = join(EXAMPLES, 'shop-1.5.0.release.yaml');
    const release = validateRelease(file, parseYaml(file, await readFile(file, 'utf8')));
    assert.equal(release.spec.version, '1.5.0');
    assert.equal(release.signature, undefined);
  });

  test('the channel-following Stack example is valid and leaves its version to the channel', async () => {
    const file = join(EXAMPLES, 'shop-following.yaml');
    const stack = parseStack(file, await readFile(file, 'utf8'));
    assert.equal(stack.spec.version, undefined);
    assert.equal(stack.spec.channel?.name, 'stable');
    assert.equal(stack.spec.channel?.intervalSeconds, 300);
    assert.equal(stack.spec.policy.autoApply, 'minor');
  });

  // A new user's first check of an example is `berth validate` on it, which also looks for
  // the compose files a Stack names: the example folder ships them.
  test('berth validate accepts every example as shipped', () => {
    const files = ['shop-following.yaml', 'shop-1.5.0.release.yaml'].map((f) => join(EXAMPLES, f));
    const r = spawnSync(process.execPath, [CLI, 'validate', ...files], { encoding: 'utf8' });
    assert.equal(r.status, 0, `berth validate refused the examples:\n${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /shop-following\.yaml: valid Stack "shop"/);
  });
});
