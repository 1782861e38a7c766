// chooseRelease() and changeBetween(): which release of a channel a stack runs, and what
// berth tells the admin about the newest one. Each table reads as the rule it checks.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SignedRelease } from '../../src/api/types.js';
import { changeBetween, chooseRelease, type Change, type Offer } from '../../src/plan/offer.js';
import { NOW, at, following, iso, release, type FollowOptions } from './fixtures.js';

interface Case {
  name?: string;
  /** Versions on the channel (published a day before NOW), or releases built for the case. */
  releases: Array<string | SignedRelease>;
  current?: string;
  spec?: FollowOptions;
  now?: Date;
}

function choose(c: Case): Offer {
  return chooseRelease({
    releases: c.releases.map((r) => (typeof r === 'string' ? release(r) : r)),
    ...(c.current !== undefined ? { current: c.current } : {}),
    spec: following(c.spec).spec,
    now: c.now ?? NOW,
  });
}

/** The parts of an offer a rule is about; absent fields are left out so deepEqual is exact. */
interface Summary {
  target?: string;
  available?: string;
  change?: Change;
  waitingReason?: string;
  awaitingApproval?: boolean;
}

function summary(o: Offer): Summary {
  const a = o.available;
  return {
    ...(o.target !== undefined ? { target: o.target.spec.version } : {}),
    ...(a !== undefined
      ? {
          available: a.release.spec.version,
          change: a.change,
          ...(a.waitingReason !== undefined ? { waitingReason: a.waitingReason } : {}),
          awaitingApproval: a.awaitingApproval,
        }
      : {}),
  };
}

function check(rows: ReadonlyArray<Case & { name: string; expect: Summary }>): void {
  for (const row of rows) assert.deepEqual(summary(choose(row)), row.expect, row.name);
}

describe('changeBetween: how far a release is from what runs', () => {
  const rows: Array<[from: string | undefined, to: string, change: Change]> = [
    [undefined, '1.0.0', 'install'],
    ['not-a-version', '1.0.0', 'install'],
    ['1.0.0', '1.0.1', 'patch'],
    ['1.0.0', '1.1.0', 'minor'],
    ['1.0.0', '2.0.0', 'major'],
    ['1.9.9', '2.0.0', 'major'],
    // Prereleases: within one prerelease line it is a prerelease step; into one, the step of its core.
    ['1.5.0-beta.1', '1.5.0-beta.2', 'prerelease'],
    ['1.4.0', '1.5.0-beta.1', 'minor'],
    ['1.4.0', '1.4.1-rc.1', 'patch'],
    ['1.4.0', '2.0.0-rc.1', 'major'],
    // Before 1.0.0 semver promises nothing: a minor step is major, a patch step is minor.
    ['0.4.0', '0.5.0', 'major'],
    ['0.4.0', '0.4.1', 'minor'],
    ['0.4.0', '0.5.0-beta.1', 'major'],
    ['0.9.3', '1.0.0', 'major'],
  ];
  for (const [from, to, change] of rows) {
    test(`${from ?? 'nothing'} -> ${to} is ${change}`, () => {
      assert.equal(changeBetween(from, to), change);
    });
  }
});

