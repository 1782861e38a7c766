// setStackTarget(): berth edits a person's Stack manifest (for `berth rollback`) changing only
// spec.version and spec.images, byte for byte everything else, and refuses rather than write
// a bad file or overwrite an edit. findGitCheckout(): whether that file belongs to git.
import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { access, chmod, chown, mkdir, mkdtemp, readdir, readFile, realpath, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { InvalidManifestError } from '../../src/api/validate.js';
import { ConcurrentEditError, findGitCheckout, setStackTarget } from '../../src/store/edit.js';

const digest = (ch: string) => `sha256:${ch.repeat(64)}`;
const WEB_A = `registry.local/web@${digest('a')}`;
const WEB_D = `registry.local/web@${digest('d')}`;
const DB_B = `registry.local/db@${digest('b')}`;
const CACHE_C = `registry.local/cache@${digest('c')}`;
const QUEUE_E = `registry.local/queue@${digest('e')}`;

// Hand-written on purpose: aligned comments, a blank line, mixed quoting. yaml's own
// toString() would change several of these lines.
const MANIFEST = `# Shop: owned by the ops team; berth edits only version and images.
apiVersion: berth.dev/v1alpha1
kind: Stack
metadata:
  name: shop   # also the compose project
spec:
  compose:
    file: shop/compose.yaml

  # CI bumps this on release
  version: "1.4.2"    # current release
  images:
    # the storefront
    web: ${WEB_A}   # built by CI
    db: '${DB_B}'
    cache: ${CACHE_C}
  mode: auto
# end
`;

let dir: string;
let file: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-edit-'));
  file = join(dir, 'shop.yaml');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** What must not change when an edit is refused: the text, the inode, and no temp file beside it. */
async function snapshot(path: string): Promise<{ text: string; ino: number; entries: string[] }> {
  return { text: await readFile(path, 'utf8'), ino: (await stat(path)).ino, entries: (await readdir(dirname(path))).sort() };
}

describe('setStackTarget', () => {
  test('changes only the values it sets: comments, spacing, quoting and other fields stay byte for byte', async () => {
    await writeFile(file, MANIFEST);
    const result = await setStackTarget(file, { version: '1.3.0', images: { web: WEB_D, db: DB_B, queue: QUEUE_E } });
    assert.deepEqual(result, {
      file,
      changed: true,
      before: { version: '1.4.2', images: { web: WEB_A, db: DB_B, cache: CACHE_C } },
    });
    assert.equal(
      await readFile(file, 'utf8'),
      `# Shop: owned by the ops team; berth edits only version and images.
apiVersion: berth.dev/v1alpha1
kind: Stack
metadata:
  name: shop   # also the compose project
spec:
  compose:
    file: shop/compose.yaml

  # CI bumps this on release
  version: "1.3.0"    # current release
  images:
    # the storefront
    web: ${WEB_D}   # built by CI
    db: '${DB_B}'
    queue: ${QUEUE_E}
  mode: auto
# end
`,
    );
    assert.deepEqual(await readdir(dir), ['shop.yaml'], 'no temp file left beside it');
  });

  test('a manifest with aligned inline comments changes in exactly the intended lines, its comments staying in their column', async () => {
    const ALIGNED = `apiVersion: berth.dev/v1alpha1   # the API
kind: Stack                      # a berth stack
metadata:
  name: shop                     # also the project
spec:
  compose:
    file: shop/compose.yaml      # the person's file
  version: 1.4.2                 # current release
  images:
    web: ${WEB_A}  # built by CI
    db: ${DB_B}   # pinned
  mode: notify                   # a person approves
  approve: 1.4.2                 # approved by ops
  resyncSeconds: 30              # look again
`;
    await writeFile(file, ALIGNED);
    await setStackTarget(file, { version: '1.3.10', images: { web: WEB_D, db: DB_B }, approve: '1.3.10' });
    const before = ALIGNED.split('\n');
    const after = (await readFile(file, 'utf8')).split('\n');
    assert.equal(after.length, before.length);
    const changed = after.flatMap((line, i) => (line === before[i] ? [] : [i + 1]));
    assert.deepEqual(changed, [8, 10, 13], 'only version, the web image and approve change');
    assert.equal(after[7], '  version: 1.3.10                # current release');
    assert.equal(after[12], '  approve: 1.3.10                # approved by ops');
    for (const i of [7, 9, 12]) assert.equal(after[i]!.indexOf('#'), before[i]!.indexOf('#'), `line ${i + 1} keeps its comment column`);
  });

  test('a channel stack without spec.version gets version and images as new lines; every other line stays as it was', async () => {
    const CHANNEL = `apiVersion: berth.dev/v1alpha1   # the API
kind: Stack                      # a berth stack
metadata:
  name: shop                     # also the project
spec:
  compose:
    file: shop/compose.yaml      # the first shape
  mode: notify                   # a person approves
  channel:
    url: https://updates.example.com/shop   # the vendor's feed
    publicKey: vendor.pem                   # pinned key
  resyncSeconds: 30              # look again
`;
    await writeFile(file, CHANNEL);
    await setStackTarget(file, { version: '1.3.0', images: { web: WEB_D }, approve: '1.3.0' });
    const after = (await readFile(file, 'utf8')).split('\n');
    const added = after.filter((line) => !CHANNEL.split('\n').includes(line));
    assert.deepEqual(added, ['  version: 1.3.0', '  approve: 1.3.0', '  images:', `    web: ${WEB_D}`]);
    assert.deepEqual(
      after.filter((line) => !added.includes(line)),
      CHANNEL.split('\n'),
      'every line of the person is kept, in order, byte for byte',
    );
  });

  test('approve is added after version when the manifest has none, and left alone when not asked for', async () => {
    await writeFile(file, MANIFEST.replace('mode: auto', 'mode: notify'));
    await setStackTarget(file, { version: '1.3.0', images: { web: WEB_A, db: DB_B, cache: CACHE_C }, approve: '1.3.0' });
    const out = await readFile(file, 'utf8');
    assert.match(out, /\n  version: "1\.3\.0"    # current release\n  approve: "1\.3\.0"\n  images:\n/);
    await setStackTarget(file, { version: '1.2.0', images: { web: WEB_A, db: DB_B, cache: CACHE_C } });
    assert.match(await readFile(file, 'utf8'), /\n  version: "1\.2\.0"    # current release\n  approve: "1\.3\.0"\n/);
  });

  test('check() sees the edited Stack before anything is written; its refusal leaves the file untouched', async () => {
    await writeFile(file, MANIFEST);
    const before = await snapshot(file);
    let seen: string | undefined;
    await assert.rejects(
      setStackTarget(file, { version: '1.3.0', images: { web: WEB_D } }, {
        check: async (stack) => {
          seen = stack.spec.version;
          return 'spec.images.web: no such service in shop/compose.yaml';
        },
      }),
      (err: unknown) => {
        assert.ok(err instanceof InvalidManifestError, String(err));
        assert.match(err.message, /berth could not use the edited manifest, so nothing was written/);
        assert.match(err.message, /no such service in shop\/compose\.yaml/);
        return true;
      },
    );
    assert.equal(seen, '1.3.0');
    assert.deepEqual(await snapshot(file), before);
  });

  test('an empty images removes the images key and its entries entirely', async () => {
    await writeFile(file, MANIFEST);
    const result = await setStackTarget(file, { version: '1.0.0', images: {} });
    assert.equal(result.changed, true);
    assert.equal(
      await readFile(file, 'utf8'),
      `# Shop: owned by the ops team; berth edits only version and images.
apiVersion: berth.dev/v1alpha1
kind: Stack
metadata:
  name: shop   # also the compose project
spec:
  compose:
    file: shop/compose.yaml

  # CI bumps this on release
  version: "1.0.0"    # current release
  mode: auto
# end
`,
    );
  });

  test('images added to a manifest without them follow its indentation and line endings; a version that would read as a number is quoted', async () => {
    const text = 'apiVersion: berth.dev/v1alpha1\r\nkind: Stack\r\nmetadata:\r\n    name: shop\r\nspec:\r\n    compose:\r\n        file: c.yaml\r\n    version: 1.4.2\r\n    mode: auto\r\n';
    await writeFile(file, text);
    const result = await setStackTarget(file, { version: '1.10', images: { web: WEB_A } });
    assert.deepEqual(result.before, { version: '1.4.2', images: {} });
    assert.equal(
      await readFile(file, 'utf8'),
      `apiVersion: berth.dev/v1alpha1\r\nkind: Stack\r\nmetadata:\r\n    name: shop\r\nspec:\r\n    compose:\r\n        file: c.yaml\r\n    version: "1.10"\r\n    images:\r\n        web: ${WEB_A}\r\n    mode: auto\r\n`,
    );
  });

  test('a flow-style spec it cannot splice is re-rendered with the same values and comments', async () => {
    await writeFile(
      file,
      `# keep me\napiVersion: berth.dev/v1alpha1\nkind: Stack\nmetadata: {name: shop}\nspec: {compose: {file: c.yaml}, version: "1", images: {web: ${WEB_A}}}  # flow\n`,
    );
    await setStackTarget(file, { version: '2', images: { db: DB_B } });
    const out = await readFile(file, 'utf8');
    assert.match(out, /^# keep me\n/);
    assert.match(out, /# flow/);
    assert.doesNotMatch(out, /web/);
    assert.match(out, new RegExp(`db: ${DB_B.replace(/[.]/g, '\\.')}`));
    assert.match(out, /version: "2"/);
  });

  test('writes nothing when the manifest already has these values (images in any order)', async () => {
    await writeFile(file, MANIFEST);
    // An old mtime, so that any write at all would move it.
    await utimes(file, new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'));
    const was = await stat(file);
    const result = await setStackTarget(file, { version: '1.4.2', images: { cache: CACHE_C, db: DB_B, web: WEB_A } });
    assert.deepEqual(result, { file, changed: false, before: { version: '1.4.2', images: { web: WEB_A, db: DB_B, cache: CACHE_C } } });
    const now = await stat(file);
    assert.equal(now.ino, was.ino);
    assert.equal(now.mtimeMs, was.mtimeMs);
    assert.equal(await readFile(file, 'utf8'), MANIFEST);
  });

  test('refuses a target that would not validate (an image not pinned by digest), naming file and field, file untouched', async () => {
    await writeFile(file, MANIFEST);
    const before = await snapshot(file);
    await assert.rejects(setStackTarget(file, { version: '1.3.0', images: { web: 'registry.local/web:1.3' } }), (err: unknown) => {
      assert.ok(err instanceof InvalidManifestError, String(err));
      assert.ok(err.message.startsWith(`${file}: `), err.message);
      assert.match(err.message, /nothing was written/);
      assert.match(err.message, /spec\.images\.web: must be an image pinned by digest/);
      return true;
    });
    assert.deepEqual(await snapshot(file), before);
  });

  test('refuses a malformed YAML file with a message naming it', async () => {
    await writeFile(file, 'apiVersion: berth.dev/v1alpha1\nkind: Stack\nspec: [unclosed\n');
    const before = await snapshot(file);
    await assert.rejects(setStackTarget(file, { version: '1', images: {} }), (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.ok(err.message.startsWith(`${file}: `), err.message);
      assert.match(err.message, /YAML syntax error/);
      return true;
    });
    assert.deepEqual(await snapshot(file), before);
  });

  test('refuses a file that is not a Stack', async () => {
    await writeFile(file, MANIFEST.replace('kind: Stack', 'kind: Deployment'));
    const before = await snapshot(file);
    await assert.rejects(setStackTarget(file, { version: '1', images: {} }), (err: unknown) => {
      assert.ok(err instanceof InvalidManifestError, String(err));
      assert.ok(err.message.startsWith(`${file}: `), err.message);
      assert.match(err.message, /kind: must be "Stack"/);
      return true;
    });
    assert.deepEqual(await snapshot(file), before);
  });

  test('refuses an edit that would also change an aliased field, rather than change it silently', async () => {
    // approve aliases the version; splicing or re-rendering would move both.
    await writeFile(file, MANIFEST.replace('version: "1.4.2"', 'version: &v "1.4.2"').replace('mode: auto', 'mode: notify\n  approve: *v'));
    const before = await snapshot(file);
    await assert.rejects(setStackTarget(file, { version: '1.3.0', images: {} }), /would change other fields too.*Edit the file by hand/);
    assert.deepEqual(await snapshot(file), before);
  });

  test('expectText that no longer matches the file: ConcurrentEditError, file untouched', async () => {
    await writeFile(file, MANIFEST.replace('1.4.2', '1.5.0'));
    const before = await snapshot(file);
    await assert.rejects(setStackTarget(file, { version: '1.3.0', images: {} }, { expectText: MANIFEST }), (err: unknown) => {
      assert.ok(err instanceof ConcurrentEditError, String(err));
      assert.equal(err.file, file);
      assert.match(err.message, /nothing was written/);
      return true;
    });
    assert.deepEqual(await snapshot(file), before);
  });

  test('expectText that matches the file lets the edit through', async () => {
    await writeFile(file, MANIFEST);
    const result = await setStackTarget(file, { version: '1.3.0', images: { web: WEB_A } }, { expectText: MANIFEST });
    assert.equal(result.changed, true);
    assert.match(await readFile(file, 'utf8'), /version: "1\.3\.0"/);
  });

  test("keeps the file's mode, including bits the umask would have dropped", async () => {
    const old = process.umask(0o022);
    try {
      for (const mode of [0o640, 0o664]) {
        await writeFile(file, MANIFEST);
        await chmod(file, mode);
        await setStackTarget(file, { version: `1.${mode}`, images: {} });
        assert.equal((await stat(file)).mode & 0o7777, mode, `mode ${mode.toString(8)}`);
      }
    } finally {
      process.umask(old);
    }
  });

  test('edits the file a symlink names and leaves the link a link', async () => {
    await mkdir(join(dir, 'real'));
    const real = join(dir, 'real', 'shop.yaml');
    await writeFile(real, MANIFEST);
    await symlink(real, file);
    await setStackTarget(file, { version: '1.3.0', images: {} });
    assert.equal(await realpath(file), await realpath(real), 'still a link to the same file');
    assert.match(await readFile(real, 'utf8'), /version: "1\.3\.0"/);
  });

  test("keeps the file's owner (needs root to hand a file to another user)", async (t) => {
    if (process.getuid?.() !== 0) {
      t.skip('not root: only root can chown a file to another user');
      return;
    }
    await writeFile(file, MANIFEST);
    await chown(file, 4321, 4321);
    await setStackTarget(file, { version: '1.3.0', images: {} });
    const s = await stat(file);
    assert.deepEqual([s.uid, s.gid], [4321, 4321]);
  });
});

/** Whether any folder from `path` up to / has a `.git`, checked without the code under test. */
async function anyGitAbove(path: string): Promise<string | undefined> {
  for (let d = path; ; d = dirname(d)) {
    const found = await access(join(d, '.git')).then(
      () => true,
      () => false,
    );
    if (found) return d;
    if (dirname(d) === d) return undefined;
  }
}

describe('findGitCheckout', () => {
  beforeEach(async () => {
    const above = await anyGitAbove(await realpath(dir));
    assert.equal(above, undefined, `the temp folder ${dir} is inside a git checkout at ${above}; set TMPDIR to a folder outside git`);
  });

  test('finds a .git folder two levels up from a manifest, and from its folder', async () => {
    const repo = join(dir, 'repo');
    await mkdir(join(repo, '.git'), { recursive: true });
    await mkdir(join(repo, 'stacks', 'shop'), { recursive: true });
    const manifest = join(repo, 'stacks', 'shop', 'shop.yaml');
    await writeFile(manifest, MANIFEST);
    const root = await realpath(repo);
    assert.equal(await findGitCheckout(manifest), root);
    assert.equal(await findGitCheckout(join(repo, 'stacks', 'shop')), root);
  });

  test('finds a .git file (worktree or submodule), the nearest checkout winning over an outer one', async () => {
    const outer = join(dir, 'outer');
    const inner = join(outer, 'vendor', 'stacks');
    await mkdir(join(outer, '.git'), { recursive: true });
    await mkdir(join(inner, 'prod'), { recursive: true });
    await writeFile(join(inner, '.git'), 'gitdir: ../../.git/modules/stacks\n');
    const manifest = join(inner, 'prod', 'shop.yaml');
    await writeFile(manifest, MANIFEST);
    assert.equal(await findGitCheckout(manifest), await realpath(inner));
  });

  test('returns undefined outside any checkout, for a file and for one that does not exist', async () => {
    await mkdir(join(dir, 'stacks'));
    await writeFile(join(dir, 'stacks', 'shop.yaml'), MANIFEST);
    assert.equal(await findGitCheckout(join(dir, 'stacks', 'shop.yaml')), undefined);
    assert.equal(await findGitCheckout(join(dir, 'stacks', 'missing.yaml')), undefined);
  });
});
