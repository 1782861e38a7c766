// A stack that follows a release channel, from the chosen release to the target, the plan
// and the status: resolveTarget / releaseTarget / followChannel, then decide() and
// buildStatus() on what they make.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Condition, SignedRelease, StackStatus } from '../../src/api/types.js';
import { decide } from '../../src/plan/decide.js';
import { chooseRelease, type Offer } from '../../src/plan/offer.js';
import { buildStatus } from '../../src/plan/status.js';
import { TargetError, followChannel, releaseTarget, resolveTarget, type ChannelRelease } from '../../src/plan/target.js';
import type { ChannelView, ComposeDocument, Desired, Observed, Plan, Recorded, RevisionRecord, Step, Target } from '../../src/plan/types.js';
import {
  CHANNEL,
  FEED_URL,
  KEY_ID,
  NOW,
  STACK,
  channelRelease,
  channelView,
  composeDoc,
  feedImage,
  following,
  iso,
  observed,
  pinned,
  record,
  recorded,
  release,
  runningOf,
  source,
  target,
  valid,
  type FollowOptions,
} from './fixtures.js';

/** A compose file a release carries: web and a new worker service, no db. */
const releaseCompose: ComposeDocument = {
  services: {
    web: { image: 'shop/web', ports: ['8080:80'] },
    worker: { image: 'shop/worker', command: ['work'] },
  },
};

function withCompose(r: SignedRelease, compose: ComposeDocument): ChannelRelease {
  return channelRelease({ ...r, spec: { ...r.spec, compose: JSON.stringify(compose) } }, compose);
}

interface Follow {
  spec?: FollowOptions;
  feed: readonly ChannelRelease[];
  applied?: RevisionRecord;
  view?: Partial<ChannelView>;
  compose?: ComposeDocument;
}

/** What the controller does for a stack with a channel: choose a release, then resolve the target. */
function follow(f: Follow): { offer: Offer; target: Target } {
  const stack = following(f.spec);
  const offer = chooseRelease({
    releases: f.feed.map((r) => r.release),
    ...(f.applied !== undefined ? { current: f.applied.version } : {}),
    spec: stack.spec,
    now: NOW,
  });
  const view = channelView({ ...f.view, ...(offer.available !== undefined ? { available: offer.available } : {}) });
  return { offer, target: followChannel(source(stack, f.compose), offer, f.feed, f.applied, view) };
}

/** The revision berth would write for a release target, with the provenance the apply step records. */
function applied(t: Target, revision = 1): RevisionRecord {
  return { ...record(t, revision), ...(t.release !== undefined ? { release: t.release } : {}) };
}

const r100 = channelRelease(release('1.0.0'));
const r110 = channelRelease(release('1.1.0'));
const r200 = channelRelease(release('2.0.0'));

describe('resolveTarget: a stack pinned to a version', () => {
  test('in notify mode it is held for approval until spec.approve names exactly that version', () => {
    const rows: Array<{ name: string; approve?: string; hold: boolean; message?: RegExp }> = [
      { name: 'no approve', hold: true, message: /^version 1\.0\.0 waits for approval: set spec\.approve to "1\.0\.0"$/ },
      { name: 'approve of another version', approve: '0.9.0', hold: true, message: /spec\.approve is "0\.9\.0", which approves no other version/ },
      { name: 'approve of exactly this version', approve: '1.0.0', hold: false },
    ];
    for (const row of rows) {
      const t = target({ version: '1.0.0', mode: 'notify', ...(row.approve !== undefined ? { approve: row.approve } : {}) });
      if (!row.hold) {
        assert.equal(t.hold, undefined, row.name);
        continue;
      }
      assert.equal(t.hold?.reason, 'AwaitingApproval', row.name);
      assert.equal(t.hold?.awaitingApproval, true, row.name);
      assert.match(t.hold?.message ?? '', row.message!, row.name);
    }
  });

  test('in auto and disabled mode nothing is held', () => {
    assert.equal(target({ mode: 'auto' }).hold, undefined);
    assert.equal(target({ mode: 'disabled' }).hold, undefined);
  });

  test('a stack without spec.version is not resolved this way: it follows its channel', () => {
    assert.throws(() => resolveTarget(source(following())), (err: unknown) => err instanceof TargetError && /spec\.version is not set/.test(err.message));
  });
});