describe('chooseRelease: the target is the newest acceptable release', () => {
  test('in auto mode within the policy, the newest release is the target and is reported as available without a wait', () => {
    const offer = choose({ releases: ['1.0.0', '1.0.1', '1.1.0'], current: '1.0.0' });
    assert.deepEqual(summary(offer), { target: '1.1.0', available: '1.1.0', change: 'minor', awaitingApproval: false });
    assert.equal(offer.available?.waitingFor, undefined);
    assert.equal(offer.available?.eligibleAt, undefined);
  });

  test('the order of the feed does not matter', () => {
    check([
      { name: 'oldest first', releases: ['1.0.0', '1.0.1', '1.1.0'], current: '1.0.0', expect: { target: '1.1.0', available: '1.1.0', change: 'minor', awaitingApproval: false } },
      { name: 'newest first', releases: ['1.1.0', '1.0.1', '1.0.0'], current: '1.0.0', expect: { target: '1.1.0', available: '1.1.0', change: 'minor', awaitingApproval: false } },
      { name: 'shuffled', releases: ['1.0.1', '1.1.0', '1.0.0'], current: '1.0.0', expect: { target: '1.1.0', available: '1.1.0', change: 'minor', awaitingApproval: false } },
    ]);
  });

  test('nothing older than what runs is ever a target: a feed cannot downgrade a host', () => {
    check([
      {
        name: 'the feed only has older releases than what runs: no target, nothing available',
        releases: ['1.0.0', '1.1.0'],
        current: '1.2.0',
        expect: {},
      },
      {
        name: 'an approved older release is still not a target',
        releases: ['1.0.0', '1.1.0'],
        current: '1.2.0',
        spec: { approve: '1.0.0' },
        expect: {},
      },
      {
        name: 'an approved older release in notify mode is not a target either',
        releases: ['1.0.0', '1.2.0'],
        current: '1.2.0',
        spec: { mode: 'notify', approve: '1.0.0' },
        expect: { target: '1.2.0' },
      },
    ]);
  });

  test('the version that runs stays a target, so an update in flight is not superseded by its own success', () => {
    check([
      {
        name: 'auto, nothing newer: the running version is the target and nothing is available',
        releases: ['1.0.0', '1.1.0'],
        current: '1.1.0',
        expect: { target: '1.1.0' },
      },
      {
        name: 'notify without approve: the running version is still acceptable',
        releases: ['1.0.0', '1.1.0', '1.2.0'],
        current: '1.1.0',
        spec: { mode: 'notify' },
        expect: { target: '1.1.0', available: '1.2.0', change: 'minor', waitingReason: 'AwaitingApproval', awaitingApproval: true },
      },
      {
        name: 'auto, a newer major waits: the running version is the target',
        releases: ['1.1.0', '2.0.0'],
        current: '1.1.0',
        expect: { target: '1.1.0', available: '2.0.0', change: 'major', waitingReason: 'AwaitingApproval', awaitingApproval: true },
      },
      {
        name: 'the running version is younger than the cooldown: it stays the target anyway',
        releases: [release('1.1.0', { published: iso(-10) })],
        current: '1.1.0',
        spec: { minReleaseAgeSeconds: 3600 },
        expect: { target: '1.1.0' },
      },
      {
        name: 'the approval moved on to a newer version, not yet on the channel: what runs stays the target',
        releases: ['1.0.0', '1.1.0'],
        current: '1.1.0',
        spec: { mode: 'notify', approve: '1.2.0' },
        expect: { target: '1.1.0' },
      },
    ]);
  });
});

