// What spec.approve approves: a version, and only the content berth first applied under it
// (or, written "VERSION@KEY", the content whose key starts with KEY). Pure.
import type { Approval } from '../api/types.js';
import type { Hold, Progress, RevisionRecord, Target } from './types.js';

/** The shortest content-key prefix that approves content: 8 hex digits, 32 bits. */
export const MIN_KEY_PREFIX = 8;

export interface ApproveValue {
  version: string;
  /** A prefix of the content key, when the person approved content and not only a version. */
  key?: string;
}

export function parseApprove(approve: string | undefined): ApproveValue | undefined {
  if (approve === undefined) return undefined;
  const at = approve.lastIndexOf('@');
  if (at < 0) return { version: approve };
  return { version: approve.slice(0, at), key: approve.slice(at + 1) };
}

/** The version spec.approve names, whether or not it also names content. */
export function approvedVersion(approve: string | undefined): string | undefined {
  return parseApprove(approve)?.version;
}

/** How a person approves exactly this content of the target's version. */
export function approveContentHint(target: Target): string {
  return `set spec.approve to "${target.version}@${target.key.slice(0, 12)}"`;
}

/**
 * Why the target must wait for a new approval, if it must: spec.approve covers its version
 * but not its content (the content changed since berth applied the approved one, or the
 * approval names other content), or, in notify mode, the content of the version that runs
 * changed under it. Asked in notify mode and of channel releases, only of a target berth
 * has not applied.
 */
export function approvalHold(target: Target, approval: Approval | undefined, applied: RevisionRecord | undefined): Hold | undefined {
  const { spec } = target.stack;
  const a = parseApprove(spec.approve);
  const stale = (message: string): Hold => ({ reason: 'ApprovalStale', message: `${message}; review it, then ${approveContentHint(target)}`, awaitingApproval: true });
  // A pinned stack in auto mode needs no approval: its spec is the person's word, and a
  // leftover approve must not hold their own edit.
  const reviewed = spec.mode === 'notify' || target.release !== undefined;
  if (a !== undefined && a.version === target.version && reviewed) {
    if (a.key !== undefined) {
      if (a.key.length >= MIN_KEY_PREFIX && target.key.startsWith(a.key)) return undefined;
      const short = a.key.length < MIN_KEY_PREFIX ? ` (a content key needs at least ${MIN_KEY_PREFIX} hex digits)` : '';
      return stale(`spec.approve names content ${a.key} of version ${target.version}${short}, but its content is ${target.key}`);
    }
    if (approval !== undefined && approval.version === a.version && approval.targetKey !== target.key) {
      return stale(
        `the content of ${target.version} changed since it was approved (content ${approval.targetKey} applied at ${approval.since}, now ${target.key})`,
      );
    }
    return undefined;
  }
  if (spec.mode === 'notify' && applied !== undefined && applied.version === target.version && applied.targetKey !== target.key) {
    return stale(`the content of ${target.version} changed since revision ${applied.revision} applied it (content ${applied.targetKey}, now ${target.key})`);
  }
  return undefined;
}

/** Records what spec.approve covered, once berth applies (or finds applied) the target it approves. */
export function bindApproval(p: Progress, target: Target, now: Date): Progress {
  const a = parseApprove(target.stack.spec.approve);
  if (a === undefined || a.version !== target.version) return p;
  if (p.approval !== undefined && p.approval.version === a.version && p.approval.targetKey === target.key) return p;
  return { ...p, approval: { version: target.version, targetKey: target.key, since: now.toISOString() } };
}
