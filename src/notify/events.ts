// Which notifications a stack's status calls for, derived from the status alone (pure, no
// I/O), so the same status always yields the same events under the same keys. The
// notifier compares them with its ledger of what each webhook already heard: that is what
// makes delivery level-triggered (a restart, a lost attempt, a down receiver cost a later
// attempt, never an event) and keeps any event from being delivered twice.
import type { Condition, HistoryEntry, NotifyEvent, StackStatus } from '../api/types.js';

export interface StackEvent {
  /** Unique per event of a revision: `<event>/<operation>/<revision>@<started>`, or `<event>/<version>` for waiting states. */
  key: string;
  event: NotifyEvent;
  stack: string;
  /** The version the event is about (applied, failed, rolled back to, available, waiting). */
  version: string;
  revision?: number;
  /** For rolledBack: the version whose failure was undone. */
  failedVersion?: string;
  reason?: string;
  message?: string;
  /** When it happened: the end of the operation, or when the waiting state began. */
  at: string;
  /**
   * Whether the event is an outcome in the history (applied, failed, rolledBack) rather than a
   * state that holds now (updateAvailable, awaitingApproval). A webhook added later hears only
   * outcomes that finished after it was added, but every state that holds.
   */
  outcome: boolean;
  /** One line for people: what happened and what to do. */
  text: string;
}

const condition = (s: StackStatus, type: string): Condition | undefined => s.status.conditions.find((c) => c.type === type);

function entryKey(event: NotifyEvent, h: HistoryEntry): string {
  return `${event}/${h.operation}/${h.revision}@${h.started}`;
}

function why(h: HistoryEntry): string {
  const r = [h.reason, h.message].filter((x) => x !== undefined && x !== '');
  return r.length > 0 ? ` (${r.join(': ')})` : '';
}

function outcomeEvent(stack: string, h: HistoryEntry, older: readonly HistoryEntry[]): StackEvent | undefined {
  const base = {
    stack,
    version: h.version,
    revision: h.revision,
    ...(h.reason !== undefined ? { reason: h.reason } : {}),
    ...(h.message !== undefined ? { message: h.message } : {}),
    at: h.finished ?? h.started,
    outcome: true,
  };
  if (h.operation === 'update' && h.outcome === 'Healthy') {
    return { ...base, key: entryKey('applied', h), event: 'applied', text: `${stack}: version ${h.version} applied as revision ${h.revision} and passed its health gate` };
  }
  if (h.operation === 'update' && (h.outcome === 'Failed' || h.outcome === 'RolledBack')) {
    const next = h.outcome === 'RolledBack' ? 'berth rolls back to the last good revision' : 'it is left as it is for a person to look at (rollback.auto is off or there is nothing to go back to)';
    return { ...base, key: entryKey('failed', h), event: 'failed', text: `${stack}: the update to version ${h.version} (revision ${h.revision}) failed${why(h)}; ${next}` };
  }
  if (h.operation === 'rollback' && h.outcome === 'Healthy') {
    // The update it undid: the entry just before it, when that update was rolled back (a
    // person's `berth rollback` undoes no failure, and an older failure is not this one's).
    const prev = older[0];
    const undone = prev?.operation === 'update' && prev.outcome === 'RolledBack' ? prev : undefined;
    const after = undone !== undefined ? ` after version ${undone.version} failed` : '';
    return {
      ...base,
      ...(undone !== undefined ? { failedVersion: undone.version } : {}),
      key: entryKey('rolledBack', h),
      event: 'rolledBack',
      text: `${stack}: rolled back to version ${h.version} (revision ${h.revision})${after}; it runs and is healthy`,
    };
  }
  if (h.operation === 'rollback' && h.outcome === 'Failed') {
    return { ...base, key: entryKey('failed', h), event: 'failed', text: `${stack}: the rollback to version ${h.version} (revision ${h.revision}) failed${why(h)}; berth stops acting on the stack: a person must look at it` };
  }
  return undefined;
}

/** The version an AwaitingApproval condition is about: the channel's offer when the message names it, else the target. */
function waitingVersion(s: StackStatus, c: Condition): string | undefined {
  const offered = s.status.available?.version;
  if (offered !== undefined && c.message.includes(`version ${offered} `)) return offered;
  return s.status.targetVersion ?? offered;
}

/** Every event the status calls for, oldest first. */
export function eventsOf(stack: string, s: StackStatus): StackEvent[] {
  const out: StackEvent[] = [];
  const history = s.status.history ?? [];
  history.forEach((h, i) => {
    const e = outcomeEvent(stack, h, history.slice(i + 1));
    if (e !== undefined) out.push(e);
  });
  const available = s.status.available;
  const updateCond = condition(s, 'UpdateAvailable');
  // A quarantined release is one that failed here: it was announced when it first came.
  if (available !== undefined && updateCond?.status === 'True' && updateCond.reason !== 'Quarantined') {
    const waits = available.waitingFor !== undefined ? `; it waits for ${available.waitingFor}` : '';
    out.push({
      key: `updateAvailable/${available.version}`,
      event: 'updateAvailable',
      stack,
      version: available.version,
      reason: updateCond.reason,
      message: updateCond.message,
      at: updateCond.lastTransitionTime,
      outcome: false,
      text: `${stack}: version ${available.version}${available.change !== undefined ? ` (${available.change})` : ''} is available on channel ${available.channel}${waits}`,
    });
  }
  const approval = condition(s, 'AwaitingApproval');
  if (approval?.status === 'True') {
    const version = waitingVersion(s, approval);
    if (version !== undefined) {
      out.push({
        key: `awaitingApproval/${version}`,
        event: 'awaitingApproval',
        stack,
        version,
        reason: approval.reason,
        message: approval.message,
        at: approval.lastTransitionTime,
        outcome: false,
        text: `${stack}: version ${version} waits for approval: run \`berth approve ${stack} ${version}\` or set spec.approve to "${version}"`,
      });
    }
  }
  // Oldest first: a webhook hears what happened in the order it happened.
  return out.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
}