describe('chooseRelease in auto mode: spec.policy.autoApply bounds what applies without a person', () => {
  test('each policy applies changes up to its size and holds bigger ones for approval', () => {
    const feed = ['1.0.0', '1.0.1', '1.1.0', '2.0.0'];
    const major = { available: '2.0.0', change: 'major' as const };
    check([
      { name: 'patch: 1.0.1 applies, 2.0.0 waits', releases: feed, current: '1.0.0', spec: { autoApply: 'patch' }, expect: { target: '1.0.1', ...major, waitingReason: 'AwaitingApproval', awaitingApproval: true } },
      { name: 'minor: 1.1.0 applies, 2.0.0 waits', releases: feed, current: '1.0.0', spec: { autoApply: 'minor' }, expect: { target: '1.1.0', ...major, waitingReason: 'AwaitingApproval', awaitingApproval: true } },
      { name: 'the default policy is minor', releases: feed, current: '1.0.0', expect: { target: '1.1.0', ...major, waitingReason: 'AwaitingApproval', awaitingApproval: true } },
      { name: 'major: 2.0.0 applies', releases: feed, current: '1.0.0', spec: { autoApply: 'major' }, expect: { target: '2.0.0', ...major, awaitingApproval: false } },
      {
        name: 'patch with only a minor on offer: nothing new applies, the running version stays',
        releases: ['1.0.0', '1.1.0'],
        current: '1.0.0',
        spec: { autoApply: 'patch' },
        expect: { target: '1.0.0', available: '1.1.0', change: 'minor', waitingReason: 'AwaitingApproval', awaitingApproval: true },
      },
    ]);
  });

  test('the policy measures from what runs, not from the previous release: 1.9.0 -> 2.0.0 is major even after 1.0.0 -> 1.9.0', () => {
    check([
      { name: 'from 1.0.0', releases: ['1.0.0', '1.9.0', '2.0.0'], current: '1.0.0', expect: { target: '1.9.0', available: '2.0.0', change: 'major', waitingReason: 'AwaitingApproval', awaitingApproval: true } },
    ]);
  });

  test('a major that waits says to set spec.approve to exactly its version, and why it waits', () => {
    const offer = choose({ releases: ['1.0.0', '2.0.0'], current: '1.0.0' });
    const waiting = offer.available?.waitingFor ?? '';
    assert.match(waiting, /set spec\.approve to "2\.0\.0"/);
    assert.match(waiting, /major change from 1\.0\.0/);
    assert.match(waiting, /spec\.policy\.autoApply \(minor\)/);
  });

  test('spec.approve of exactly the waiting version makes it the target; it approves no other version', () => {
    check([
      {
        name: 'approve 2.0.0 with 2.0.0 the newest: 2.0.0 is the target',
        releases: ['1.0.0', '1.1.0', '2.0.0'],
        current: '1.0.0',
        spec: { approve: '2.0.0' },
        expect: { target: '2.0.0', available: '2.0.0', change: 'major', awaitingApproval: false },
      },
      {
        name: 'approve 2.0.0 with 2.1.0 also out: 2.0.0 is the target, 2.1.0 waits for its own approval',
        releases: ['1.0.0', '1.1.0', '2.0.0', '2.1.0'],
        current: '1.0.0',
        spec: { approve: '2.0.0' },
        expect: { target: '2.0.0', available: '2.1.0', change: 'major', waitingReason: 'AwaitingApproval', awaitingApproval: true },
      },
      {
        name: 'once 2.0.0 runs, 2.1.0 is a minor step and applies under the policy',
        releases: ['1.0.0', '2.0.0', '2.1.0'],
        current: '2.0.0',
        spec: { approve: '2.0.0' },
        expect: { target: '2.1.0', available: '2.1.0', change: 'minor', awaitingApproval: false },
      },
      {
        name: 'approve of a version the channel does not carry approves nothing else',
        releases: ['1.0.0', '2.0.0'],
        current: '1.0.0',
        spec: { approve: '2.0.1' },
        expect: { target: '1.0.0', available: '2.0.0', change: 'major', waitingReason: 'AwaitingApproval', awaitingApproval: true },
      },
    ]);
    const waiting = choose({ releases: ['1.0.0', '2.0.0', '2.1.0'], current: '1.0.0', spec: { approve: '2.0.0' } }).available?.waitingFor ?? '';
    assert.match(waiting, /set spec\.approve to "2\.1\.0"/);
  });

  test('auto picks the newest minor while a newer major waits: available is the major, target the minor', () => {
    const offer = choose({ releases: ['1.0.0', '1.1.0', '1.2.0', '1.2.1', '2.0.0', '2.1.0'], current: '1.0.0' });
    assert.deepEqual(summary(offer), { target: '1.2.1', available: '2.1.0', change: 'major', waitingReason: 'AwaitingApproval', awaitingApproval: true });
  });
});

describe('chooseRelease in notify mode: nothing new applies without approve', () => {
  test('without approve the running version stays and the newest waits for approval', () => {
    const offer = choose({ releases: ['1.0.0', '1.0.1', '1.1.0'], current: '1.0.0', spec: { mode: 'notify' } });
    assert.deepEqual(summary(offer), { target: '1.0.0', available: '1.1.0', change: 'minor', waitingReason: 'AwaitingApproval', awaitingApproval: true });
    assert.match(offer.available?.waitingFor ?? '', /set spec\.approve to "1\.1\.0"/);
  });

  test('a patch waits as well: the policy only bounds auto mode', () => {
    check([
      {
        name: 'notify, policy major, a patch on offer',
        releases: ['1.0.0', '1.0.1'],
        current: '1.0.0',
        spec: { mode: 'notify', autoApply: 'major' },
        expect: { target: '1.0.0', available: '1.0.1', change: 'patch', waitingReason: 'AwaitingApproval', awaitingApproval: true },
      },
    ]);
  });

  test('approve picks exactly that version, even when a newer one is out', () => {
    check([
      {
        name: 'approve the newest',
        releases: ['1.0.0', '1.0.1', '1.1.0'],
        current: '1.0.0',
        spec: { mode: 'notify', approve: '1.1.0' },
        expect: { target: '1.1.0', available: '1.1.0', change: 'minor', awaitingApproval: false },
      },
      {
        name: 'approve one in the middle: the newer one waits',
        releases: ['1.0.0', '1.0.1', '1.1.0'],
        current: '1.0.0',
        spec: { mode: 'notify', approve: '1.0.1' },
        expect: { target: '1.0.1', available: '1.1.0', change: 'minor', waitingReason: 'AwaitingApproval', awaitingApproval: true },
      },
      {
        name: 'approve a major: approval is not bounded by the policy',
        releases: ['1.0.0', '3.0.0'],
        current: '1.0.0',
        spec: { mode: 'notify', approve: '3.0.0' },
        expect: { target: '3.0.0', available: '3.0.0', change: 'major', awaitingApproval: false },
      },
    ]);
  });
});