describe('releaseTarget: the target a release makes', () => {
  test("the release's images override spec.images service by service; the others keep the stack's", () => {
    const stack = following({ images: { web: pinned('web', 'a'), db: pinned('db', 'b') } });
    const t = releaseTarget(source(stack), r110);
    assert.equal(t.version, '1.1.0');
    assert.deepEqual(t.images, { web: feedImage('web', '1.1.0'), db: pinned('db', 'b') });
    assert.deepEqual(t.compose, composeDoc());
    assert.deepEqual(t.release, { channel: CHANNEL, version: '1.1.0', published: iso(-86400), keyId: KEY_ID, compose: false });
    assert.equal(t.hold, undefined);
  });

  test("a release's compose file replaces the stack's", () => {
    const images = { web: feedImage('web', '2.0.0'), worker: feedImage('worker', '2.0.0') };
    const t = releaseTarget(source(following()), withCompose(release('2.0.0', { images }), releaseCompose));
    assert.deepEqual(t.compose, releaseCompose);
    assert.deepEqual(t.images, images);
    assert.equal(t.release?.compose, true);
  });

  test('images naming services the compose file does not define are a TargetError that names the release', () => {
    const rows: Array<{ name: string; stackImages?: Record<string, string>; r: ChannelRelease; names: RegExp }> = [
      {
        name: "the release names a service the stack's compose file lacks",
        r: channelRelease(release('1.2.0', { images: { web: feedImage('web', '1.2.0'), worker: feedImage('worker', '1.2.0') } })),
        names: /release 1\.2\.0 .*names "worker", which \/srv\/stacks\/shop\/compose\.yaml does not define/,
      },
      {
        name: "spec.images names a service the release's compose file drops",
        stackImages: { db: pinned('db', 'b') },
        r: withCompose(release('2.0.0', { images: { web: feedImage('web', '2.0.0') } }), releaseCompose),
        names: /release 2\.0\.0 \(with spec\.images of \/srv\/stacks\/shop\.yaml\) names "db", which the compose file of release 2\.0\.0 does not define/,
      },
    ];
    for (const row of rows) {
      const stack = following(row.stackImages !== undefined ? { images: row.stackImages } : {});
      assert.throws(() => releaseTarget(source(stack), row.r), (err: unknown) => err instanceof TargetError && row.names.test(err.message), row.name);
    }
  });

  test('its key equals the key of a stack pinned to the same version, images and compose file', () => {
    const images = { web: feedImage('web', '1.1.0') };
    const rows: Array<{ name: string; pinnedTarget: Target; followed: Target }> = [
      {
        name: "with the stack's compose file",
        pinnedTarget: resolveTarget(source(following({ version: '1.1.0', images }))),
        followed: releaseTarget(source(following()), r110),
      },
      {
        name: 'pinned without a channel at all',
        pinnedTarget: target({ version: '1.1.0', images }),
        followed: releaseTarget(source(following()), r110),
      },
      {
        name: "with the release's compose file",
        pinnedTarget: resolveTarget(source(following({ version: '2.0.0', images: { web: feedImage('web', '2.0.0') } }), releaseCompose)),
        followed: releaseTarget(source(following()), withCompose(release('2.0.0'), releaseCompose)),
      },
    ];
    for (const row of rows) assert.equal(row.followed.key, row.pinnedTarget.key, row.name);
    // ...and differs when anything berth would run differs.
    const other = releaseTarget(source(following()), r100);
    assert.notEqual(other.key, rows[0]!.followed.key);
  });

  test('switching a stack from pinned to following the same release moves nothing', () => {
    const images = { web: feedImage('web', '1.1.0') };
    const wasPinned = resolveTarget(source(following({ version: '1.1.0', images })));
    const rev = record(wasPinned, 1);
    const { target: now } = follow({ feed: [r100, r110], applied: rev });
    assert.equal(now.version, '1.1.0');
    const plan = decide({ desired: valid(now), recorded: recorded(rev), observed: observed(runningOf(rev)), now: NOW });
    assert.equal(plan.action, 'none');
    assert.equal(plan.reason, 'InSync');
    assert.deepEqual(plan.steps, []);
  });
});

