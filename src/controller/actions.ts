// What a person can ask of berth, as plain functions every front end calls (the CLI, the web
// console): approve the version that waits, roll back to a kept good revision, list what
// waits. Each acts only by editing the Stack manifest through src/store/edit.ts, the same
// path as a person's own edit; the reconciler then converges to it. Nothing here acts behind
// its back, and nothing here prints: results and errors are typed, and the caller words them.
import { readFile } from 'node:fs/promises';
import type { HistoryEntry, StackStatus } from '../api/types.js';
import { InvalidManifestError, parseStack } from '../api/validate.js';
import { ComposeCli } from '../docker/compose.js';
import { ComposeModels } from '../docker/compose-model.js';
import { parseApprove } from '../plan/approval.js';
import type { RevisionRecord } from '../plan/types.js';
import { ConcurrentEditError, findGitCheckout, setStackApprove, setStackTarget } from '../store/edit.js';
import { scanManifests } from '../store/manifests.js';
import { clearRollbackRequest, writeRollbackRequest } from '../store/rollback-request.js';
import { StateStore } from '../store/state.js';
import { resolveTargetFile } from './target-file.js';

export type ActionErrorCode =
  /** berth has written no status for the stack in this state folder. */
  | 'NoStatus'
  /** The status names no manifest, and none in the manifests folder declares the stack. */
  | 'NoManifest'
  /** approve: no version of the stack waits for approval. */
  | 'NothingWaits'
  /** approve: the version asked for is not the one that waits. */
  | 'NotWaiting'
  /** rollback: the revision asked for is no number (a usage error). */
  | 'BadRevision'
  /** rollback: no kept revision to go back to, or the one asked for is not on disk or damaged. */
  | 'NoRevision'
  /** rollback: the manifest lives in a git checkout: the edit belongs in git (or pass force). */
  | 'ManagedByGit'
  /** The edited manifest would be invalid, or berth could not run it. Nothing was written. */
  | 'Unusable'
  /** The manifest changed while the action read it. Nothing was written. */
  | 'ConcurrentEdit';

/** Why a person's action was refused. `message` says what happened and what to do next; nothing was written. */
export class ActionError extends Error {
  readonly code: ActionErrorCode;
  /** The stack the action was about. */
  readonly stackName: string;
  constructor(code: ActionErrorCode, stackName: string, message: string) {
    super(message);
    this.name = 'ActionError';
    this.code = code;
    this.stackName = stackName;
  }
  /** True when the person asked wrongly (a usage error), not when the stack's state refused it. */
  get usage(): boolean {
    return this.code === 'BadRevision';
  }
}

export interface ActionTarget {
  /** The state folder (or a store on it) berth run uses. */
  state: StateStore | string;
  /** The manifests folder, to find a stack whose status names no manifest yet. */
  manifestsDir?: string;
  name: string;
  /** Flags a follow-up command in a message needs to find the same folders (` --state DIR`), if any. */
  hintFlags?: string;
}

/** A follow-up command for a message: `berth history shop --state DIR`. */
const hint = (opts: ActionTarget, command: string, extra = '') => `berth ${command} ${opts.name}${extra}${opts.hintFlags ?? ''}`;

const storeOf = (state: StateStore | string) => (typeof state === 'string' ? new StateStore(state) : state);

async function statusOf(store: StateStore, name: string): Promise<StackStatus> {
  const status = await store.readStatus({ stack: name });
  if (status === undefined) {
    throw new ActionError('NoStatus', name, `no status for stack "${name}" in ${store.root}; is berth running with this state folder? (berth get lists the stacks it has)`);
  }
  return status;
}

async function manifestOf(name: string, status: StackStatus, manifestsDir: string | undefined): Promise<string> {
  if (status.status.manifest !== undefined) return status.status.manifest;
  if (manifestsDir !== undefined) {
    const found = (await scanManifests(manifestsDir)).find((e) => (e.stack?.metadata.name ?? e.declaredName) === name);
    if (found !== undefined) return found.file;
  }
  throw new ActionError('NoManifest', name, `the status of "${name}" names no manifest file, and none in ${manifestsDir ?? 'the manifests folder'} declares it; edit the manifest by hand`);
}