describe('chooseRelease for a stack that takes nothing from the channel', () => {
  test('disabled: no target; the newest is reported as available with waitingReason UpdatesDisabled', () => {
    check([
      {
        name: 'disabled',
        releases: ['1.0.0', '1.1.0'],
        current: '1.0.0',
        spec: { mode: 'disabled' },
        expect: { available: '1.1.0', change: 'minor', waitingReason: 'UpdatesDisabled', awaitingApproval: false },
      },
      {
        name: 'disabled, even when approved',
        releases: ['1.0.0', '1.1.0'],
        current: '1.0.0',
        spec: { mode: 'disabled', approve: '1.1.0' },
        expect: { available: '1.1.0', change: 'minor', waitingReason: 'UpdatesDisabled', awaitingApproval: false },
      },
      {
        name: 'disabled, nothing newer: nothing at all',
        releases: ['1.0.0'],
        current: '1.0.0',
        spec: { mode: 'disabled' },
        expect: {},
      },
    ]);
    assert.match(choose({ releases: ['1.1.0'], current: '1.0.0', spec: { mode: 'disabled' } }).available?.waitingFor ?? '', /disabled/);
  });

  test('pinned (spec.version set): no target; the newest is available with waitingReason Pinned, even if approve names it', () => {
    check([
      {
        name: 'pinned, auto',
        releases: ['1.0.0', '1.0.1'],
        current: '1.0.0',
        spec: { version: '1.0.0' },
        expect: { available: '1.0.1', change: 'patch', waitingReason: 'Pinned', awaitingApproval: false },
      },
      {
        name: 'pinned, approve equals the newest',
        releases: ['1.0.0', '1.0.1'],
        current: '1.0.0',
        spec: { version: '1.0.0', approve: '1.0.1' },
        expect: { available: '1.0.1', change: 'patch', waitingReason: 'Pinned', awaitingApproval: false },
      },
      {
        name: 'pinned, notify',
        releases: ['1.0.0', '2.0.0'],
        current: '1.0.0',
        spec: { version: '1.0.0', mode: 'notify' },
        expect: { available: '2.0.0', change: 'major', waitingReason: 'Pinned', awaitingApproval: false },
      },
      {
        name: 'pinned and disabled: Pinned is the reason',
        releases: ['1.0.0', '2.0.0'],
        current: '1.0.0',
        spec: { version: '1.0.0', mode: 'disabled' },
        expect: { available: '2.0.0', change: 'major', waitingReason: 'Pinned', awaitingApproval: false },
      },
    ]);
    const waiting = choose({ releases: ['1.0.1'], current: '1.0.0', spec: { version: '1.0.0' } }).available?.waitingFor ?? '';
    assert.match(waiting, /pinned to version 1\.0\.0/);
    assert.match(waiting, /spec\.version/);
  });
});

