// Conformance with compose's own reading of a stack: for each feature real vendors' compose
// files use, `docker compose config` of the revision berth renders equals `docker compose
// config` of the person's own inputs, except the images berth pins and the labels it adds.
// Real compose CLI; `config` needs no engine.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { parseStack } from '../../src/api/validate.js';
import { resolveTargetFile } from '../../src/controller/target-file.js';
import { ComposeCli } from '../../src/docker/compose.js';
import { ComposeModels } from '../../src/docker/compose-model.js';
import { renderRevision } from '../../src/plan/render.js';
import { LABEL_REVISION, LABEL_STACK, type Target } from '../../src/plan/types.js';
import { releaseCompose } from '../../src/controller/releases.js';
import { keepLegacyKey } from '../../src/controller/legacy-revision.js';
import type { RevisionRecord } from '../../src/plan/types.js';
import { NOW, channelRelease, channelView, feedImage, following, release } from '../unit/fixtures.js';

const run = promisify(execFile);
const PIN = `127.0.0.1:5000/vendor/app@sha256:${'a'.repeat(64)}`;

let cli: ComposeCli;
let root: string;

before(async () => {
  cli = await ComposeCli.detect();
  root = await mkdtemp(join(tmpdir(), 'berth-conformance-'));
});
after(async () => rm(root, { recursive: true, force: true }));

type Model = Record<string, unknown> & { services: Record<string, Record<string, unknown>> };

interface Case {
  /** Files of the person's install, relative to its folder. */
  files: Record<string, string>;
  /** spec.compose of the Stack (paths relative to the manifest, which sits in the install folder). */
  compose?: Record<string, unknown>;
  /** What the person runs: the flags after `docker compose` (besides --project-directory). */
  flags: string[];
  /** Services berth pins. */
  pins?: string[];
}

interface Outcome {
  target: Target;
  revisionText: string;
  /** config of berth's revision, normalised (pins and berth's labels taken out). */
  berth: Model;
  /** config of the person's inputs. */
  user: Model;
}

async function config(args: string[], cwd?: string): Promise<Model> {
  const { stdout } = await run('docker', ['compose', ...args, 'config', '--format', 'json'], { maxBuffer: 64 << 20, ...(cwd ? { cwd } : {}) });
  return JSON.parse(stdout) as Model;
}

let counter = 0;