async function refuseInGit(name: string, manifest: string, force: boolean | undefined, whatToDo: string): Promise<void> {
  const checkout = await findGitCheckout(manifest);
  if (checkout === undefined || force === true) return;
  throw new ActionError(
    'ManagedByGit',
    name,
    `${manifest} is in the git checkout ${checkout}, which berth does not own.\n` +
      `  An edit here would be overwritten by the next sync, or leave the checkout and its repository disagreeing.\n` +
      `  ${whatToDo}\n` +
      `  To edit the file anyway, run again with --force.`,
  );
}

// ---------------------------------------------------------------------------------------
// What waits for approval

export interface WaitingApproval {
  stack: string;
  /** The version that waits. */
  version: string;
  /** What `approve` writes to spec.approve: the version, or VERSION@KEY when the content must be named (ApprovalStale). */
  approve: string;
  /** ApprovalRequired (nothing approved it yet) or ApprovalStale (an approval no longer covers its content). */
  reason: string;
  /** berth's own words for why it waits (the AwaitingApproval condition). */
  message: string;
  /** Where the version comes from: a release on the stack's channel, or the manifest's spec.version. */
  from: 'channel' | 'manifest';
  channel?: string;
  notes?: string;
  /** How far it is from what runs (major, minor, ...), for a channel release. */
  change?: string;
  /** When the condition became true. */
  since?: string;
}

/** The value berth's own message tells a person to write: `set spec.approve to "X"`. */
const APPROVE_HINT = /set spec\.approve to "([^"]+)"/g;

/**
 * What waits for a person's approval, as the stack's status says, or undefined. Pure: the
 * status is berth's latest word, and a pass after the manifest changes rewrites it.
 */
export function waitingApproval(status: StackStatus): WaitingApproval | undefined {
  const s = status.status;
  const cond = s.conditions.find((c) => c.type === 'AwaitingApproval');
  if (cond === undefined || cond.status !== 'True') return undefined;
  // berth names the exact value (with the content key when an approval went stale); the
  // last hint in the message is the one to follow.
  const hints = [...cond.message.matchAll(APPROVE_HINT)].map((m) => m[1]!);
  const hinted = hints[hints.length - 1];
  const available = s.available;
  const version = hinted !== undefined ? parseApprove(hinted)!.version : (available?.version ?? s.targetVersion);
  if (version === undefined) return undefined;
  const fromChannel = available !== undefined && available.version === version && s.targetVersion !== version;
  return {
    stack: status.metadata.name,
    version,
    approve: hinted ?? version,
    reason: cond.reason,
    message: cond.message,
    from: fromChannel ? 'channel' : 'manifest',
    ...(fromChannel ? { channel: available.channel } : {}),
    ...(fromChannel && available.notes !== undefined ? { notes: available.notes } : {}),
    ...(fromChannel && available.change !== undefined ? { change: available.change } : {}),
    since: cond.lastTransitionTime,
  };
}

/** Every stack in the state folder with a version waiting for approval. */
export async function listWaiting(opts: { state: StateStore | string }): Promise<WaitingApproval[]> {
  const entries = await storeOf(opts.state).listStatuses();
  return entries.flatMap((e) => {
    const w = e.status !== undefined ? waitingApproval(e.status) : undefined;
    return w !== undefined ? [w] : [];
  });
}

export interface ApproveOptions extends ActionTarget {
  /** The version the person means to approve; refused when another one waits. Default: whatever waits. */
  version?: string;
}

export interface ApproveResult {
  stack: string;
  manifest: string;
  waiting: WaitingApproval;
  /** The value now in spec.approve. */
  approve: string;
  /** spec.approve before; undefined when it was not set. */
  before?: string;
  /** False when spec.approve already said so (berth has not acted on it yet); nothing was written then. */
  changed: boolean;
  /**
   * The git checkout the manifest lives in, if any: the approval is written all the same (it
   * is one field a person asked for, and a checkout may hold berth's own, ignored folders),
   * but the person should know a sync could undo it until it is committed.
   */
  gitCheckout?: string;
}

/**
 * Approves what waits: writes spec.approve to the value berth asks for, in the manifest,
 * keeping every other byte. Refused (ActionError) when nothing waits, or when `version` is
 * not what waits: an approval is a person's word about one reviewed release, so it is never
 * guessed onto another.
 */