describe('chooseRelease with a cooldown (spec.policy.minReleaseAgeSeconds)', () => {
  const HOUR = 3600;
  const young = release('1.1.0', { published: iso(-600) }); // ten minutes old at NOW
  const cooldown = { minReleaseAgeSeconds: HOUR };

  test('a release younger than the cooldown waits with reason Cooldown and the time it becomes eligible', () => {
    const offer = choose({ releases: ['1.0.0', young], current: '1.0.0', spec: cooldown });
    assert.deepEqual(summary(offer), { target: '1.0.0', available: '1.1.0', change: 'minor', waitingReason: 'Cooldown', awaitingApproval: false });
    assert.deepEqual(offer.available?.eligibleAt, at(HOUR - 600));
    assert.match(offer.available?.waitingFor ?? '', new RegExp(`eligible at ${at(HOUR - 600).toISOString().replace(/\./g, '\\.')}`));
  });

  test('it becomes the target once now reaches eligibleAt', () => {
    check([
      { name: 'one second before', releases: ['1.0.0', young], current: '1.0.0', spec: cooldown, now: at(HOUR - 601), expect: { target: '1.0.0', available: '1.1.0', change: 'minor', waitingReason: 'Cooldown', awaitingApproval: false } },
      { name: 'exactly at eligibleAt', releases: ['1.0.0', young], current: '1.0.0', spec: cooldown, now: at(HOUR - 600), expect: { target: '1.1.0', available: '1.1.0', change: 'minor', awaitingApproval: false } },
      { name: 'a day later', releases: ['1.0.0', young], current: '1.0.0', spec: cooldown, now: at(86400), expect: { target: '1.1.0', available: '1.1.0', change: 'minor', awaitingApproval: false } },
    ]);
  });

  test('while the newest cools down, an older release that has cooled applies', () => {
    const old = release('1.0.1', { published: iso(-2 * HOUR) });
    const offer = choose({ releases: ['1.0.0', old, young], current: '1.0.0', spec: cooldown });
    assert.deepEqual(summary(offer), { target: '1.0.1', available: '1.1.0', change: 'minor', waitingReason: 'Cooldown', awaitingApproval: false });
  });

  test('a release without a publish time never passes a cooldown by itself: it waits for approval', () => {
    const undated = release('1.1.0', { published: null });
    check([
      { name: 'no publish time, a year later', releases: ['1.0.0', undated], current: '1.0.0', spec: cooldown, now: at(365 * 86400), expect: { target: '1.0.0', available: '1.1.0', change: 'minor', waitingReason: 'AwaitingApproval', awaitingApproval: true } },
      { name: 'no publish time, approved', releases: ['1.0.0', undated], current: '1.0.0', spec: { ...cooldown, approve: '1.1.0' }, expect: { target: '1.1.0', available: '1.1.0', change: 'minor', awaitingApproval: false } },
      { name: 'no publish time, no cooldown', releases: ['1.0.0', undated], current: '1.0.0', expect: { target: '1.1.0', available: '1.1.0', change: 'minor', awaitingApproval: false } },
    ]);
    const offer = choose({ releases: ['1.0.0', undated], current: '1.0.0', spec: cooldown });
    assert.equal(offer.available?.eligibleAt, undefined);
    assert.match(offer.available?.waitingFor ?? '', /no publish time/);
    assert.match(offer.available?.waitingFor ?? '', /set spec\.approve to "1\.1\.0"/);
  });

  test('an approval skips the cooldown', () => {
    check([
      { name: 'approved while cooling down', releases: ['1.0.0', young], current: '1.0.0', spec: { ...cooldown, approve: '1.1.0' }, expect: { target: '1.1.0', available: '1.1.0', change: 'minor', awaitingApproval: false } },
    ]);
  });

  test('a change beyond the policy waits for approval, not for the cooldown', () => {
    const youngMajor = release('2.0.0', { published: iso(-600) });
    check([
      { name: 'young major', releases: ['1.0.0', youngMajor], current: '1.0.0', spec: cooldown, expect: { target: '1.0.0', available: '2.0.0', change: 'major', waitingReason: 'AwaitingApproval', awaitingApproval: true } },
    ]);
  });
});