describe('followChannel: the target of a stack that follows its channel', () => {
  test('the chosen release is the target, with the channel view attached and no hold', () => {
    const { target: t } = follow({ feed: [r100, r110, r200], view: { lastCheckIn: iso(-5) } });
    assert.equal(t.version, '2.0.0'); // a fresh install in auto mode takes the newest
    assert.deepEqual(t.images, r200.release.spec.images);
    assert.equal(t.hold, undefined);
    assert.equal(t.channel?.name, CHANNEL);
    assert.equal(t.channel?.lastCheckIn, iso(-5));
    assert.equal(t.release?.version, '2.0.0');
  });

  test('the chosen release moves on from what runs within the policy', () => {
    const rev = applied(releaseTarget(source(following()), r100));
    const { target: t } = follow({ feed: [r100, r110, r200], applied: rev });
    assert.equal(t.version, '1.1.0');
    assert.equal(t.channel?.available?.release.spec.version, '2.0.0');
    assert.equal(t.channel?.available?.awaitingApproval, true);
  });

  test('with no acceptable release and something applied, the target is what was applied: same key, nothing moves', () => {
    const rev = applied(releaseTarget(source(following()), r100));
    const rows: Array<{ name: string; spec?: FollowOptions; feed: ChannelRelease[] }> = [
      { name: 'the applied release was withdrawn from the feed; only a major waits', feed: [r200] },
      { name: 'the feed is empty', feed: [] },
      { name: 'mode is disabled', spec: { mode: 'disabled' }, feed: [r100, r110] },
      { name: 'notify mode and the applied release was withdrawn', spec: { mode: 'notify' }, feed: [r110] },
    ];
    for (const row of rows) {
      const { offer, target: t } = follow({ ...(row.spec !== undefined ? { spec: row.spec } : {}), feed: row.feed, applied: rev });
      assert.equal(offer.target, undefined, row.name);
      assert.equal(t.key, rev.targetKey, row.name);
      assert.equal(t.version, '1.0.0', row.name);
      assert.deepEqual(t.images, rev.images, row.name);
      assert.deepEqual(t.release, rev.release, row.name);
      assert.equal(t.hold, undefined, row.name);
      assert.equal(t.channel?.name, CHANNEL, row.name);
    }
  });

  test(
    "with no acceptable release, staying on an applied release that carried its own compose file (with a service the stack's file lacks) keeps that revision",
    () => {
      const images = { web: feedImage('web', '2.0.0'), worker: feedImage('worker', '2.0.0') };
      const r = withCompose(release('2.0.0', { images }), releaseCompose);
      const rev = applied(releaseTarget(source(following()), r));
      // Later the stack is set to disabled (or the vendor withdraws 2.0.0): nothing is acceptable.
      const { target: t } = follow({ spec: { mode: 'disabled' }, feed: [r], applied: rev });
      assert.equal(t.key, rev.targetKey);
      assert.equal(t.version, '2.0.0');
    },
  );

  test(
    "staying on an applied release that carried its own compose file keeps that file's services: a disabled stack running it exactly shows no drift",
    () => {
      const webOnly: ComposeDocument = { services: { web: { image: 'shop/web' } } };
      const r = withCompose(release('2.0.0'), webOnly);
      const rev = applied(releaseTarget(source(following()), r));
      const { target: t } = follow({ spec: { mode: 'disabled' }, feed: [r], applied: rev });
      assert.deepEqual(Object.keys(t.compose.services), ['web']);
      const p = plan(valid(t), recorded(rev), observed(runningOf(rev)));
      assert.equal(p.reason, 'UpdatesDisabled');
      assert.deepEqual(p.drift, []);
    },
  );

  test('with nothing applied and a release waiting for approval, the target is that release, held for approval', () => {
    const { target: t } = follow({ spec: { mode: 'notify' }, feed: [r100, r110] });
    assert.equal(t.version, '1.1.0');
    assert.deepEqual(t.images, r110.release.spec.images);
    assert.deepEqual(t.hold && { reason: t.hold.reason, awaitingApproval: t.hold.awaitingApproval }, { reason: 'AwaitingApproval', awaitingApproval: true });
    assert.match(t.hold?.message ?? '', /^version 1\.1\.0 from channel stable waits: /);
    assert.match(t.hold?.message ?? '', /set spec\.approve to "1\.1\.0"/);
    assert.equal(t.channel?.available?.release.spec.version, '1.1.0');
  });

  test('with nothing applied and the release cooling down, the target is that release, held without asking for approval', () => {
    const young = channelRelease(release('1.0.0', { published: iso(-60) }));
    const { target: t } = follow({ spec: { minReleaseAgeSeconds: 3600 }, feed: [young] });
    assert.equal(t.version, '1.0.0');
    assert.equal(t.hold?.reason, 'Cooldown');
    assert.equal(t.hold?.awaitingApproval, false);
    assert.match(t.hold?.message ?? '', /cooldown: eligible at /);
  });

  test('with nothing at all, the stack waits for a release: version empty, the message names the channel and why the feed was refused', () => {
    const rows: Array<{ name: string; view?: Partial<ChannelView>; feed: ChannelRelease[]; message: RegExp; not?: RegExp }> = [
      { name: 'an empty channel', feed: [], message: new RegExp(`^no release from channel stable at ${FEED_URL} yet$`) },
      { name: 'a channel of invalid versions only', feed: [channelRelease(release('latest'))], message: /^no release from channel stable at / },
      {
        name: 'the last check-in was refused',
        feed: [],
        view: { refused: { reason: 'SignatureInvalid', message: 'release 1.0.0: the signature does not verify', at: iso(-1) } },
        message: /no release from channel stable at .* yet; the last check-in was refused \(SignatureInvalid: release 1\.0\.0: the signature does not verify\)/,
      },
      { name: 'another channel name', feed: [], view: { name: 'beta' }, message: /^no release from channel beta at / },
    ];
    for (const row of rows) {
      const { target: t } = follow({ feed: row.feed, ...(row.view !== undefined ? { view: row.view } : {}) });
      assert.equal(t.version, '', row.name);
      assert.equal(t.hold?.reason, 'AwaitingRelease', row.name);
      assert.equal(t.hold?.awaitingApproval, false, row.name);
      assert.match(t.hold?.message ?? '', row.message, row.name);
      assert.equal(t.release, undefined, row.name);
    }
  });
});

