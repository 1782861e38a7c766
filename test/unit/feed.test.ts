// parseIndex and checkDowngrade: what berth makes of a channel's index once it has the text.
// The same checks through a real HTTP server are in test/integration/feed-client.test.ts.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { FEED_LIMITS } from '../../src/api/schema.js';
import type { SignedRelease } from '../../src/api/types.js';
import { FeedError, type FeedRefusal } from '../../src/sources/errors.js';
import { checkDowngrade, parseIndex } from '../../src/sources/feed.js';
import { signRelease } from '../../src/sources/signing.js';
import { releaseOf, testKeys, type TestKeys } from '../support/releases.js';

const URL_ = 'https://feed.example/stable/index.json';
let keys: TestKeys;
before(() => {
  keys = testKeys();
});

function signed(version: string, fields: Parameters<typeof releaseOf>[1] = {}): SignedRelease {
  return signRelease(releaseOf(version, fields), keys.privateKey);
}

function indexText(releases: unknown[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ apiVersion: 'berth.dev/v1alpha1', kind: 'ReleaseIndex', channel: 'stable', ...extra, releases }, null, 2);
}

function parse(text: string, channel = 'stable') {
  return parseIndex(text, { url: URL_, channel, publicKey: keys.publicKey });
}

function refused(reason: FeedRefusal, fn: () => unknown): FeedError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof FeedError, `expected a FeedError, got ${String(err)}`);
    assert.equal(err.reason, reason, err.message);
    return err;
  }
  assert.fail(`accepted; expected ${reason}`);
}

describe('parseIndex', () => {
  test('returns the verified releases newest version first, whatever order the feed lists them in', () => {
    const index = parse(indexText([signed('1.2.0'), signed('1.10.0'), signed('1.10.0-rc.1'), signed('0.9.0')], { report: 'https://vendor.example/report' }));
    assert.deepEqual(index.releases.map((r) => r.spec.version), ['1.10.0', '1.10.0-rc.1', '1.2.0', '0.9.0']);
    assert.equal(index.channel, 'stable');
    assert.equal(index.report, 'https://vendor.example/report');
  });

  test('an index without releases is accepted: the vendor has published nothing yet', () => {
    assert.deepEqual(parse(indexText([])), { channel: 'stable', releases: [] });
  });

  test('the index may be YAML', () => {
    const yaml = `apiVersion: berth.dev/v1alpha1\nkind: ReleaseIndex\nchannel: stable\nreleases:\n  - ${JSON.stringify(signed('1.0.0'))}\n`;
    assert.equal(parse(yaml).releases[0]?.spec.version, '1.0.0');
  });

  test('one release listed twice is one release', () => {
    const r = signed('1.0.0');
    assert.equal(parse(indexText([r, r])).releases.length, 1);
  });

  test('two different releases claiming one version refuse the whole index (FeedInvalid)', () => {
    const err = refused('FeedInvalid', () => parse(indexText([signed('1.0.0'), signed('1.0.0', { notes: 'other' })])));
    assert.match(err.message, /two different releases claim version 1\.0\.0/);
    // Build metadata does not make another version: which one is newer could not be told.
    refused('FeedInvalid', () => parse(indexText([signed('1.0.0+a'), signed('1.0.0+b')])));
  });

  test('one tampered release among good ones refuses the whole index', () => {
    const bad = JSON.parse(JSON.stringify(signed('1.1.0'))) as SignedRelease;
    bad.spec.notes = 'tampered';
    refused('SignatureInvalid', () => parse(indexText([signed('1.0.0'), bad, signed('1.2.0')])));
  });

  test("an index of another channel, and a release signed for another channel, are ChannelMismatch", () => {
    const beta = indexText([signed('2.0.0-beta.1', { channel: 'beta' })], { channel: 'beta' });
    assert.match(refused('ChannelMismatch', () => parse(beta)).message, /the index is of channel "beta", but channel "stable" was asked for/);
    const replayed = indexText([signed('1.0.0'), signed('2.0.0-beta.1', { channel: 'beta' })]);
    assert.match(refused('ChannelMismatch', () => parse(replayed)).message, /release 2\.0\.0-beta\.1 was signed for channel "beta", but this is the "stable" feed/);
  });

  test('an envelope that is not a ReleaseIndex is FeedInvalid, with the field', () => {
    assert.match(refused('FeedInvalid', () => parse(indexText([], { kind: 'Index' }))).message, /kind: must be "ReleaseIndex"/);
    assert.match(refused('FeedInvalid', () => parse(indexText([], { report: 'ftp://x' }))).message, /report: must match/);
    refused('FeedInvalid', () => parse(JSON.stringify({ apiVersion: 'berth.dev/v1alpha1', kind: 'ReleaseIndex', channel: 'stable', releases: {} })));
    refused('FeedInvalid', () => parse('[1, 2]'));
  });

  test(`more than ${FEED_LIMITS.maxReleases} releases are refused before any is verified`, () => {
    const many = Array.from({ length: FEED_LIMITS.maxReleases + 1 }, () => ({}));
    assert.match(refused('FeedInvalid', () => parse(indexText(many))).message, /lists 201 releases, more than the 200/);
  });

  test('text that is no document is FeedMalformed, quoting a short, printable part of it', () => {
    refused('FeedMalformed', () => parse(''));
    refused('FeedMalformed', () => parse('{"releases": ['));
    const html = refused('FeedMalformed', () => parse(`<html>\u001b[31m${'x'.repeat(500)}</html>`));
    assert.ok(!html.message.includes('\u001b'), 'a terminal escape reached the message');
    assert.ok(html.message.length < 400, html.message);
    refused('FeedMalformed', () => parse('a: [unclosed\n  b: }'));
  });

  test('YAML that expands aliases beyond a small bound is FeedMalformed', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}]`)].join('\n');
    refused('FeedMalformed', () => parse(bomb));
  });
});

describe('checkDowngrade', () => {
  test("refuses a feed whose newest release is older than what runs, naming both versions", () => {
    const err = refused('Downgrade', () => checkDowngrade([signed('1.0.0'), signed('1.1.0')], '1.2.0'));
    assert.match(err.message, /newest release is 1\.1\.0, older than 1\.2\.0 which runs here/);
    assert.match(err.message, /berth keeps what runs and the releases it accepted last/);
  });

  test('accepts a feed whose newest release is what runs or newer, an empty feed, and an unknown or non-semver current version', () => {
    checkDowngrade([signed('1.2.0'), signed('1.0.0')], '1.2.0');
    checkDowngrade([signed('1.3.0')], '1.2.0');
    checkDowngrade([], '1.2.0');
    checkDowngrade([signed('1.0.0')], undefined);
    checkDowngrade([signed('1.0.0')], '2024-05-01');
  });

  test('a prerelease of what runs is older than it', () => {
    refused('Downgrade', () => checkDowngrade([signed('1.2.0-rc.1')], '1.2.0'));
  });
});
