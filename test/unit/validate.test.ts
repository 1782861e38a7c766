// parseStack(): a Stack manifest from its text, with defaults, or errors a person can act on.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidManifestError, parseStack, type FieldProblem } from '../../src/api/validate.js';

const FILE = '/srv/stacks/shop.yaml';
const DIGEST = `sha256:${'a'.repeat(64)}`;

function manifest(spec: string, head = 'apiVersion: berth.dev/v1alpha1\nkind: Stack\nmetadata:\n  name: shop\n'): string {
  return `${head}spec:\n${spec}`;
}

const GOOD_SPEC = `  compose:
    file: shop/compose.yaml
  version: "1.4.2"
  images:
    web: registry.local/web@${DIGEST}
`;

/** The problems parseStack reports for `text`; fails the test if it accepts the text. */
function problemsOf(text: string): { error: InvalidManifestError; problems: FieldProblem[] } {
  try {
    parseStack(FILE, text);
  } catch (err) {
    assert.ok(err instanceof InvalidManifestError, `expected InvalidManifestError, got ${String(err)}`);
    return { error: err, problems: err.problems };
  }
  assert.fail('the manifest was accepted');
}

function problemAt(problems: FieldProblem[], path: string): FieldProblem {
  const p = problems.find((x) => x.path === path);
  assert.ok(p, `no problem at ${path}: ${JSON.stringify(problems)}`);
  return p;
}

