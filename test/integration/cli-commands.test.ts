// The `berth` commands a person types, as separate processes on the real engine: every
// command explains itself (--help), finds berth's folders without flags, prints parseable
// -o json, approves only what waits (keeping the manifest's comments), and `status --wait`
// answers like `kubectl rollout status`.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { removeProject, requireEngine, uniqueName } from '../support/engine.js';
import { BERTH, berth } from '../support/cli.js';
import { stackManifest } from '../support/harness.js';
import { buildTestImage, removeTestImages, type TestImage } from '../support/images.js';

const COMMANDS = [
  [],
  ['run'],
  ['get'],
  ['describe'],
  ['history'],
  ['approve'],
  ['rollback'],
  ['status'],
  ['diff'],
  ['render'],
  ['validate'],
  ['release'],
  ['release', 'keygen'],
  ['release', 'publish'],
  ['release', 'verify'],
];

describe('help, version and usage errors', () => {
  for (const cmd of COMMANDS) {
    for (const flag of ['--help', '-h']) {
      test(`berth ${[...cmd, flag].join(' ')} prints usage and the exit codes, exit 0`, async () => {
        const r = await berth([...cmd, flag]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`^Usage: berth${cmd.map((c) => ` ${c}`).join('')} `));
        if (cmd.length > 0 && cmd[cmd.length - 1] !== 'release') assert.match(r.stdout, /Exit codes:\n {2}0 {3}done/);
      });
    }
  }

  test('an option a command cannot run without says so in its help', async () => {
    const required: Array<[string[], string]> = [
      [['release', 'keygen'], '--out <dir>'],
      [['release', 'publish'], '--key <file>'],
      [['release', 'publish'], '--feed <dir>'],
      [['release', 'verify'], '--public-key <pem-file>'],
    ];
    for (const [cmd, option] of required) {
      const r = await berth([...cmd, '--help']);
      const line = r.stdout.split('\n').find((l) => l.trimStart().startsWith(option));
      assert.match(line ?? '', /\(required\)/, `berth ${cmd.join(' ')} --help: ${option}`);
    }
  });

  test('berth --version and -V print the version of package.json', async () => {
    const pkg = JSON.parse(await readFile(join(process.cwd(), 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await berth([flag]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${pkg.version}\n`);
    }
  });

  test("an unknown option or command exits 2 with commander's message and where to find the usage", async () => {
    const opt = await berth(['get', '--bogus']);
    assert.equal(opt.code, 2);
    assert.equal(opt.stderr, `berth get: unknown option '--bogus'\n(run "berth get --help" for usage)\n`);
    const output = await berth(['describe', 'x', '-o', 'xml']);
    assert.equal(output.code, 2);
    assert.match(output.stderr, /^berth describe: option '-o, --output <format>' argument 'xml' is invalid\. Allowed choices are table, yaml, json\.\n/);
    const cmd = await berth(['frobnicate']);
    assert.equal(cmd.code, 2);
    assert.match(cmd.stderr, /^berth: unknown command 'frobnicate'\n/);
    const missing = await berth(['approve']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^berth approve: missing required argument 'name'\n\(run "berth approve --help" for usage\)\n$/);
  });
});

describe('on a real stack, with berth folders at their defaults', () => {
  let dir: string;
  let v1: TestImage;
  let v2: TestImage;
  let sick: TestImage;
  let manifest: string;
  const name = uniqueName('clicmd');

  before(async () => {
    await requireEngine();
    v1 = await buildTestImage({ name, variant: 'v1', health: 'healthy' });
    v2 = await buildTestImage({ name, variant: 'v2', health: 'healthy' });
    sick = await buildTestImage({ name, variant: 'sick', health: 'unhealthy' });
    dir = await mkdtemp(join(tmpdir(), 'berth-clicmd-'));
    await mkdir(join(dir, '.berth', 'manifests', name), { recursive: true });
    await writeFile(join(dir, '.berth', 'manifests', name, 'compose.yaml'), stringify({ services: { web: { image: 'placeholder' } } }));
    manifest = join(dir, '.berth', 'manifests', `${name}.yaml`);
    await writeFile(manifest, stackManifest({ name, version: '1.0.0', images: { web: v1.pinned } }));
  });

  after(async () => {
    await removeProject(name);
    await removeTestImages([v1, v2, sick].filter(Boolean));
    await rm(dir, { recursive: true, force: true });
  });

  test('run --once, get, describe and history need no flags; -o json and -o yaml parse', async () => {
    const run = await berth(['run', '--once'], dir);
    assert.equal(run.code, 0, run.stderr);

    const get = await berth(['get', name], dir);
    assert.equal(get.code, 0, get.stderr);
    const [header, row, extra] = get.stdout.trim().split('\n');
    assert.match(header!, /^NAME\s+MODE\s+CURRENT\s+TARGET\s+AVAILABLE\s+READY\s+REASON\s+AGE$/);
    assert.match(row!, new RegExp(`^${name}\\s+auto\\s+1\\.0\\.0\\s+1\\.0\\.0\\s+-\\s+True\\s+Converged\\s+\\d+s$`));
    assert.equal(extra, undefined);
    const unknown = await berth(['get', 'no-such-stack'], dir);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no status for stack "no-such-stack" in \S+\/\.berth\/state; berth get lists the stacks berth has run/);

    const list = JSON.parse((await berth(['get', '-o', 'json'], dir)).stdout) as { kind: string; items: Array<{ metadata: { name: string } }> };
    assert.equal(list.kind, 'List');
    assert.deepEqual(list.items.map((i) => i.metadata.name), [name]);
    const one = JSON.parse((await berth(['get', name, '-o', 'json'], dir)).stdout) as { kind: string; status: { currentVersion: string } };
    assert.equal(one.kind, 'StackStatus');
    assert.equal(one.status.currentVersion, '1.0.0');
    const asYaml = parse((await berth(['get', name, '-o', 'yaml'], dir)).stdout) as { status: { currentVersion: string } };
    assert.equal(asYaml.status.currentVersion, '1.0.0');

    const describe = await berth(['describe', name], dir);
    assert.equal(describe.code, 0, describe.stderr);
    assert.match(describe.stdout, /Services:\n {2}SERVICE\s+CONTAINER\s+STATE\s+HEALTH\s+REVISION\s+IMAGE\n {2}web\s+\S+\s+running\s+healthy\s+1\s+\S+@sha256:[0-9a-f]{64}\n/);
    const described = JSON.parse((await berth(['describe', name, '-o', 'json'], dir)).stdout) as { status: { services: Array<{ name: string }> } };
    assert.deepEqual(described.status.services.map((s) => s.name), ['web']);

    const history = JSON.parse((await berth(['history', name, '-o', 'json'], dir)).stdout) as { revisions: Array<{ revision: number; outcome: string; marks: string[] }> };
    assert.deepEqual(history.revisions.map((r) => [r.revision, r.outcome, r.marks]), [[1, 'Healthy', ['current', 'last-good']]]);

    const render = await berth(['render', name], dir);
    assert.equal(render.code, 0, render.stderr);
    const compose = parse(render.stdout) as { services: { web: { image: string } } };
    assert.equal(compose.services.web.image, v1.pinned);
    assert.match(render.stderr, /revision 1, applied/);
  });

  test('approve writes spec.approve for the version that waits, keeping comments; refuses another version and when nothing waits; status --wait exits 0 once it runs', async () => {
    const text = `# ${name}: hand-written, keep this comment\n${stackManifest({ name, version: '2.0.0', images: { web: v2.pinned }, mode: 'notify' })}`.replace(
      'mode: notify',
      'mode: notify # an admin approves each version',
    );
    await writeFile(manifest, text);
    const held = await berth(['run', '--once'], dir);
    assert.equal(held.code, 0, held.stderr);
    const get = await berth(['get'], dir);
    assert.match(get.stdout, new RegExp(`^${name}\\s+notify\\s+1\\.0\\.0\\s+2\\.0\\.0\\s+2\\.0\\.0\\s+\\S+\\s+AwaitingApproval\\s`, 'm'));
    assert.match(get.stdout, new RegExp(`${name}: 2\\.0\\.0 waits for approval; to apply it: berth approve ${name} 2\\.0\\.0\\n`));

    const wrong = await berth(['approve', name, '3.0.0'], dir);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, new RegExp(`berth approve: version 3\\.0\\.0 of stack "${name}" does not wait for approval; 2\\.0\\.0 does`));
    assert.equal(await readFile(manifest, 'utf8'), text, 'a refused approval writes nothing');

    // Waiting from before the approval: it must not count the old status as done.
    const waiting = berth(['status', name, '--wait', '--timeout', '300'], dir);
    const approve = await berth(['approve', name, '2.0.0'], dir);
    assert.equal(approve.code, 0, approve.stderr);
    assert.match(approve.stdout, new RegExp(`${name}: approved 2\\.0\\.0: spec\\.approve set to 2\\.0\\.0 in `));
    assert.match(approve.stdout, new RegExp(`follow with: berth status ${name} --wait\\n`), 'no --state in the hint when the default folder is in use');
    assert.equal(
      await readFile(manifest, 'utf8'),
      text.replace('mode: notify # an admin approves each version\n', 'mode: notify # an admin approves each version\n  approve: 2.0.0\n'),
      'only the approve line is new',
    );
    const run = await berth(['run', '--once'], dir);
    assert.equal(run.code, 0, run.stderr);
    const status = await waiting;
    assert.equal(status.code, 0, `${status.stdout}${status.stderr}`);
    assert.match(status.stdout, new RegExp(`${name}: Complete: version 2\\.0\\.0 runs and passed its health gate \\(revision 2\\)\\n$`));

    const again = await berth(['approve', name], dir);
    assert.equal(again.code, 1);
    assert.match(again.stderr, new RegExp(`nothing of stack "${name}" waits for approval \\(it runs 2\\.0\\.0\\); see berth describe ${name}`));
  });

  test('status --wait exits 1 when the update failed its health gate and was rolled back', async () => {
    await writeFile(manifest, stackManifest({ name, version: '3.0.0', images: { web: sick.pinned }, health: { stableForSeconds: 1, progressDeadlineSeconds: 30 } }));
    const waiting = berth(['status', name, '--wait', '--timeout', '300'], dir);
    const run = await berth(['run', '--once'], dir);
    assert.equal(run.code, 1, run.stderr);
    const status = await waiting;
    assert.equal(status.code, 1, `${status.stdout}${status.stderr}`);
    assert.match(status.stdout, new RegExp(`${name}: Failed: RolledBack: version 3\\.0\\.0 \\(revision 3\\) failed: Unhealthy`));
    const now = await berth(['status', name], dir);
    assert.equal(now.code, 1);

    const rollback = await berth(['rollback', name, '--force'], dir);
    assert.equal(rollback.code, 0, rollback.stderr);
    assert.match(rollback.stdout, new RegExp(`follow with: berth status ${name} --wait\\n`));
  });

  test('validate checks any berth kind, and a Stack against its compose file', async () => {
    const files = join(dir, 'validate');
    await mkdir(join(files, 'app'), { recursive: true });
    await writeFile(join(files, 'app', 'compose.yaml'), stringify({ services: { web: { image: 'placeholder' } } }));
    await writeFile(join(files, 'ok.yaml'), stackManifest({ name: 'ok', version: '1.0.0', images: { web: v1.pinned }, composeFile: 'app/compose.yaml' }));
    await writeFile(join(files, 'nofile.yaml'), stackManifest({ name: 'nofile', version: '1.0.0', images: { web: v1.pinned }, composeFile: 'gone/compose.yaml' }));
    await writeFile(join(files, 'noservice.yaml'), stackManifest({ name: 'noservice', version: '1.0.0', images: { api: v1.pinned }, composeFile: 'app/compose.yaml' }));
    await writeFile(
      join(files, 'release.yaml'),
      stringify({ apiVersion: 'berth.dev/v1alpha1', kind: 'Release', metadata: { name: 'shop' }, spec: { version: '1.5.0', images: { web: v1.pinned } } }),
    );
    await writeFile(join(files, 'other.yaml'), stringify({ apiVersion: 'v1', kind: 'ConfigMap' }));

    const ok = await berth(['validate', 'validate/ok.yaml', 'validate/release.yaml'], dir);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /validate\/ok\.yaml: valid Stack "ok" \(version 1\.0\.0, mode auto\)/);
    assert.match(ok.stdout, /validate\/release\.yaml: valid Release "shop" \(version 1\.5\.0, unsigned\)/);

    const nofile = await berth(['validate', 'validate/nofile.yaml'], dir);
    assert.equal(nofile.code, 1);
    assert.match(nofile.stderr, /spec\.compose: the compose file \S+gone\/compose\.yaml does not exist/);
    const noservice = await berth(['validate', 'validate/noservice.yaml'], dir);
    assert.equal(noservice.code, 1);
    assert.match(noservice.stderr, /spec\.images names "api", which \S+ does not define \(its services: web\)/);
    // Without a compose CLI the files are still checked, and berth says what it could not check.
    const bare = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [BERTH, 'validate', 'validate/ok.yaml', 'validate/nofile.yaml'], { cwd: dir, env: { PATH: '/nonexistent' } }, (err, stdout, stderr) =>
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr }),
      );
    });
    assert.equal(bare.code, 1, bare.stderr);
    assert.match(bare.stdout, /validate\/ok\.yaml: valid Stack "ok"/);
    assert.match(bare.stderr, /gone\/compose\.yaml does not exist/);
    assert.match(bare.stderr, /berth validate: no compose CLI here, so the services in spec\.images were not checked against the compose files/);
    const other = await berth(['validate', 'validate/other.yaml'], dir);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /kind: is "ConfigMap"; berth validates Stack, Release, ReleaseIndex/);
  });
});

