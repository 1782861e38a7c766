// What berth asks compose for, and when: the flags a Stack's spec.compose becomes, the files
// that are inputs of a revision, and a model resolved again only when one of them changed.
import { describe, test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeInputsOf } from '../../src/controller/target-file.js';
import { ComposeModels, activeProfilesOf, composeFlags, composeProfilesIn, referencesOf, type ComposeInputs } from '../../src/docker/compose-model.js';
import { ComposeError, ComposeTimeoutError, type ComposeResult } from '../../src/docker/compose.js';
import { renderRevision } from '../../src/plan/render.js';
import { resolveTarget } from '../../src/plan/target.js';
import { COMPOSE_FILE, MANIFEST, stack } from './fixtures.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-model-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

/** A compose CLI that answers `config` with a fixed model and records every call. */
function fakeCli(answer: () => Promise<string> = async () => JSON.stringify({ name: 'shop', services: { web: { image: 'x' } } })) {
  const calls: string[][] = [];
  return {
    calls,
    cli: {
      flavour: 'v2' as const,
      run: async (args: string[]): Promise<ComposeResult> => {
        calls.push(args);
        return { stdout: await answer(), stderr: '' };
      },
    },
  };
}

describe('spec.compose as the flags of `docker compose`', () => {
  const manifest = '/srv/manifests/shop.yaml';
  const withCompose = (compose: Record<string, unknown>) => {
    const s = stack();
    return { ...s, spec: { ...s.spec, compose: compose as typeof s.spec.compose } };
  };
  const cases: { name: string; compose: Record<string, unknown>; want: ComposeInputs }[] = [
    {
      name: 'a lone file named as compose discovers it is left to discovery, so its override file is read',
      compose: { file: 'shop/compose.yaml' },
      want: { projectDirectory: '/srv/manifests/shop' },
    },
    {
      name: 'a lone file of another name is passed with -f, as before',
      compose: { file: 'shop/stack.yml' },
      want: { projectDirectory: '/srv/manifests/shop', files: ['/srv/manifests/shop/stack.yml'] },
    },
    {
      name: 'files in order, the project directory is the first one\'s folder',
      compose: { files: ['shop/compose.yaml', '/etc/vendor/compose.s3.yaml'] },
      want: { projectDirectory: '/srv/manifests/shop', files: ['/srv/manifests/shop/compose.yaml', '/etc/vendor/compose.s3.yaml'] },
    },
    {
      name: 'no file at all: compose discovers in `directory`; env files are relative to it; profiles passed on',
      compose: { directory: '/opt/shop', envFiles: ['prod.env', '/etc/shop.env'], profiles: ['monitoring'] },
      want: { projectDirectory: '/opt/shop', envFiles: ['/opt/shop/prod.env', '/etc/shop.env'], profiles: ['monitoring'] },
    },
    {
      name: 'spec.compose.project is passed as -p whatever the files say',
      compose: { file: 'shop/compose.yaml', project: 'shop-eu' },
      want: { projectDirectory: '/srv/manifests/shop', project: 'shop-eu' },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.deepEqual(composeInputsOf(manifest, withCompose(c.compose)), c.want);
    });
  }

  test('a lone docker-compose.yml beside a compose.yaml is passed with -f: discovery would pick the other one', async () => {
    await mkdir(join(dir, 'shop'));
    await writeFile(join(dir, 'shop', 'compose.yaml'), 'services: {}\n');
    await writeFile(join(dir, 'shop', 'docker-compose.yml'), 'services: {}\n');
    const s = stack();
    const inputs = composeInputsOf(join(dir, 'shop.yaml'), { ...s, spec: { ...s.spec, compose: { file: 'shop/docker-compose.yml' } } });
    assert.deepEqual(inputs.files, [join(dir, 'shop', 'docker-compose.yml')]);
  });

  test('flags come in the order compose takes them', () => {
    assert.deepEqual(
      composeFlags({ projectDirectory: '/p', files: ['/p/a.yaml', '/p/b.yaml'], profiles: ['x'], envFiles: ['/p/.env.prod'], project: 'shop' }),
      ['-p', 'shop', '--project-directory', '/p', '-f', '/p/a.yaml', '-f', '/p/b.yaml', '--profile', 'x', '--env-file', '/p/.env.prod'],
    );
  });
});