// --- decide() on a held target -------------------------------------------------------------

function plan(desired: Desired, rec: Recorded, obs: Observed): Plan {
  return decide({ desired, recorded: rec, observed: obs, now: NOW });
}

function kinds(p: Plan): Step['kind'][] {
  return p.steps.map((s) => s.kind);
}

describe('decide with a target that must wait', () => {
  test('with nothing applied it plans no steps and says why, as the hold does', () => {
    const rows: Array<{ name: string; t: Target; reason: string; awaitingApproval: boolean }> = [
      { name: 'a release waiting for approval', t: follow({ spec: { mode: 'notify' }, feed: [r100] }).target, reason: 'AwaitingApproval', awaitingApproval: true },
      { name: 'a release cooling down', t: follow({ spec: { minReleaseAgeSeconds: 3600 }, feed: [channelRelease(release('1.0.0', { published: iso(-60) }))] }).target, reason: 'Cooldown', awaitingApproval: false },
      { name: 'no release yet', t: follow({ feed: [] }).target, reason: 'AwaitingRelease', awaitingApproval: false },
      { name: 'a pinned stack in notify mode', t: target({ mode: 'notify' }), reason: 'AwaitingApproval', awaitingApproval: true },
    ];
    for (const row of rows) {
      const p = plan(valid(row.t), {}, observed([]));
      assert.equal(p.action, 'none', row.name);
      assert.deepEqual(p.steps, [], row.name);
      assert.equal(p.reason, row.reason, row.name);
      assert.equal(p.message, row.t.hold?.message, row.name);
      assert.equal(p.awaitingApproval, row.awaitingApproval, row.name);
      assert.equal(p.progress.operation, undefined, row.name);
      assert.deepEqual(p.progress.history, [], row.name);
    }
  });

  const v1 = target({ version: '1.0.0' });
  const rev1 = record(v1, 1);
  const v2held = target({ version: '2.0.0', mode: 'notify', images: { web: pinned('web', 'c'), db: pinned('db', 'b') } });
  const cooling: Target = { ...target({ version: '1.1.0', images: { web: pinned('web', 'd'), db: pinned('db', 'b') } }), hold: { reason: 'Cooldown', message: 'cooldown: eligible later', awaitingApproval: false } };

  test('with something applied and running, it keeps that revision and applies nothing', () => {
    const rows: Array<{ name: string; t: Target; reason: string; awaitingApproval: boolean }> = [
      { name: 'held for approval', t: v2held, reason: 'AwaitingApproval', awaitingApproval: true },
      { name: 'held by a cooldown', t: cooling, reason: 'Cooldown', awaitingApproval: false },
    ];
    for (const row of rows) {
      const p = plan(valid(row.t), recorded(rev1), observed(runningOf(rev1)));
      assert.equal(p.action, 'none', row.name);
      assert.deepEqual(p.steps, [], row.name);
      assert.equal(p.reason, row.reason, row.name);
      assert.equal(p.awaitingApproval, row.awaitingApproval, row.name);
    }
  });

  test('with something applied that drifted, it repairs that revision, never the held target', () => {
    const rows: Array<{ name: string; t: Target; reason: string; awaitingApproval: boolean }> = [
      { name: 'held for approval', t: v2held, reason: 'AwaitingApproval', awaitingApproval: true },
      { name: 'held by a cooldown', t: cooling, reason: 'Repairing', awaitingApproval: false },
    ];
    for (const row of rows) {
      const p = plan(valid(row.t), recorded(rev1), observed(runningOf(rev1, { db: null })));
      assert.equal(p.action, 'repair', row.name);
      assert.deepEqual(kinds(p), ['pull', 'composeUp'], row.name);
      const up = p.steps.find((s) => s.kind === 'composeUp');
      assert.equal(up?.kind === 'composeUp' ? up.revision : undefined, 1, row.name);
      assert.equal(p.reason, row.reason, row.name);
      assert.equal(p.awaitingApproval, row.awaitingApproval, row.name);
      assert.equal(p.progress.operation?.kind, 'repair', row.name);
      assert.equal(p.progress.operation?.revision, 1, row.name);
    }
  });

  test('a held target that is what berth applied is in sync: a hold never takes away what runs', () => {
    const held = target({ version: '1.0.0', mode: 'notify' });
    assert.equal(held.key, rev1.targetKey);
    const p = plan(valid(held), recorded(rev1), observed(runningOf(rev1)));
    assert.equal(p.action, 'none');
    assert.equal(p.reason, 'InSync');
  });

  test('a following stack whose release was withdrawn stays in sync on what it applied', () => {
    const rev = applied(releaseTarget(source(following()), r100));
    const { target: t } = follow({ feed: [r200], applied: rev });
    const p = plan(valid(t), recorded(rev), observed(runningOf(rev)));
    assert.equal(p.action, 'none');
    assert.equal(p.reason, 'InSync');
    assert.deepEqual(p.steps, []);
  });

  test('a following stack applies the chosen release as a new revision that records where it came from', () => {
    const rev = applied(releaseTarget(source(following()), r100));
    const { target: t } = follow({ feed: [r100, r110], applied: rev });
    const p = plan(valid(t), recorded(rev), observed(runningOf(rev)));
    assert.equal(p.action, 'apply');
    const write = p.steps.find((s) => s.kind === 'writeRevision');
    assert.ok(write?.kind === 'writeRevision');
    assert.equal(write.record.version, '1.1.0');
    assert.deepEqual(write.record.release, { channel: CHANNEL, version: '1.1.0', published: iso(-86400), keyId: KEY_ID, compose: false });
  });
});

