// The README's own examples work when a new user copies them: the Release validates as
// written (its name has dots), the publish command names the file the repository ships, and
// the "follow a channel" Stack is a whole manifest that approves nothing by itself.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parseStack, parseYaml } from '../../src/api/validate.js';
import { validateRelease } from '../../src/api/validate-release.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** Fenced blocks of `lang` in the README's section under `heading`. */
function blocksUnder(heading: string, lang: string): string[] {
  const start = README.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `README has no heading "${heading}"`);
  const rest = README.slice(start + heading.length + 2);
  // Only ## and ### end a section: a single # starts comment lines in the sh examples.
  const next = rest.search(/\n#{2,3} /);
  const section = next >= 0 ? rest.slice(0, next) : rest;
  return [...section.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
}

// The README writes digests as <64 hex> so nobody takes them for real ones.
const withDigests = (text: string): string => text.replaceAll('<64 hex>', 'a'.repeat(64));

describe('README examples', () => {
  test("the quick start's first command runs the demo", () => {
    const [sh] = blocksUnder('## Try it', 'sh');
    const first = (sh ?? '').split('\n').find((l) => l.trim() !== '' && !l.trim().startsWith('#'));
    assert.match(first ?? '', /npm run demo$/);
  });

  test('the Release a vendor writes is valid as written, named after its version', () => {
    const [yaml] = blocksUnder('### For the vendor: publish a release', 'yaml');
    assert.ok(yaml !== undefined, 'no yaml example under "For the vendor"');
    const release = validateRelease('README.md', parseYaml('README.md', withDigests(yaml)));
    assert.equal(release.metadata.name, 'shop-1.5.0');
  });

  test('every `berth release publish FILE` names a release file the repository ships', () => {
    const files = [...README.matchAll(/berth release publish (\S+)/g)].map((m) => m[1]!).filter((f) => f !== 'RELEASE.yaml');
    assert.ok(files.length > 0, 'the README shows no publish command');
    for (const file of files) assert.ok(existsSync(join(ROOT, 'manifests', 'examples', file)), `the README publishes ${file}, which manifests/examples/ does not have`);
  });

  test('the "follow a channel" Stack is a whole manifest, follows its channel and pre-approves no version', () => {
    const [yaml] = blocksUnder('### For the admin: follow a channel', 'yaml');
    assert.ok(yaml !== undefined, 'no yaml example under "follow a channel"');
    const stack = parseStack('README.md', yaml);
    assert.equal(stack.kind, 'Stack');
    assert.equal(stack.spec.version, undefined);
    assert.equal(stack.spec.approve, undefined, 'a copied example must not approve a major version nobody has read');
    assert.equal(stack.spec.channel?.name, 'stable');
  });
});