describe('the files a compose file makes compose read', () => {
  test('include (short and long form), extends and env_file (string, list, long form, inherited through <<)', () => {
    const text = [
      'name: vendor',
      'include:',
      '  - db/compose.yaml',
      '  - path: [cache/a.yaml, cache/b.yaml]',
      '    env_file: cache/.env',
      'x-env: &env',
      '  env_file: common.env',
      'services:',
      '  app:',
      '    <<: *env',
      '  worker:',
      '    extends: {file: base.yaml, service: worker}',
      '    env_file: [w.env, {path: /etc/w.env, required: false}]',
      '  skipped:',
      '    env_file: ${ENV_DIR}/x.env',
    ].join('\n');
    const refs = referencesOf(text, '/p');
    assert.equal(refs.namesProject, true);
    assert.deepEqual(refs.composeFiles, [
      { file: '/p/db/compose.yaml', base: '/p/db' },
      { file: '/p/cache/a.yaml', base: '/p/cache' },
      { file: '/p/cache/b.yaml', base: '/p/cache' },
      { file: '/p/base.yaml', base: '/p' },
    ]);
    assert.deepEqual(refs.envFiles, ['/p/db/.env', '/p/cache/.env', '/p/cache/.env', '/p/common.env', '/p/w.env', '/etc/w.env']);
  });

  test('a file that does not parse refers to nothing (compose says what is wrong with it)', () => {
    assert.deepEqual(referencesOf('services: [', '/p'), { namesProject: false, composeFiles: [], envFiles: [] });
  });
});

describe('the model is resolved again only when an input changed', () => {
  test('a pass over unchanged inputs makes no compose call; an edited .env or a new override file does', async () => {
    await writeFile(join(dir, 'compose.yaml'), 'services:\n  web: {image: "x:${V}"}\n');
    await writeFile(join(dir, '.env'), 'V=1\n');
    const { cli, calls } = fakeCli();
    const models = new ComposeModels(cli);
    const inputs: ComposeInputs = { projectDirectory: dir, defaultProject: 'shop' };
    const first = await models.resolve('shop', inputs);
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0], ['-p', 'shop', '--project-directory', dir, '--profile', '*', 'config', '--format', 'json']);
    assert.equal(first.project, 'shop');
    await models.resolve('shop', inputs);
    assert.equal(calls.length, 1, 'nothing changed: no compose call');
    await writeFile(join(dir, '.env'), 'V=2\n');
    await models.resolve('shop', inputs);
    assert.equal(calls.length, 2, '.env changed');
    await writeFile(join(dir, 'compose.override.yaml'), 'services:\n  web: {environment: {A: "1"}}\n');
    await models.resolve('shop', inputs);
    assert.equal(calls.length, 3, 'an override file appeared');
    await models.resolve('shop', { ...inputs, profiles: ['debug'] });
    assert.equal(calls.length, 4, 'the flags changed');
  });

  test("compose's refusal is kept too: reported every pass, asked once until a file changes", async () => {
    await writeFile(join(dir, 'compose.yaml'), 'services: {web: {image: x, bogus: 1}}\n');
    let broken = true;
    const { cli, calls } = fakeCli(async () => {
      if (broken) throw new ComposeError('docker compose config exited with code 15: services.web Additional property bogus is not allowed', 'docker compose config', 15, '');
      return JSON.stringify({ name: 'shop', services: { web: { image: 'x' } } });
    });
    const models = new ComposeModels(cli);
    const inputs: ComposeInputs = { projectDirectory: dir };
    await assert.rejects(models.resolve('shop', inputs), /bogus is not allowed/);
    await assert.rejects(models.resolve('shop', inputs), /bogus is not allowed/);
    assert.equal(calls.length, 1);
    assert.ok(models.inputsOf('shop').includes(join(dir, 'compose.yaml')), 'a broken file is still watched');
    broken = false;
    await writeFile(join(dir, 'compose.yaml'), 'services: {web: {image: x}}\n');
    assert.equal((await models.resolve('shop', inputs)).project, 'shop');
    assert.equal(calls.length, 2);
  });

  test('a compose that timed out has said nothing about the files: it is asked again on the next pass', async () => {
    await writeFile(join(dir, 'compose.yaml'), 'services: {web: {image: x}}\n');
    let slow = true;
    const { cli, calls } = fakeCli(async () => {
      if (slow) throw new ComposeTimeoutError('docker compose config did not finish within 60000 ms and was killed', 'docker compose config', null, '');
      return JSON.stringify({ name: 'shop', services: { web: { image: 'x' } } });
    });
    const models = new ComposeModels(cli);
    await assert.rejects(models.resolve('shop', { projectDirectory: dir }), /did not finish/);
    slow = false;
    assert.equal((await models.resolve('shop', { projectDirectory: dir })).project, 'shop');
    assert.equal(calls.length, 2);
  });

  test("a name the inputs give (name:, COMPOSE_PROJECT_NAME in .env) is compose's to apply: no -p", async () => {
    const { cli, calls } = fakeCli();
    const models = new ComposeModels(cli);
    await writeFile(join(dir, 'compose.yaml'), 'name: vendor\nservices: {web: {image: x}}\n');
    await models.resolve('a', { projectDirectory: dir, defaultProject: 'shop' });
    assert.equal(calls[0]?.includes('-p'), false);
    await writeFile(join(dir, 'compose.yaml'), 'services: {web: {image: x}}\n');
    await writeFile(join(dir, '.env'), 'COMPOSE_PROJECT_NAME=vendor\n');
    await models.resolve('a', { projectDirectory: dir, defaultProject: 'shop' });
    assert.equal(calls[1]?.includes('-p'), false);
    await writeFile(join(dir, '.env'), '');
    await models.resolve('a', { projectDirectory: dir, defaultProject: 'shop' });
    assert.deepEqual(calls[2]?.slice(0, 2), ['-p', 'shop']);
  });

  test('included files are inputs: editing one resolves again', async () => {
    await mkdir(join(dir, 'db'));
    await writeFile(join(dir, 'compose.yaml'), 'include: [db/compose.yaml]\nservices: {web: {image: x}}\n');
    await writeFile(join(dir, 'db', 'compose.yaml'), 'services: {db: {image: y, env_file: db.env}}\n');
    await writeFile(join(dir, 'db', 'db.env'), 'A=1\n');
    const { cli, calls } = fakeCli();
    const models = new ComposeModels(cli);
    const r = await models.resolve('shop', { projectDirectory: dir });
    assert.ok(r.inputs.includes(join(dir, 'db', 'db.env')));
    await writeFile(join(dir, 'db', 'db.env'), 'A=2\n');
    await models.resolve('shop', { projectDirectory: dir });
    assert.equal(calls.length, 2);
  });
});