describe('berth run --once shows pull progress on a terminal, and nothing extra in JSON logs', () => {
  let dir: string;
  const images: TestImage[] = [];
  const name = uniqueName('clipull');

  before(async () => {
    await requireEngine();
    dir = await mkdtemp(join(tmpdir(), 'berth-clipull-'));
  });
  after(async () => {
    await removeProject(`${name}-tty`);
    await removeProject(`${name}-json`);
    await removeTestImages(images);
    await rm(dir, { recursive: true, force: true });
  });

  /** A stack whose image is in the registry but not on this host, so the pass pulls it. */
  async function stackToPull(stack: string, manifests: string): Promise<TestImage> {
    const image = await buildTestImage({ name, variant: stack.endsWith('tty') ? 'tty' : 'json' });
    images.push(image);
    await removeTestImages([image]);
    await mkdir(join(dir, manifests, stack), { recursive: true });
    await writeFile(join(dir, manifests, stack, 'compose.yaml'), stringify({ services: { web: { image: 'placeholder' } } }));
    await writeFile(join(dir, manifests, `${stack}.yaml`), stackManifest({ name: stack, version: '1.0.0', images: { web: image.pinned } }));
    return image;
  }

  test('on a TTY: a bar per image that ends at 100% and "pulled"', async () => {
    const image = await stackToPull(`${name}-tty`, 'tty');
    // script(1) gives the command a real pseudo-terminal and copies what it writes to stdout.
    const cmd = [process.execPath, BERTH, 'run', '--once', '--manifests', 'tty', '--state', 'tty-state'].map((a) => `'${a}'`).join(' ');
    const out = await new Promise<{ code: number; text: string }>((resolve) => {
      execFile('script', ['-qec', cmd, '/dev/null'], { cwd: dir, env: { ...process.env, BERTH_LOG_LEVEL: 'info' } }, (err, stdout, stderr) =>
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, text: `${stdout}${stderr}` }),
      );
    });
    assert.equal(out.code, 0, out.text);
    const short = `${image.repo}@${image.digest.slice(7, 19)}`;
    assert.match(out.text, new RegExp(`\\[#{24}\\] 100% {2}[0-9.]+ k?B / [0-9.]+ k?B {2}pulled {2}${short.replace(/[.]/g, '\\.')}\\r?\\n`), `no finished bar for ${short} in:\n${out.text}`);
  });

  test('not on a TTY: every line on stderr but the summary is a JSON log line', async () => {
    await stackToPull(`${name}-json`, 'json');
    const run = await berth(['run', '--once', '--manifests', 'json', '--state', 'json-state', '--log-level', 'info'], dir);
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stderr.trimEnd().split('\n');
    assert.match(lines.pop()!, /^berth run --once: 1 stack\(s\), every one on its target$/);
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), `not a JSON log line: ${line}`);
    assert.ok(lines.some((l) => (JSON.parse(l) as { msg?: string }).msg === 'pulled image'), 'the pull is logged');
  });
});