describe('chooseRelease before 1.0.0 and with prereleases', () => {
  test('0.x: a minor step is major and waits under the default policy; a patch step is minor and applies', () => {
    check([
      { name: '0.4.0 -> 0.5.0', releases: ['0.4.0', '0.5.0'], current: '0.4.0', expect: { target: '0.4.0', available: '0.5.0', change: 'major', waitingReason: 'AwaitingApproval', awaitingApproval: true } },
      { name: '0.4.0 -> 0.4.1', releases: ['0.4.0', '0.4.1'], current: '0.4.0', expect: { target: '0.4.1', available: '0.4.1', change: 'minor', awaitingApproval: false } },
      { name: '0.4.0 -> 0.4.1 under a patch policy waits', releases: ['0.4.0', '0.4.1'], current: '0.4.0', spec: { autoApply: 'patch' }, expect: { target: '0.4.0', available: '0.4.1', change: 'minor', waitingReason: 'AwaitingApproval', awaitingApproval: true } },
      { name: '0.4.0 -> 0.5.0 under a major policy applies', releases: ['0.4.0', '0.5.0'], current: '0.4.0', spec: { autoApply: 'major' }, expect: { target: '0.5.0', available: '0.5.0', change: 'major', awaitingApproval: false } },
    ]);
  });

  test('prereleases: a step within a prerelease line is a prerelease change; into a new minor it is minor', () => {
    check([
      { name: '1.5.0-beta.1 -> 1.5.0-beta.2', releases: ['1.5.0-beta.1', '1.5.0-beta.2'], current: '1.5.0-beta.1', spec: { autoApply: 'patch' }, expect: { target: '1.5.0-beta.2', available: '1.5.0-beta.2', change: 'prerelease', awaitingApproval: false } },
      { name: '1.4.0 -> 1.5.0-beta.1 under patch waits', releases: ['1.4.0', '1.5.0-beta.1'], current: '1.4.0', spec: { autoApply: 'patch' }, expect: { target: '1.4.0', available: '1.5.0-beta.1', change: 'minor', waitingReason: 'AwaitingApproval', awaitingApproval: true } },
      { name: '1.4.0 -> 1.5.0-beta.1 under minor applies', releases: ['1.4.0', '1.5.0-beta.1'], current: '1.4.0', expect: { target: '1.5.0-beta.1', available: '1.5.0-beta.1', change: 'minor', awaitingApproval: false } },
      { name: 'a prerelease sorts before its release', releases: ['1.5.0', '1.5.0-beta.2', '1.4.0'], current: '1.4.0', expect: { target: '1.5.0', available: '1.5.0', change: 'minor', awaitingApproval: false } },
      { name: 'a prerelease older than what runs is never a target', releases: ['1.5.0-beta.2', '1.5.0'], current: '1.5.0', expect: { target: '1.5.0' } },
    ]);
  });
});

describe('chooseRelease for a fresh install (nothing runs yet)', () => {
  test('the change is install; auto applies the newest, notify waits for approval', () => {
    check([
      { name: 'auto', releases: ['1.0.0', '1.1.0', '2.0.0'], expect: { target: '2.0.0', available: '2.0.0', change: 'install', awaitingApproval: false } },
      { name: 'auto under a patch policy still installs the newest', releases: ['1.0.0', '2.0.0'], spec: { autoApply: 'patch' }, expect: { target: '2.0.0', available: '2.0.0', change: 'install', awaitingApproval: false } },
      { name: 'notify', releases: ['1.0.0', '2.0.0'], spec: { mode: 'notify' }, expect: { available: '2.0.0', change: 'install', waitingReason: 'AwaitingApproval', awaitingApproval: true } },
      { name: 'notify with approve of an older one', releases: ['1.0.0', '2.0.0'], spec: { mode: 'notify', approve: '1.0.0' }, expect: { target: '1.0.0', available: '2.0.0', change: 'install', waitingReason: 'AwaitingApproval', awaitingApproval: true } },
      { name: 'disabled', releases: ['1.0.0'], spec: { mode: 'disabled' }, expect: { available: '1.0.0', change: 'install', waitingReason: 'UpdatesDisabled', awaitingApproval: false } },
      { name: 'an empty channel: nothing', releases: [], expect: {} },
    ]);
    const waiting = choose({ releases: ['1.0.0'], spec: { mode: 'notify' } }).available?.waitingFor ?? '';
    assert.match(waiting, /set spec\.approve to "1\.0\.0"/);
  });

  test('the cooldown holds a fresh install too', () => {
    const young = release('1.0.0', { published: iso(-60) });
    check([
      { name: 'young', releases: [young], spec: { minReleaseAgeSeconds: 3600 }, expect: { available: '1.0.0', change: 'install', waitingReason: 'Cooldown', awaitingApproval: false } },
    ]);
  });
});

describe('chooseRelease ignores releases whose version is not semver', () => {
  test('invalid versions are neither target nor available', () => {
    check([
      { name: 'among valid ones', releases: ['1.0.0', 'latest', '1.1.0', '1.2', ''], current: '1.0.0', expect: { target: '1.1.0', available: '1.1.0', change: 'minor', awaitingApproval: false } },
      { name: 'only invalid ones', releases: ['latest', 'nightly'], current: '1.0.0', expect: {} },
      { name: 'only invalid ones, nothing runs', releases: ['latest'], expect: {} },
    ]);
  });

  test('a current version that is not semver is treated as nothing running', () => {
    check([{ name: 'current "dev"', releases: ['1.0.0', '2.0.0'], current: 'dev', expect: { target: '2.0.0', available: '2.0.0', change: 'install', awaitingApproval: false } }]);
  });
});