export async function approveWaiting(opts: ApproveOptions): Promise<ApproveResult> {
  const store = storeOf(opts.state);
  const status = await statusOf(store, opts.name);
  const waiting = waitingApproval(status);
  if (waiting === undefined) {
    const current = status.status.currentVersion ?? status.status.targetVersion;
    throw new ActionError(
      'NothingWaits',
      opts.name,
      `nothing of stack "${opts.name}" waits for approval${current !== undefined ? ` (it runs ${current})` : ''}${opts.version !== undefined ? `, so ${opts.version} cannot be approved` : ''}; see ${hint(opts, 'describe')}`,
    );
  }
  if (opts.version !== undefined && opts.version !== waiting.version && opts.version !== waiting.approve) {
    throw new ActionError(
      'NotWaiting',
      opts.name,
      `version ${opts.version} of stack "${opts.name}" does not wait for approval; ${waiting.version} does. To approve it: ${hint(opts, 'approve', ` ${waiting.version}`)}`,
    );
  }
  const manifest = await manifestOf(opts.name, status, opts.manifestsDir);
  const checkout = await findGitCheckout(manifest);
  let edit;
  try {
    edit = await setStackApprove(manifest, waiting.approve);
  } catch (err) {
    throw wrapEditError(opts.name, err);
  }
  return {
    stack: opts.name,
    manifest,
    waiting,
    approve: waiting.approve,
    ...(edit.before !== undefined ? { before: edit.before } : {}),
    changed: edit.changed,
    ...(checkout !== undefined ? { gitCheckout: checkout } : {}),
  };
}

function wrapEditError(name: string, err: unknown): unknown {
  if (err instanceof ConcurrentEditError) return new ActionError('ConcurrentEdit', name, err.message);
  if (err instanceof InvalidManifestError) {
    return new ActionError('Unusable', name, `${err.file}: ${err.problems.map((p) => `${p.path ? `${p.path}: ` : ''}${p.message}`).join('; ')}`);
  }
  return err;
}

// ---------------------------------------------------------------------------------------
// Roll back to a kept revision

/** The revision a bare rollback goes to: last-good when something else is asked for, else the good one before it. */
export function defaultRollbackRevision(s: StackStatus['status'], onDisk: readonly number[]): number | undefined {
  const good = s.lastGoodRevision;
  if (good !== undefined && (s.targetVersion === undefined || s.quarantine !== undefined || s.revision !== good)) return good;
  const earlierGood = (s.history ?? [])
    .filter((e: HistoryEntry) => e.outcome === 'Healthy' && (good === undefined || e.revision < good) && onDisk.includes(e.revision))
    .map((e) => e.revision);
  return earlierGood.length > 0 ? Math.max(...earlierGood) : undefined;
}

export interface RollbackOptions extends ActionTarget {
  /** The revision to go back to (a number, or its text from a command line); default: see defaultRollbackRevision. */
  to?: number | string;
  /** Edit a manifest inside a git checkout anyway. */
  force?: boolean;
}

export interface RollbackResult {
  stack: string;
  manifest: string;
  revision: number;
  version: string;
  /** spec.version before the edit. */
  fromVersion?: string;
  /** Set when the stack is in notify mode: the rollback carries its own approval. */
  approve?: string;
  /** False when the manifest already asked for this revision's version and images; nothing was written. */
  changed: boolean;
  /** What the person should know besides (the stack is now pinned; the compose file differs; berth cannot run it as it is). */
  notes: string[];
}

/**
 * Sets the Stack's version and images back to those of a kept revision, in its manifest; berth
 * converges to it like to any other edit, and records the revision as a rollback. A manifest
 * in someone else's git checkout is refused (ManagedByGit) unless `force`.
 */
