// Files in the manifests and state folders that cannot be read as berth expects: each is
// reported under its own name, and never stops berth from reading the files beside it.
import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { scanManifests } from '../../src/store/manifests.js';
import { resolveTargetFile } from '../../src/controller/target-file.js';
import { readInputs, type ComposeInputs } from '../../src/docker/compose-model.js';
import { StateStore } from '../../src/store/state.js';
import { stack } from './fixtures.js';

const manifest = (name: string) =>
  stringify({
    apiVersion: 'berth.dev/v1alpha1',
    kind: 'Stack',
    metadata: { name },
    spec: { compose: { file: `${name}/compose.yaml` }, version: '1.0.0' },
  });

// Nine levels of nine aliases: a few hundred bytes that expand to 9^9 strings.
const ALIAS_BOMB = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ...'bcdefghi'.split('').map((c, i) => {
    const prev = 'abcdefghi'[i] as string;
    return `${c}: &${c} [${Array(9).fill(`*${prev}`).join(',')}]`;
  }),
  'metadata: {name: bomb}',
].join('\n');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-unreadable-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const byFile = async () => new Map((await scanManifests(dir)).map((e) => [e.file.slice(dir.length + 1), e]));

describe('manifests that cannot be read as files are reported, and the files beside them still load', () => {
  test('a symlink loop is reported as ELOOP', async () => {
    await symlink('loop.yaml', join(dir, 'loop.yaml'));
    await writeFile(join(dir, 'shop.yaml'), manifest('shop'));
    const entries = await byFile();
    assert.match(entries.get('loop.yaml')?.error?.message ?? '', /ELOOP/);
    assert.equal(entries.get('shop.yaml')?.stack?.metadata.name, 'shop');
  });

  test('a folder named like a manifest is reported as a folder', async () => {
    await mkdir(join(dir, 'folder.yaml'));
    await writeFile(join(dir, 'shop.yaml'), manifest('shop'));
    const entries = await byFile();
    assert.match(entries.get('folder.yaml')?.error?.message ?? '', /folder|directory|EISDIR/);
    assert.equal(entries.get('shop.yaml')?.stack?.metadata.name, 'shop');
  });

  test('a FIFO is reported as not a regular file instead of blocking the scan', { timeout: 10_000 }, async () => {
    execFileSync('mkfifo', [join(dir, 'pipe.yaml')]);
    await writeFile(join(dir, 'shop.yaml'), manifest('shop'));
    const entries = await byFile();
    assert.match(entries.get('pipe.yaml')?.error?.message ?? '', /FIFO.*not a regular file/);
    assert.equal(entries.get('shop.yaml')?.stack?.metadata.name, 'shop');
  });

  test('a YAML alias bomb is reported as such, and the files beside it still get scanned', async () => {
    await writeFile(join(dir, 'bomb.yaml'), ALIAS_BOMB);
    await writeFile(join(dir, 'shop.yaml'), manifest('shop'));
    const entries = await byFile();
    assert.match(entries.get('bomb.yaml')?.error?.message ?? '', /bomb\.yaml: .*aliases/);
    assert.equal(entries.get('shop.yaml')?.stack?.metadata.name, 'shop');
  });
});

describe("a stack's compose file that is not a regular file", () => {
  test('a FIFO is an error naming the file, not a pass that never ends', { timeout: 10_000 }, async () => {
    await mkdir(join(dir, 'shop'));
    execFileSync('mkfifo', [join(dir, 'shop', 'compose.yaml')]);
    const s = stack();
    // Reading the inputs (to hash them) comes before any compose call, and must not block.
    const models = { resolve: async (_key: string, inputs: ComposeInputs) => Promise.reject(new Error(`read ${(await readInputs(inputs)).size} files`)) };
    const resolved = await resolveTargetFile(join(dir, 'shop.yaml'), { ...s, spec: { ...s.spec, compose: { file: 'shop/compose.yaml' } } }, models);
    assert.ok('error' in resolved);
    assert.match(resolved.error, /compose\.yaml.*FIFO/);
  });
});

describe('damaged files in the state folder', () => {
  test('a status.yaml that is not YAML is an error naming the file and what to do', async () => {
    const state = new StateStore(dir);
    await mkdir(join(dir, 'shop'));
    await writeFile(join(dir, 'shop', 'status.yaml'), 'status: {conditions: [\n  - broken: "');
    await assert.rejects(state.readStatus({ stack: 'shop' }), (err: Error) => {
      assert.match(err.message, new RegExp(`${join(dir, 'shop', 'status.yaml')}: not valid YAML`));
      assert.match(err.message, /berth rewrites it on its next pass/);
      return true;
    });
  });

  test('a truncated revision record is an error naming the file, not a record with fields missing', async () => {
    const state = new StateStore(dir);
    const s = stack();
    await state.writeRevision(
      {
        revision: 1,
        stack: 'shop',
        version: '1.0.0',
        images: {},
        targetKey: 'k',
        generation: 'g',
        project: 'shop',
        projectDirectory: dir,
        services: [],
        spec: s.spec,
        created: '2026-01-02T03:04:05.000Z',
      },
      'services: {}\n',
    );
    const path = join(dir, 'shop', 'revisions', '1', 'revision.yaml');
    const text = await readFile(path, 'utf8');
    await writeFile(path, text.slice(0, text.indexOf('created:')));
    await assert.rejects(new StateStore(dir).readRevision('shop', 1), /revision\.yaml: damaged.*created/);
  });
});