describe('the rendered revision and profiles', () => {
  const compose = {
    services: { web: { image: 'w' }, db: { image: 'd', profiles: ['db', 'all'] }, metrics: { image: 'm', profiles: ['monitoring'] } },
  };
  const withProfiles = (activeProfiles: string[]) =>
    resolveTarget({ stack: stack(), manifest: MANIFEST, composeFile: COMPOSE_FILE, compose, activeProfiles });

  test('only the active profiles are recorded, so compose up runs exactly the active services', () => {
    assert.deepEqual(renderRevision(withProfiles(['db']), 1).profiles, ['db']);
    assert.deepEqual(renderRevision(withProfiles([]), 1).profiles, []);
    assert.deepEqual(renderRevision(withProfiles(['*']), 1).profiles, ['all', 'db', 'monitoring']);
  });

  test('the services of inactive profiles are in the revision, recorded as inactive', () => {
    const r = renderRevision(withProfiles(['db']), 1);
    assert.deepEqual(r.services.map((s) => [s.name, s.inactive]), [['web', undefined], ['db', undefined], ['metrics', true]]);
  });
});

describe('profiles: the model holds every profile, berth selects the ones compose enables', () => {
  test("compose is asked with --profile '*' whatever the stack enables", async () => {
    await writeFile(join(dir, 'compose.yaml'), 'services:\n  web: {image: x}\n');
    const { cli, calls } = fakeCli();
    const r = await new ComposeModels(cli).resolve('shop', { projectDirectory: dir, profiles: ['debug'] });
    assert.deepEqual(calls[0], ['--project-directory', dir, '--profile', '*', 'config', '--format', 'json']);
    assert.deepEqual(r.activeProfiles, ['debug']);
  });

  const rows: Array<{ name: string; inputs: ComposeInputs; files?: Record<string, string>; env?: Record<string, string>; want: string[] }> = [
    { name: 'the stack names profiles: those', inputs: { projectDirectory: '/p', profiles: ['a', 'b'] }, files: { '/p/.env': 'COMPOSE_PROFILES=c\n' }, want: ['a', 'b'] },
    { name: 'none named, none in the environment or .env: none', inputs: { projectDirectory: '/p' }, files: { '/p/.env': 'X=1\n' }, want: [] },
    { name: 'COMPOSE_PROFILES in .env', inputs: { projectDirectory: '/p' }, files: { '/p/.env': 'COMPOSE_PROFILES="web, worker"\n' }, want: ['web', 'worker'] },
    { name: "berth's environment wins over .env", inputs: { projectDirectory: '/p' }, files: { '/p/.env': 'COMPOSE_PROFILES=a\n' }, env: { COMPOSE_PROFILES: 'b' }, want: ['b'] },
    {
      name: 'a later env file wins over an earlier one',
      inputs: { projectDirectory: '/p', envFiles: ['/p/a.env', '/p/b.env'] },
      files: { '/p/a.env': 'COMPOSE_PROFILES=a\n', '/p/b.env': 'export COMPOSE_PROFILES=b\n' },
      want: ['b'],
    },
  ];
  for (const row of rows) {
    test(`${row.name} -> [${row.want.join(', ')}]`, () => {
      assert.deepEqual(activeProfilesOf(row.inputs, new Map(Object.entries(row.files ?? {})), row.env ?? {}), row.want);
    });
  }

  test("the last COMPOSE_PROFILES line counts, quotes stripped", () => {
    assert.deepEqual(composeProfilesIn("COMPOSE_PROFILES=a\nCOMPOSE_PROFILES='b,c'\n"), ['b', 'c']);
    assert.equal(composeProfilesIn('OTHER=1\n'), undefined);
  });
});