export async function rollbackTo(opts: RollbackOptions): Promise<RollbackResult> {
  const { name } = opts;
  const store = storeOf(opts.state);
  const status = await statusOf(store, name);
  const s = status.status;
  const onDisk = await store.revisionNumbers(name);
  let revision: number | undefined;
  if (opts.to !== undefined) {
    const to = String(opts.to);
    revision = /^[1-9][0-9]*$/.test(to) ? Number(to) : undefined;
    if (revision === undefined) throw new ActionError('BadRevision', name, `--to takes a revision number, not "${to}" (see ${hint(opts, 'history')})`);
  } else {
    revision = defaultRollbackRevision(s, onDisk);
    if (revision === undefined) {
      throw new ActionError('NoRevision', name, `stack "${name}" has no earlier revision that passed its health gate; name one with --to (see ${hint(opts, 'history')})`);
    }
  }
  let record: RevisionRecord | undefined;
  try {
    record = await store.readRevision(name, revision);
  } catch (err) {
    throw new ActionError('NoRevision', name, (err as Error).message);
  }
  if (record === undefined) {
    throw new ActionError('NoRevision', name, `revision ${revision} of "${name}" is not on disk (kept: ${onDisk.join(', ') || 'none'})`);
  }
  if (s.manifest === undefined) {
    throw new ActionError('NoManifest', name, `the status of "${name}" names no manifest file; edit spec.version and spec.images by hand`);
  }
  const manifest = s.manifest;
  await refuseInGit(
    name,
    manifest,
    opts.force,
    `Revert in git instead: set spec.version to "${record.version}" and spec.images to those of revision ${record.revision}` +
      ` (e.g. git revert the commit that moved away from it), commit and push.`,
  );

  const text = await readFile(manifest, 'utf8');
  const ranCompose = store.revisionComposePath(name, record.revision);
  const shipped = record.release?.compose === true ? ` shipped with release ${record.release.version} of channel ${record.release.channel}` : '';
  // In notify mode berth waits for spec.approve to name the version; a person rolling back
  // has decided, so the rollback carries its own approval.
  const notify = parseStack(manifest, text).spec.mode === 'notify';
  const edit = { version: record.version, images: record.images, ...(notify ? { approve: record.version } : {}) };
  // Written before the manifest: a running berth may pick the edit up at once, and the
  // revision it writes must find the request already there.
  await writeRollbackRequest(store, name, {
    version: record.version,
    images: record.images,
    ...(s.revision !== undefined ? { fromRevision: s.revision } : {}),
    toRevision: record.revision,
    requested: new Date().toISOString(),
  });
  // compose reads the Stack's files for both checks below; without a compose CLI they are left out.
  const cli = await ComposeCli.detect().catch(() => undefined);
  const models = cli !== undefined ? new ComposeModels(cli) : undefined;
  let result;
  try {
    result = await setStackTarget(manifest, edit, {
      expectText: text,
      // Refuse here what berth would only report as InvalidSpec after the edit.
      check: async (stack) => {
        if (models === undefined) return undefined;
        const resolved = await resolveTargetFile(manifest, stack, models);
        return 'error' in resolved ? resolved.error : undefined;
      },
    });
  } catch (err) {
    await clearRollbackRequest(store, name);
    if (!(err instanceof InvalidManifestError)) throw wrapEditError(name, err);
    throw new ActionError(
      'Unusable',
      name,
      `revision ${record.revision} (version ${record.version}) ran the compose file${shipped} (kept at ${ranCompose});` +
        ` with its own compose file, ${manifest} cannot run that revision's images:\n` +
        `  ${err.problems.map((p) => p.message.replace(/^berth could not use the edited manifest, so nothing was written: /, '')).join('\n  ')}\n` +
        `  Nothing was written. To run revision ${record.revision} anyway, copy ${ranCompose} beside the manifest, set spec.compose.file to it and run berth rollback again` +
        (shipped !== '' ? `;\n  or leave the stack on its channel: berth rolls back a release that fails its health gate by itself.` : '.'),
    );
  }
  if (!result.changed) await clearRollbackRequest(store, name);

  // The compose file is the person's too: berth restores version and digests, and says so
  // when the file has changed since the revision ran.
  const edited = parseStack(manifest, await readFile(manifest, 'utf8'));
  const resolved = models !== undefined ? await resolveTargetFile(manifest, edited, models) : { error: 'no compose CLI' };
  const notes: string[] = [];
  if (edited.spec.channel !== undefined) {
    notes.push(
      `${name} is now pinned to version ${record.version}: while spec.version is set it does not follow channel ${edited.spec.channel.name}.` +
        ` To follow the channel again, remove spec.version and spec.images${notify ? ' (and spec.approve)' : ''} from ${manifest}.`,
    );
  }
  if ('target' in resolved && resolved.target.key !== record.targetKey) {
    notes.push(
      `Note: ${resolved.composeFile} is not the compose file revision ${record.revision} ran${shipped}, so berth will apply these images with ${resolved.composeFile}.` +
        ` The file revision ${record.revision} ran is ${ranCompose}.`,
    );
  } else if ('error' in resolved) {
    notes.push(`Warning: berth cannot apply the manifest as it is: ${resolved.error}`);
  }
  return {
    stack: name,
    manifest,
    revision: record.revision,
    version: record.version,
    ...(result.before.version !== undefined ? { fromVersion: result.before.version } : {}),
    ...(edit.approve !== undefined ? { approve: edit.approve } : {}),
    changed: result.changed,
    notes,
  };
}
