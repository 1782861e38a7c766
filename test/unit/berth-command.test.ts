// After `npm ci`, a new user can run `berth` as the README says: `npm ci` builds it (the
// prepare script), and `npx berth` finds the package's own bin from any folder of the
// repository, without asking the registry.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };

describe('the berth command after npm ci', () => {
  test('npm ci builds berth: the prepare script runs the build that makes the bin', () => {
    assert.equal(pkg.bin['berth'], 'dist/src/cli/main.js');
    assert.match(pkg.scripts['prepare'] ?? '', /npm run build|tsc/);
    assert.match(readFileSync(join(ROOT, 'dist', 'src', 'cli', 'main.js'), 'utf8'), /^#!\/usr\/bin\/env node\n/);
  });

  test('npx berth runs it from the repository root and from a folder inside it', async () => {
    for (const cwd of [ROOT, join(ROOT, 'manifests')]) {
      const { stdout } = await run('npx', ['--no-install', 'berth', '--help'], { cwd, env: { ...process.env, npm_config_update_notifier: 'false' } });
      assert.match(stdout, /^Usage: berth .*\n\nberth — an update operator/, cwd);
    }
  });
});
