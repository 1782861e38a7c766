// `berth release keygen | publish | verify` as a vendor runs them: a separate process on
// real files. No engine needed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { keyIdOf, parsePublicKey } from '../../src/sources/signing.js';
import { authoredYaml } from '../support/releases.js';

const BERTH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

function berth(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BERTH, 'release', ...args], { cwd }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-release-cli-'));
  await writeFile(join(dir, 'shop-1.0.0.yaml'), authoredYaml('1.0.0'));
  await writeFile(join(dir, 'shop-1.1.0.yaml'), authoredYaml('1.1.0'));
  await writeFile(join(dir, 'shop-1.1.0-changed.yaml'), authoredYaml('1.1.0', { notes: 'Not what was published.' }));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('keygen writes a secret key (0600) and its public half, prints the key id, and will not replace a key without --force', async () => {
  const made = await berth(['keygen', '--out', 'keys'], dir);
  assert.equal(made.code, 0, made.stderr);
  assert.equal((await stat(join(dir, 'keys', 'release.key'))).mode & 0o777, 0o600);
  const keyId = keyIdOf(await parsePublicKey('keys/release.pub', dir));
  assert.match(made.stdout, new RegExp(`Key id: ${keyId}`));
  assert.match(made.stdout, /spec\.channel\.publicKey/);

  const before = await readFile(join(dir, 'keys', 'release.key'), 'utf8');
  const again = await berth(['keygen', '--out', 'keys'], dir);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /release\.key exists; refusing to replace a signing key .* Use --force/);
  assert.equal(await readFile(join(dir, 'keys', 'release.key'), 'utf8'), before);

  const forced = await berth(['keygen', '--out', 'spare', '--force'], dir);
  assert.equal(forced.code, 0, forced.stderr);
  const replaced = await berth(['keygen', '--out', 'spare', '--force'], dir);
  assert.equal(replaced.code, 0, replaced.stderr);
});

test('publish signs into the feed folder and says where; verify accepts the index and the release file', async () => {
  const pub = await berth(['publish', 'shop-1.0.0.yaml', '--key', 'keys/release.key', '--feed', 'feed', '--report', 'https://vendor.example/report'], dir);
  assert.equal(pub.code, 0, pub.stderr);
  assert.match(pub.stdout, /Published shop 1\.0\.0 on channel stable/);
  assert.match(pub.stdout, /index: +feed\/stable\/index\.json \(1 release\)/);
  assert.match(pub.stdout, /release: +feed\/stable\/releases\/1\.0\.0\.yaml/);
  assert.match(pub.stdout, /berth reads <url>\/stable\/index\.json/);
  const second = await berth(['publish', 'shop-1.1.0.yaml', '--key', 'keys/release.key', '--feed', 'feed'], dir);
  assert.equal(second.code, 0, second.stderr);
  const index = JSON.parse(await readFile(join(dir, 'feed', 'stable', 'index.json'), 'utf8')) as { report: string; releases: Array<{ spec: { version: string } }> };
  assert.deepEqual(index.releases.map((r) => r.spec.version), ['1.1.0', '1.0.0']);
  assert.equal(index.report, 'https://vendor.example/report');

  const idx = await berth(['verify', 'feed/stable/index.json', '--public-key', 'keys/release.pub'], dir);
  assert.equal(idx.code, 0, idx.stderr);
  assert.match(idx.stdout, /OK: .* valid index of channel stable: 2 releases, newest 1\.1\.0/);
  const rel = await berth(['verify', 'feed/stable/releases/1.0.0.yaml', '--public-key', 'keys/release.pub', '--channel', 'stable'], dir);
  assert.equal(rel.code, 0, rel.stderr);
  assert.match(rel.stdout, /OK: .* is release shop 1\.0\.0 of channel stable/);
});

test('publish refuses other content under a published version, exiting 1', async () => {
  const res = await berth(['publish', 'shop-1.1.0-changed.yaml', '--key', 'keys/release.key', '--feed', 'feed'], dir);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /version 1\.1\.0 is already published .* versions are immutable/);
});

test('verify refuses a tampered index, another key, and another channel, naming the reason, exiting 1', async () => {
  const text = await readFile(join(dir, 'feed', 'stable', 'index.json'), 'utf8');
  await writeFile(join(dir, 'tampered.json'), text.replace('What changed in 1.0.0.', 'Something else.'));
  const tampered = await berth(['verify', 'tampered.json', '--public-key', 'keys/release.pub'], dir);
  assert.equal(tampered.code, 1);
  assert.match(tampered.stderr, /^berth release verify: SignatureInvalid: /);

  const otherKey = await berth(['verify', 'feed/stable/index.json', '--public-key', 'spare/release.pub'], dir);
  assert.equal(otherKey.code, 1);
  assert.match(otherKey.stderr, /UnknownSigningKey/);

  const channel = await berth(['verify', 'feed/stable/index.json', '--public-key', 'keys/release.pub', '--channel', 'beta'], dir);
  assert.equal(channel.code, 1);
  assert.match(channel.stderr, /ChannelMismatch/);
});

test('usage errors exit 2 with commander\'s message and a line that says where the usage is', async () => {
  for (const args of [
    ['publish', 'shop-1.0.0.yaml', '--feed', 'feed'],
    ['publish', '--key', 'keys/release.key', '--feed', 'feed'],
    ['publish', 'shop-1.0.0.yaml', '--key', 'k', '--feed', 'f', '--bogus'],
    ['keygen'],
    ['verify', 'feed/stable/index.json'],
    ['sign'],
  ]) {
    const res = await berth(args, dir);
    assert.equal(res.code, 2, `${args.join(' ')}: ${res.stderr}`);
    const lines = res.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 2, res.stderr);
    assert.match(lines[0]!, /^berth release/);
    assert.match(lines[1]!, /^\(run "berth release( [a-z]+)? --help" for usage\)$/);
  }
});