describe('parseStack', () => {
  test('spec.compose: one file, a list of files (with profiles and env files), or neither (compose discovers)', () => {
    const compose = (c: string) => parseStack(FILE, manifest(`  compose:\n${c}\n  version: "1"\n`)).spec.compose;
    assert.deepEqual(compose('    files: [compose.yaml, compose.s3.yaml]\n    profiles: [monitoring]\n    envFiles: [prod.env]'), {
      files: ['compose.yaml', 'compose.s3.yaml'],
      profiles: ['monitoring'],
      envFiles: ['prod.env'],
    });
    assert.deepEqual(compose('    directory: /opt/shop'), { directory: '/opt/shop' });
    const { problems } = problemsOf(manifest('  compose:\n    file: a.yaml\n    files: [b.yaml]\n  version: "1"\n'));
    assert.deepEqual(problems, [{ path: 'spec.compose.files', message: 'cannot be set together with spec.compose.file: list that file in files instead' }]);
  });

  const badInputs: Array<{ name: string; spec: string; path: string }> = [
    { name: 'an empty spec.compose.files', spec: '  compose:\n    files: []\n  version: "1"\n', path: 'spec.compose.files' },
    { name: 'spec.compose.profiles that is no list', spec: '  compose:\n    profiles: monitoring\n  version: "1"\n', path: 'spec.compose.profiles' },
    { name: 'an empty name in spec.compose.envFiles', spec: '  compose:\n    envFiles: [""]\n  version: "1"\n', path: 'spec.compose.envFiles.0' },
    { name: 'an empty spec.compose.directory', spec: '  compose:\n    directory: ""\n  version: "1"\n', path: 'spec.compose.directory' },
    {
      name: 'a spec.channel.reportUrl that is no http(s) URL',
      spec: '  compose:\n    file: a.yaml\n  channel:\n    url: https://feed.example.com/shop\n    publicKey: vendor.pem\n    reportUrl: ftp://feed.example.com/report\n',
      path: 'spec.channel.reportUrl',
    },
  ];
  for (const row of badInputs) {
    test(`${row.name} is refused at ${row.path}`, () => {
      const { problems } = problemsOf(manifest(row.spec));
      assert.deepEqual(problems.map((p) => p.path), [row.path]);
    });
  }

  test('a good manifest is accepted with mode auto and resyncSeconds 30 by default', () => {
    const s = parseStack(FILE, manifest(GOOD_SPEC));
    assert.equal(s.metadata.name, 'shop');
    assert.equal(s.spec.version, '1.4.2');
    assert.equal(s.spec.mode, 'auto');
    assert.equal(s.spec.resyncSeconds, 30);
    assert.deepEqual(s.spec.images, { web: `registry.local/web@${DIGEST}` });
  });

  test('values the manifest sets win over the defaults', () => {
    const s = parseStack(FILE, manifest(`${GOOD_SPEC}  mode: notify\n  approve: "1.4.2"\n  resyncSeconds: 600\n`));
    assert.equal(s.spec.mode, 'notify');
    assert.equal(s.spec.approve, '1.4.2');
    assert.equal(s.spec.resyncSeconds, 600);
  });

  test('a stack with neither spec.version nor spec.channel is told it needs one of them', () => {
    const { error, problems } = problemsOf(manifest('  compose:\n    file: compose.yaml\n'));
    assert.deepEqual(problemAt(problems, 'spec.version'), {
      path: 'spec.version',
      message: 'is required unless spec.channel is set (a stack names its version or follows a release channel)',
    });
    assert.ok(error.message.startsWith(`${FILE}: `), error.message);
    assert.match(error.message, /spec\.version: is required unless spec\.channel is set/);
  });

  test('a misspelt field is reported as unknown at its own path', () => {
    const { problems } = problemsOf(manifest(`${GOOD_SPEC}  imagez:\n    db: registry.local/db@${DIGEST}\n`));
    assert.deepEqual(problems, [{ path: 'spec.imagez', message: 'is not a known field (check its spelling and indentation)' }]);
  });

  test('a bad mode lists the allowed values', () => {
    const { problems } = problemsOf(manifest(`${GOOD_SPEC}  mode: sometimes\n`));
    assert.deepEqual(problems, [{ path: 'spec.mode', message: 'must be one of "auto", "notify", "disabled"' }]);
  });

  test('an image without a digest is refused at spec.images.<service> with the pinned-by-digest explanation', () => {
    const { problems } = problemsOf(manifest('  compose:\n    file: compose.yaml\n  version: "1"\n  images:\n    web: registry.local/web:1.4\n'));
    assert.deepEqual(problems, [
      { path: 'spec.images.web', message: 'must be an image pinned by digest, like registry/name@sha256:<64 hex digits>' },
    ]);
  });

  test('a short digest is refused the same way', () => {
    const { problems } = problemsOf(manifest(`  compose:\n    file: compose.yaml\n  version: "1"\n  images:\n    web: registry.local/web@sha256:abc\n`));
    assert.equal(problemAt(problems, 'spec.images.web').message, 'must be an image pinned by digest, like registry/name@sha256:<64 hex digits>');
  });

  test('every problem of a manifest is reported at once, each with its path', () => {
    const { problems } = problemsOf(manifest(`  compose:\n    file: compose.yaml\n  images:\n    web: web:latest\n  mode: always\n`));
    assert.deepEqual(problems.map((p) => p.path).sort(), ['spec.images.web', 'spec.mode', 'spec.version']);
  });

  test('a YAML syntax error is reported as a YAML syntax error', () => {
    const { error, problems } = problemsOf('apiVersion: berth.dev/v1alpha1\nkind: Stack\nspec: [unclosed\n');
    assert.ok(problems.length > 0);
    for (const p of problems) {
      assert.equal(p.path, '');
      assert.match(p.message, /^YAML syntax error: /);
    }
    assert.match(error.message, new RegExp(`^${FILE}: YAML syntax error`));
  });

  test('a duplicate key is a YAML error, not a silent last-one-wins', () => {
    const { problems } = problemsOf(manifest(GOOD_SPEC).replace('kind: Stack\n', 'kind: Stack\nkind: Stack\n'));
    assert.match(problems[0]!.message, /^YAML syntax error: /);
  });

  for (const [name, text] of [
    ['an empty file', ''],
    ['a file of comments only', '# nothing here yet\n'],
  ] as const) {
    test(`${name} is reported as empty`, () => {
      const { problems } = problemsOf(text);
      assert.deepEqual(problems, [{ path: '', message: 'the file is empty; expected a Stack manifest' }]);
    });
  }

  test('a wrong apiVersion is reported with the one expected', () => {
    const { problems } = problemsOf(manifest(GOOD_SPEC, 'apiVersion: berth.dev/v1\nkind: Stack\nmetadata:\n  name: shop\n'));
    assert.deepEqual(problems, [{ path: 'apiVersion', message: 'must be "berth.dev/v1alpha1"' }]);
  });

  test('a wrong kind is reported with the one expected', () => {
    const { problems } = problemsOf(manifest(GOOD_SPEC, 'apiVersion: berth.dev/v1alpha1\nkind: Release\nmetadata:\n  name: shop\n'));
    assert.deepEqual(problems, [{ path: 'kind', message: 'must be "Stack"' }]);
  });

  test('a name that is no DNS label is refused at metadata.name', () => {
    const { problems } = problemsOf(manifest(GOOD_SPEC, 'apiVersion: berth.dev/v1alpha1\nkind: Stack\nmetadata:\n  name: My_Shop\n'));
    assert.equal(problemAt(problems, 'metadata.name').path, 'metadata.name');
  });

  test('a resync interval below the minimum is refused at spec.resyncSeconds', () => {
    const { problems } = problemsOf(manifest(`${GOOD_SPEC}  resyncSeconds: 1\n`));
    assert.equal(problemAt(problems, 'spec.resyncSeconds').path, 'spec.resyncSeconds');
  });
});