/** Writes the install, lets berth render revision 1 of it, and runs `config` on both sides. */
async function conform(c: Case): Promise<Outcome> {
  const name = `conf${++counter}`;
  const dir = join(root, name, 'install');
  for (const [path, text] of Object.entries(c.files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  const manifest = join(dir, 'stack.yaml');
  const pins = Object.fromEntries((c.pins ?? []).map((s) => [s, PIN]));
  const stack = parseStack(
    manifest,
    stringify({
      apiVersion: 'berth.dev/v1alpha1',
      kind: 'Stack',
      metadata: { name },
      spec: { compose: c.compose ?? {}, version: '1.0.0', images: pins },
    }),
  );
  const resolved = await resolveTargetFile(manifest, stack, new ComposeModels(cli));
  if ('error' in resolved) assert.fail(resolved.error);
  const { target } = resolved;
  const rendered = renderRevision(target, 1);
  const revisionFile = join(root, name, 'state', 'revisions', '1', 'compose.yaml');
  await mkdir(dirname(revisionFile), { recursive: true });
  await writeFile(revisionFile, rendered.composeText);
  // As berth runs it: its project, the install folder, the revision file, the profiles it records.
  const berth = await config([
    '-p', target.project, '--project-directory', target.projectDirectory, '-f', revisionFile,
    ...rendered.profiles.flatMap((p) => ['--profile', p]),
  ]);
  // The person runs compose in the install folder.
  const user = await config(['--project-directory', dir, ...c.flags], dir);
  for (const [service, def] of Object.entries(berth.services)) {
    if (pins[service] !== undefined) {
      assert.equal(def['image'], PIN, `${service} runs the pinned image`);
      def['image'] = user.services[service]?.['image'];
    }
    const labels = def['labels'] as Record<string, string> | undefined;
    assert.equal(labels?.[LABEL_STACK], name, `${service} carries berth's stack label`);
    assert.equal(labels?.[LABEL_REVISION], '1', `${service} carries berth's revision label`);
    delete labels?.[LABEL_STACK];
    delete labels?.[LABEL_REVISION];
    if (labels !== undefined && Object.keys(labels).length === 0) delete def['labels'];
  }
  delete berth['x-berth'];
  return { target, revisionText: rendered.composeText, berth, user };
}

async function assertConforms(c: Case): Promise<Outcome> {
  const out = await conform(c);
  assert.deepEqual(out.berth, out.user);
  return out;
}

const p = (name: string) => `-p ${name}`.split(' ');

describe("berth's revision is what compose makes of the person's files", () => {
  test('anchors and merge keys: a service inherits labels, environment and build through <<', async () => {
    const { berth, revisionText } = await assertConforms({
      files: {
        'compose.yaml': [
          'x-common: &common',
          '  image: vendor/app:1',
          '  build: ./app',
          '  labels: {vendor.tier: backend}',
          '  environment: {MODE: prod}',
          'services:',
          '  api:',
          '    <<: *common',
          '    environment: {MODE: prod, ROLE: api}',
          '  worker:',
          '    <<: *common',
        ].join('\n'),
        'app/Dockerfile': 'FROM scratch\n',
      },
      flags: [],
    });
    assert.equal((berth.services['api']?.['labels'] as Record<string, string>)['vendor.tier'], 'backend');
    assert.equal((berth.services['worker']?.['environment'] as Record<string, string>)['MODE'], 'prod');
    assert.doesNotMatch(revisionText, /<<|&common|\*common/, 'the revision holds the resolved model, not the anchors');
  });

  test('a pinned service inherits a build through a merge key: the pin replaces it', async () => {
    const out = await conform({
      files: {
        'compose.yaml': ['x-b: &b', '  build: ./app', '  image: vendor/app:1', 'services:', '  api:', '    <<: *b', '    labels: [vendor.tier=backend]'].join('\n'),
        'app/Dockerfile': 'FROM scratch\n',
      },
      flags: [],
      pins: ['api'],
    });
    assert.equal(out.berth.services['api']?.['build'], undefined, 'compose up must not build what berth pinned');
    assert.equal((out.berth.services['api']?.['labels'] as Record<string, string>)['vendor.tier'], 'backend');
    delete out.user.services['api']?.['build'];
    assert.deepEqual(out.berth, out.user);
  });

  test('octal modes of secrets and configs stay octal (0440 is 288, not 440)', async () => {
    const { berth } = await assertConforms({
      files: {
        'compose.yaml': [
          'services:',
          '  app:',
          '    image: vendor/app:1',
          '    secrets: [{source: key, mode: 0440}]',
          '    configs: [{source: conf, mode: 0o640}]',
          'secrets: {key: {file: ./key.txt}}',
          'configs: {conf: {file: ./app.conf}}',
        ].join('\n'),
        'key.txt': 'k\n',
        'app.conf': 'c\n',
      },
      flags: [],
    });
    assert.equal((berth.services['app']?.['secrets'] as { mode: number }[])[0]?.mode, 0o440);
    assert.equal((berth.services['app']?.['configs'] as { mode: number }[])[0]?.mode, 0o640);
  });

  test('a file with more than 100 aliases loads', async () => {
    const services = Array.from({ length: 150 }, (_, i) => `  s${i}:\n    <<: *base\n    environment: *env`).join('\n');
    const { berth } = await assertConforms({
      files: { 'compose.yaml': `x-base: &base\n  image: vendor/app:1\nx-env: &env\n  A: "1"\nservices:\n${services}\n` },
      flags: [],
    });
    assert.equal(Object.keys(berth.services).length, 150);
  });

  test('the override file compose reads by itself is read (spec.compose.file names compose.yaml)', async () => {
    const { berth } = await assertConforms({
      files: {
        'compose.yaml': 'services:\n  app:\n    image: vendor/app:1\n    secrets: [admin]\n',
        'compose.override.yaml': 'services:\n  app:\n    environment: {ADMIN_EDIT: "yes"}\nsecrets:\n  admin: {file: ./admin.txt}\n',
        'admin.txt': 'x\n',
      },
      compose: { file: 'compose.yaml' },
      flags: [],
    });
    assert.equal((berth.services['app']?.['environment'] as Record<string, string>)['ADMIN_EDIT'], 'yes');
  });

  test('several files (-f compose.yaml -f compose.s3.yaml) in order', async () => {
    const { berth } = await assertConforms({
      files: {
        'compose.yaml': 'services:\n  app:\n    image: vendor/app:1\n    environment: {STORAGE: local}\n',
        'compose.s3.yaml': 'services:\n  app:\n    environment: {STORAGE: s3}\n  minio:\n    image: vendor/minio:1\n',
      },
      compose: { files: ['compose.yaml', 'compose.s3.yaml'] },
      flags: ['-f', 'compose.yaml', '-f', 'compose.s3.yaml'],
    });
    assert.equal((berth.services['app']?.['environment'] as Record<string, string>)['STORAGE'], 's3');
    assert.ok('minio' in berth.services);
  });

  test('profiles: only services of enabled profiles (and those without one) are in the revision', async () => {
    const files = {
      'compose.yaml': [
        'services:',
        '  app: {image: vendor/app:1}',
        '  debug: {image: vendor/debug:1, profiles: [debug]}',
        '  metrics: {image: vendor/metrics:1, profiles: [monitoring]}',
      ].join('\n'),
    };
    const on = await assertConforms({ files, compose: { profiles: ['monitoring'] }, flags: ['--profile', 'monitoring'] });
    assert.deepEqual(Object.keys(on.berth.services).sort(), ['app', 'metrics']);
    const off = await assertConforms({ files, flags: [] });
    assert.deepEqual(Object.keys(off.berth.services), ['app']);
  });

  test('include: services of an included file are part of the model', async () => {
    const { berth, target } = await assertConforms({
      files: {
        'compose.yaml': 'include: [db/compose.yaml]\nservices:\n  app: {image: vendor/app:1, depends_on: [db]}\n',
        'db/compose.yaml': 'services:\n  db:\n    image: vendor/db:1\n    env_file: db.env\n',
        'db/db.env': 'POSTGRES_DB=shop\n',
      },
      flags: [],
      pins: ['db'],
    });
    assert.equal((berth.services['db']?.['environment'] as Record<string, string>)['POSTGRES_DB'], 'shop');
    assert.equal(target.images['db'], PIN, 'an included service can be pinned');
  });

  test('extends: a service extends one from another file', async () => {
    const { berth } = await assertConforms({
      files: {
        'compose.yaml': 'services:\n  app:\n    extends: {file: common.yaml, service: base}\n    environment: {ROLE: app}\n',
        'common.yaml': 'services:\n  base:\n    image: vendor/app:1\n    environment: {TZ: UTC}\n',
      },
      flags: [],
    });
    assert.deepEqual(berth.services['app']?.['environment'], { ROLE: 'app', TZ: 'UTC' });
  });

  test('.env and env_file: values interpolated into the revision, env_file contents inlined', async () => {
    const { berth, revisionText } = await assertConforms({
      files: {
        'compose.yaml': 'services:\n  app:\n    image: vendor/app:${APP_VERSION}\n    env_file: [app.env]\n    environment: {URL: "https://${HOST:-localhost}/"}\n',
        '.env': 'APP_VERSION=2.3.4\nHOST=shop.example\n',
        'app.env': 'SECRET_KEY=s3cr3t\n',
      },
      flags: [],
    });
    assert.equal(berth.services['app']?.['image'], 'vendor/app:2.3.4');
    assert.deepEqual(berth.services['app']?.['environment'], { SECRET_KEY: 's3cr3t', URL: 'https://shop.example/' });
    assert.doesNotMatch(revisionText, /\$\{/, 'nothing is left for compose to interpolate when it runs the revision');
    assert.doesNotMatch(revisionText, /env_file/, 'the revision holds the values it ran, not a pointer to a file that may change');
  });

  test('--env-file (spec.compose.envFiles) replaces .env', async () => {
    const { berth } = await assertConforms({
      files: {
        'compose.yaml': 'services:\n  app: {image: "vendor/app:${V}"}\n',
        '.env': 'V=1\n',
        'prod.env': 'V=2\n',
      },
      compose: { envFiles: ['prod.env'] },
      flags: ['--env-file', 'prod.env'],
    });
    assert.equal(berth.services['app']?.['image'], 'vendor/app:2');
  });

  test('$$ escapes stay literal dollars, not interpolated when the revision runs', async () => {
    const { berth } = await assertConforms({
      files: {
        'compose.yaml': 'services:\n  app:\n    image: vendor/app:1\n    command: ["sh", "-c", "echo $$HOME $${USER}"]\n    environment: {PRICE: "$$5"}\n',
        '.env': 'HOME=/wrong\nUSER=wrong\n',
      },
      flags: [],
    });
    assert.deepEqual(berth.services['app']?.['command'], ['sh', '-c', 'echo $$HOME $${USER}']);
  });

  test('secrets and configs from files and from the environment', async () => {
    await assertConforms({
      files: {
        'compose.yaml': [
          'services:',
          '  app:',
          '    image: vendor/app:1',
          '    secrets: [db_password, api_token]',
          '    configs: [{source: nginx, target: /etc/nginx/nginx.conf}]',
          'secrets:',
          '  db_password: {file: ./secrets/db.txt}',
          '  api_token: {environment: API_TOKEN}',
          'configs:',
          '  nginx: {file: ./nginx.conf}',
        ].join('\n'),
        'secrets/db.txt': 'pw\n',
        'nginx.conf': 'events {}\n',
        '.env': 'API_TOKEN=t\n',
      },
      flags: [],
    });
  });

  test('a one-shot init job awaited with service_completed_successfully', async () => {
    const { berth } = await assertConforms({
      files: {
        'compose.yaml': [
          'services:',
          '  migrate: {image: vendor/app:1, command: [migrate], restart: "no"}',
          '  app:',
          '    image: vendor/app:1',
          '    depends_on:',
          '      migrate: {condition: service_completed_successfully}',
        ].join('\n'),
      },
      flags: [],
      pins: ['migrate', 'app'],
    });
    assert.equal((berth.services['app']?.['depends_on'] as Record<string, { condition: string }>)['migrate']?.condition, 'service_completed_successfully');
  });

  test('deploy.replicas: 0', async () => {
    const { berth } = await assertConforms({
      files: { 'compose.yaml': 'services:\n  app: {image: vendor/app:1}\n  spare:\n    image: vendor/app:1\n    deploy: {replicas: 0}\n' },
      flags: [],
    });
    assert.equal((berth.services['spare']?.['deploy'] as { replicas: number }).replicas, 0);
  });

  test("name: the file's own project name is the project berth runs", async () => {
    const { berth, target } = await assertConforms({
      files: { 'compose.yaml': 'name: vendor-shop\nservices:\n  app: {image: vendor/app:1}\nvolumes:\n  data: {}\n' },
      // No -p: the person's `docker compose` takes the name from the file.
      flags: [],
    });
    assert.equal(target.project, 'vendor-shop');
    assert.equal(berth['name'], 'vendor-shop');
  });

  test('COMPOSE_PROJECT_NAME in .env wins over the file\'s name:, as compose has it', async () => {
    const { target } = await assertConforms({
      files: { 'compose.yaml': 'name: vendor-shop\nservices:\n  app: {image: vendor/app:1}\n', '.env': 'COMPOSE_PROJECT_NAME=shop-from-env\n' },
      flags: [],
    });
    assert.equal(target.project, 'shop-from-env');
  });

  test('without name:, the folder is the project, as for `docker compose` in it', async () => {
    const { target } = await assertConforms({ files: { 'compose.yaml': 'services:\n  app: {image: vendor/app:1}\n' }, flags: [] });
    assert.equal(target.project, 'install');
  });

  test('spec.compose.project still sets the project over the file\'s name:', async () => {
    const { target } = await assertConforms({
      files: { 'compose.yaml': 'name: vendor-shop\nservices:\n  app: {image: vendor/app:1}\n' },
      compose: { project: 'shop-eu' },
      flags: p('shop-eu'),
    });
    assert.equal(target.project, 'shop-eu');
  });
});

describe("a release's own compose file is read by compose too", () => {
  test('merge keys, many aliases and the install\'s .env in the file a release ships', async () => {
    const dir = join(root, 'release', 'install');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'compose.yaml'), 'services:\n  web: {image: vendor/web:1}\n');
    await writeFile(join(dir, '.env'), 'DOMAIN=shop.example\n');
    const services = Array.from({ length: 120 }, (_, i) => `  s${i}: *svc`).join('\n');
    const text = `x-svc: &svc\n  image: vendor/side:2\n  labels: {vendor.part: side}\n  environment: {DOMAIN: "\${DOMAIN}"}\nservices:\n  web:\n    <<: *svc\n    image: vendor/web:2\n${services}\n`;
    const r = release('1.1.0', { compose: text, images: { web: feedImage('web', '1.1.0') } });
    const stack = following();
    const manifest = join(dir, 'stack.yaml');
    const s = { ...stack, spec: { ...stack.spec, compose: { file: 'compose.yaml' } } };
    const follow = { releases: [channelRelease(r, releaseCompose(r))], view: channelView(), now: NOW };
    const resolved = await resolveTargetFile(manifest, s, new ComposeModels(cli), follow);
    if ('error' in resolved) assert.fail(resolved.error);
    const t = resolved.target;
    assert.equal(t.version, '1.1.0');
    assert.equal(Object.keys(t.compose.services).length, 121);
    assert.deepEqual(t.compose.services['web']?.['labels'], { 'vendor.part': 'side' }, 'inherited through <<');
    assert.deepEqual(t.compose.services['s7']?.['environment'], { DOMAIN: 'shop.example' }, "interpolated from the install's .env");
    const rendered = renderRevision(t, 1);
    const revisionFile = join(root, 'release', 'rev.yaml');
    await writeFile(revisionFile, rendered.composeText);
    const berth = await config(['-p', t.project, '--project-directory', dir, '-f', revisionFile]);
    assert.equal(berth.services['web']?.['image'], r.spec.images['web']);
    assert.equal((berth.services['web']?.['labels'] as Record<string, string>)['vendor.part'], 'side');
  });
});

describe('resolving only when an input changed', () => {
  test('a pass over unchanged inputs makes no compose call; a changed .env, env_file or included file does', async () => {
    const dir = join(root, 'cache');
    await mkdir(join(dir, 'db'), { recursive: true });
    await writeFile(join(dir, 'compose.yaml'), 'include: [db/compose.yaml]\nservices:\n  app: {image: "vendor/app:${V}", env_file: app.env}\n');
    await writeFile(join(dir, 'db', 'compose.yaml'), 'services:\n  db: {image: vendor/db:1}\n');
    await writeFile(join(dir, '.env'), 'V=1\n');
    await writeFile(join(dir, 'app.env'), 'A=1\n');
    const models = new ComposeModels(cli);
    const inputs = { projectDirectory: dir, defaultProject: 'cache' };
    const calls = () => cli.invocations;
    const first = await models.resolve('cache', inputs);
    const before = calls();
    const again = await models.resolve('cache', inputs);
    assert.equal(calls(), before, 'unchanged inputs: no compose call');
    assert.equal(again.inputsHash, first.inputsHash);
    for (const f of ['compose.yaml', 'compose.override.yaml', '.env', 'app.env', 'db/compose.yaml']) {
      assert.ok(first.inputs.includes(join(dir, f)), `${f} is an input (watched, hashed)`);
    }
    await writeFile(join(dir, '.env'), 'V=2\n');
    const changed = await models.resolve('cache', inputs);
    assert.equal(calls(), before + 1);
    assert.equal((changed.model['services'] as Model['services'])['app']?.['image'], 'vendor/app:2');
    await writeFile(join(dir, 'db', 'compose.yaml'), 'services:\n  db: {image: vendor/db:2}\n');
    const included = await models.resolve('cache', inputs);
    assert.equal((included.model['services'] as Model['services'])['db']?.['image'], 'vendor/db:2');
    await writeFile(join(dir, 'app.env'), 'A=2\n');
    const envFile = await models.resolve('cache', inputs);
    assert.equal(((envFile.model['services'] as Model['services'])['app']?.['environment'] as Record<string, string>)['A'], '2');
    assert.equal(calls(), before + 3);
    assert.notEqual(await readFile(join(dir, '.env'), 'utf8'), '');
  });
});

describe('a revision an older berth rendered from its own reading of the YAML', () => {
  const legacyText = (db: string, stamp = '') =>
    [
      '# Rendered by berth for stack legacy, revision 3 (version 1.0.0). Do not edit.',
      'services:',
      '  web:',
      `    image: ${PIN}`,
      '    environment: {MODE: prod, PRICE: "$$5"}',
      `    labels: {dev.berth.stack: legacy, dev.berth.revision: "3"${stamp}}`,
      '  db:',
      `    image: "${db}"`,
      `    labels: {dev.berth.stack: legacy, dev.berth.revision: "2"${stamp}}`,
      'x-berth: {stack: legacy, revision: 3, version: 1.0.0}',
    ].join('\n');

  async function setUp(name: string, compose: string, env: string) {
    const dir = join(root, name, 'install');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'compose.yaml'), compose);
    await writeFile(join(dir, '.env'), env);
    const manifest = join(dir, 'stack.yaml');
    const stack = parseStack(
      manifest,
      stringify({ apiVersion: 'berth.dev/v1alpha1', kind: 'Stack', metadata: { name: 'legacy' }, spec: { compose: { file: 'compose.yaml' }, version: '1.0.0', images: { web: PIN } } }),
    );
    const models = new ComposeModels(cli);
    const resolve = async () => {
      const r = await resolveTargetFile(manifest, stack, models);
      if ('error' in r) assert.fail(r.error);
      return r.target;
    };
    const today = await resolve();
    const applied: RevisionRecord = {
      revision: 3,
      stack: 'legacy',
      version: '1.0.0',
      images: { web: PIN },
      targetKey: 'key-made-by-the-older-berth',
      generation: 'g',
      project: today.project,
      projectDirectory: dir,
      services: [],
      spec: stack.spec,
      created: new Date(0).toISOString(),
    };
    return { dir, models, resolve, today, applied };
  }

  test("keeps its key when compose reads it as today's inputs, so an upgrade of berth re-applies nothing", async () => {
    const compose = 'x-b: &b\n  image: vendor/web:1\nservices:\n  web:\n    <<: *b\n    environment: {MODE: prod, PRICE: "$$5"}\n  db: {image: vendor/db:15}\n';
    const { dir, models, resolve, today, applied } = await setUp('legacy1', compose, '');
    const legacyFile = join(dir, '..', 'rev3.yaml');
    await writeFile(legacyFile, legacyText('vendor/db:15'));
    assert.equal((await keepLegacyKey(models, today, applied, legacyFile)).key, applied.targetKey);
    assert.equal((await keepLegacyKey(models, today, { ...applied, resolved: true }, legacyFile)).key, today.key, 'a revision rendered from the model has a comparable key of its own');
    await writeFile(join(dir, 'compose.yaml'), compose.replace('vendor/db:15', 'vendor/db:16'));
    const changed = await resolve();
    assert.equal((await keepLegacyKey(models, changed, applied, legacyFile)).key, changed.key, 'a real change is a new revision');
  });

  test('a revision stamped with the managing instance (as berth stamps every service) keeps its key too', async () => {
    const compose = 'services:\n  web: {image: vendor/web:1, environment: {MODE: prod, PRICE: "$$5"}}\n  db: {image: vendor/db:15}\n';
    const { dir, models, today, applied } = await setUp('legacy3', compose, '');
    const legacyFile = join(dir, '..', 'rev3.yaml');
    await writeFile(legacyFile, legacyText('vendor/db:15', ', dev.berth.instance: 1d8d38a4-fc04-479c-8006-aa54a1c631fc'));
    assert.equal((await keepLegacyKey(models, today, applied, legacyFile)).key, applied.targetKey);
  });

  test('a revision file that interpolates variables is applied once more, so later .env changes are seen', async () => {
    const { dir, models, today, applied } = await setUp('legacy2', 'services:\n  web: {image: vendor/web:1, environment: {MODE: prod, PRICE: "$$5"}}\n  db: {image: "vendor/db:${DB}"}\n', 'DB=15\n');
    const legacyFile = join(dir, '..', 'rev3.yaml');
    await writeFile(legacyFile, legacyText('vendor/db:${DB}'));
    assert.equal((await keepLegacyKey(models, today, applied, legacyFile)).key, today.key);
  });
});