// --- buildStatus() of a stack with a channel ------------------------------------------------

function statusOf(desired: Desired, rec: Recorded, obs: Observed): StackStatus {
  const p = decide({ desired, recorded: rec, observed: obs, progress: { history: [], ...(rec.applied !== undefined ? { revision: rec.applied.revision } : {}) }, now: NOW });
  return buildStatus({ name: STACK, desired, recorded: rec, observed: obs, plan: p, progress: p.progress, now: NOW });
}

function cond(s: StackStatus, type: string): Condition | undefined {
  return s.status.conditions.find((c) => c.type === type);
}

function brief(s: StackStatus, type: string): [string, string] | undefined {
  const c = cond(s, type);
  return c && [c.status, c.reason];
}

describe('buildStatus of a stack that follows a channel', () => {
  // 1.0.0 runs; the channel also offers 2.0.0, a major that waits for approval.
  const rev = applied(releaseTarget(source(following()), r100));
  const running = observed(runningOf(rev, { web: { health: 'healthy' } }));
  function statusWith(view: Partial<ChannelView>, feed: ChannelRelease[] = [r100, r200]): { s: StackStatus; offer: Offer } {
    const { offer, target: t } = follow({ feed, applied: rev, view });
    return { s: statusOf(valid(t), recorded(rev), running), offer };
  }

  test('a release waiting for approval: UpdateAvailable and AwaitingApproval are True, status.available says what and why', () => {
    const { s, offer } = statusWith({});
    assert.deepEqual(brief(s, 'UpdateAvailable'), ['True', 'AwaitingApproval']);
    assert.match(cond(s, 'UpdateAvailable')!.message, /^version 2\.0\.0 \(major\) on channel stable waits: /);
    assert.deepEqual(brief(s, 'AwaitingApproval'), ['True', 'ApprovalRequired']);
    assert.match(cond(s, 'AwaitingApproval')!.message, /version 2\.0\.0 from channel stable waits: .*set spec\.approve to "2\.0\.0"/);
    assert.deepEqual(s.status.available, {
      version: '2.0.0',
      channel: CHANNEL,
      published: iso(-86400),
      change: 'major',
      waitingFor: offer.available?.waitingFor,
    });
    assert.match(s.status.available?.waitingFor ?? '', /set spec\.approve to "2\.0\.0"/);
    // What runs is still the target: the waiting release does not make the stack unready.
    assert.deepEqual(brief(s, 'Ready'), ['True', 'Converged']);
    assert.equal(s.status.targetVersion, '1.0.0');
    assert.equal(s.status.currentVersion, '1.0.0');
    assert.equal(s.status.lastCheckIn, iso(-60));
  });

  test('a fresh install waiting for approval: the plan itself awaits approval', () => {
    const { target: t } = follow({ spec: { mode: 'notify' }, feed: [r100] });
    const s = statusOf(valid(t), {}, observed([]));
    assert.deepEqual(brief(s, 'UpdateAvailable'), ['True', 'AwaitingApproval']);
    assert.deepEqual(brief(s, 'AwaitingApproval'), ['True', 'ApprovalRequired']);
    assert.equal(s.status.available?.change, 'install');
    assert.equal(s.status.available?.version, '1.0.0');
  });

  test('nothing newer than what runs: UpdateAvailable False, no status.available', () => {
    const { s } = statusWith({}, [r100]);
    assert.deepEqual(brief(s, 'UpdateAvailable'), ['False', 'UpToDate']);
    assert.deepEqual(brief(s, 'AwaitingApproval'), ['False', 'NothingToApprove']);
    assert.equal(s.status.available, undefined);
  });

  test('FeedAccepted says whether the last check-in was accepted, and a refusal changes nothing that runs', () => {
    const refusal = { reason: 'SignatureInvalid', message: 'release 2.0.0: the signature does not verify' };
    const rows: Array<{ name: string; view: Partial<ChannelView>; expect: [string, string]; message?: RegExp }> = [
      {
        name: 'refused after the last accepted check-in',
        view: { lastCheckIn: iso(-600), refused: { ...refusal, at: iso(-60) } },
        expect: ['False', 'SignatureInvalid'],
        message: /^release 2\.0\.0: the signature does not verify; berth keeps the releases it accepted at .*; nothing in the running stack was changed$/,
      },
      {
        name: 'refused, never accepted',
        view: { refused: { ...refusal, at: iso(-60) }, lastCheckIn: undefined },
        expect: ['False', 'SignatureInvalid'],
        message: /nothing in the running stack was changed$/,
      },
      { name: 'refused once, accepted since', view: { lastCheckIn: iso(-60), refused: { ...refusal, at: iso(-600) } }, expect: ['True', 'Verified'] },
      { name: 'accepted', view: { lastCheckIn: iso(-60) }, expect: ['True', 'Verified'] },
      { name: 'never checked in', view: { lastCheckIn: undefined }, expect: ['Unknown', 'NotCheckedIn'] },
    ];
    for (const row of rows) {
      const view = Object.fromEntries(Object.entries(row.view).filter(([, v]) => v !== undefined)) as Partial<ChannelView>;
      const stack = following();
      const offer = chooseRelease({ releases: [r100.release, r200.release], current: rev.version, spec: stack.spec, now: NOW });
      const full: ChannelView = { name: CHANNEL, url: FEED_URL, ...view, ...(offer.available !== undefined ? { available: offer.available } : {}) };
      const t = followChannel(source(stack), offer, [r100, r200], rev, full);
      const s = statusOf(valid(t), recorded(rev), running);
      assert.deepEqual(brief(s, 'FeedAccepted'), row.expect, row.name);
      if (row.message !== undefined) assert.match(cond(s, 'FeedAccepted')!.message, row.message, row.name);
      // A refused feed never touches what runs.
      assert.deepEqual(brief(s, 'Ready'), ['True', 'Converged'], row.name);
    }
  });

  test('a stack without a channel has neither UpdateAvailable nor FeedAccepted', () => {
    const t = target({ version: '1.0.0' });
    const r = record(t, 1);
    const s = statusOf(valid(t), recorded(r), observed(runningOf(r)));
    assert.equal(cond(s, 'UpdateAvailable'), undefined);
    assert.equal(cond(s, 'FeedAccepted'), undefined);
    assert.equal(s.status.available, undefined);
    assert.equal(s.status.lastCheckIn, undefined);
  });

  test('a stack still waiting for its first release has no target version', () => {
    const { target: t } = follow({ feed: [], view: { lastCheckIn: undefined } });
    const s = statusOf(valid(t), {}, observed([]));
    assert.equal(s.status.targetVersion, undefined);
    assert.deepEqual(brief(s, 'UpdateAvailable'), ['False', 'UpToDate']);
    assert.match(cond(s, 'UpdateAvailable')!.message, /no release seen on channel stable yet/);
  });
});
