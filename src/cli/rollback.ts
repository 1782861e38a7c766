// `berth history` and `berth rollback`. A rollback is declarative: it sets the Stack's
// version and images to those of an earlier revision, in the manifest, and berth converges
// to it like to any other edit. A manifest that lives in someone else's git checkout is not
// berth's to edit: the person is told to revert in git, where the truth is kept.
import { readFile } from 'node:fs/promises';
import type { HistoryEntry, StackStatus } from '../api/types.js';
import { parseStack } from '../api/validate.js';
import { resolveTargetFile } from '../controller/target-file.js';
import { findGitCheckout, setStackTarget } from '../store/edit.js';
import { historyMarks } from '../plan/history.js';
import { clearRollbackRequest, writeRollbackRequest } from '../store/rollback-request.js';
import { InvalidManifestError } from '../api/validate.js';
import type { RevisionRecord } from '../plan/types.js';
import { StateStore } from '../store/state.js';
import { table } from './table.js';

async function statusOrExplain(store: StateStore, name: string, command: string): Promise<StackStatus | undefined> {
  const status = await store.readStatus({ stack: name });
  if (status === undefined) {
    process.stderr.write(`berth ${command}: no status for stack "${name}" in ${store.root}; is berth running with this --state folder?\n`);
  }
  return status;
}

export async function historyCommand(stateDir: string, name: string): Promise<number> {
  const store = new StateStore(stateDir);
  const status = await statusOrExplain(store, name, 'history');
  if (status === undefined) return 1;
  const s = status.status;
  const onDisk = await store.revisionNumbers(name);
  // Each record on disk is read back, so one that was cut short is shown as such before someone rolls back to it;
  // a revision a person asked for with `berth rollback` is a rollback, whatever its pass was.
  const damaged = new Map<number, string>();
  const causes = new Map<number, string>();
  for (const n of onDisk) {
    const record = await store.readRevision(name, n).catch((err: unknown) => {
      damaged.set(n, (err as Error).message);
      return undefined;
    });
    if (record?.cause?.kind === 'rollback') causes.set(n, 'rollback');
  }
  const history = s.history ?? [];
  const marks = historyMarks(history, s.revision, s.lastGoodRevision).map((m, i) =>
    damaged.has(history[i]!.revision) ? (m === '-' ? 'DAMAGED' : `${m},DAMAGED`) : m,
  );
  const rows = [['REVISION', 'VERSION', 'OPERATION', 'OUTCOME', 'STARTED', 'FINISHED', 'NOW', 'REASON']];
  history.forEach((e, i) => {
    rows.push([String(e.revision), e.version, causes.get(e.revision) ?? e.operation, e.outcome, e.started, e.finished ?? '-', marks[i] ?? '-', e.reason ?? '-']);
  });
  const lines = [table(rows).trimEnd()];
  if (s.operation !== undefined) {
    lines.push(`In flight: ${s.operation.kind} to revision ${s.operation.revision}, step ${s.operation.step} since ${s.operation.stepStarted}`);
  }
  if (s.quarantine !== undefined) {
    lines.push(
      `Quarantined: version ${s.quarantine.version} (revision ${s.quarantine.revision}) failed: ${s.quarantine.reason}: ${s.quarantine.message}` +
        (s.quarantine.rollbackFailed ? ' (the rollback failed too; berth stopped acting on this stack)' : ''),
    );
  }
  lines.push(`Revisions on disk: ${onDisk.join(', ') || 'none'} (under ${store.root}/${name}/revisions)`);
  for (const [n, problem] of damaged) {
    lines.push(`Damaged: revision ${n} (${problem.replace(/: berth cannot tell.*$/, '')}): berth cannot roll back to it, nor judge it; its containers, if they run, are not affected`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

/** The revision a bare `berth rollback` goes to: last-good when something else is asked for, else the good one before it. */
function defaultRevision(s: StackStatus['status'], onDisk: readonly number[]): number | undefined {
  const good = s.lastGoodRevision;
  if (good !== undefined && (s.targetVersion === undefined || s.quarantine !== undefined || s.revision !== good)) return good;
  const earlierGood = (s.history ?? [])
    .filter((e: HistoryEntry) => e.outcome === 'Healthy' && (good === undefined || e.revision < good) && onDisk.includes(e.revision))
    .map((e) => e.revision);
  return earlierGood.length > 0 ? Math.max(...earlierGood) : undefined;
}

export interface RollbackOptions {
  state: string;
  name: string;
  to?: string;
  force: boolean;
}

export async function rollbackCommand(opts: RollbackOptions): Promise<number> {
  const store = new StateStore(opts.state);
  const status = await statusOrExplain(store, opts.name, 'rollback');
  if (status === undefined) return 1;
  const s = status.status;
  const onDisk = await store.revisionNumbers(opts.name);
  let revision: number | undefined;
  if (opts.to !== undefined) {
    revision = /^[1-9][0-9]*$/.test(opts.to) ? Number(opts.to) : undefined;
    if (revision === undefined) {
      process.stderr.write(`berth rollback: --to takes a revision number, not "${opts.to}" (see berth history ${opts.name})\n`);
      return 2;
    }
  } else {
    revision = defaultRevision(s, onDisk);
    if (revision === undefined) {
      process.stderr.write(`berth rollback: stack "${opts.name}" has no earlier revision that passed its health gate; name one with --to (see berth history ${opts.name})\n`);
      return 1;
    }
  }
  let record: RevisionRecord | undefined;
  try {
    record = await store.readRevision(opts.name, revision);
  } catch (err) {
    process.stderr.write(`berth rollback: ${(err as Error).message}\n`);
    return 1;
  }
  if (record === undefined) {
    process.stderr.write(`berth rollback: revision ${revision} of "${opts.name}" is not on disk (kept: ${onDisk.join(', ') || 'none'})\n`);
    return 1;
  }
  const manifest = s.manifest;
  if (manifest === undefined) {
    process.stderr.write(`berth rollback: the status of "${opts.name}" names no manifest file; edit spec.version and spec.images by hand\n`);
    return 1;
  }

  const checkout = await findGitCheckout(manifest);
  if (checkout !== undefined && !opts.force) {
    process.stderr.write(
      `berth rollback: ${manifest} is in the git checkout ${checkout}, which berth does not own.\n` +
        `  An edit here would be overwritten by the next sync, or leave the checkout and its repository disagreeing.\n` +
        `  Revert in git instead: set spec.version to "${record.version}" and spec.images to those of revision ${record.revision}` +
        ` (e.g. git revert the commit that moved away from it), commit and push.\n` +
        `  To edit the file anyway, run again with --force.\n`,
    );
    return 1;
  }

  const text = await readFile(manifest, 'utf8');
  const ranCompose = store.revisionComposePath(opts.name, record.revision);
  const shipped = record.release?.compose === true ? ` shipped with release ${record.release.version} of channel ${record.release.channel}` : '';
  // In notify mode berth waits for spec.approve to name the version; a person rolling back
  // has decided, so the rollback carries its own approval.
  const notify = parseStack(manifest, text).spec.mode === 'notify';
  const edit = { version: record.version, images: record.images, ...(notify ? { approve: record.version } : {}) };
  // Written before the manifest: a running berth may pick the edit up at once, and the
  // revision it writes must find the request already there.
  await writeRollbackRequest(store, opts.name, {
    version: record.version,
    images: record.images,
    ...(s.revision !== undefined ? { fromRevision: s.revision } : {}),
    toRevision: record.revision,
    requested: new Date().toISOString(),
  });
  let result;
  try {
    result = await setStackTarget(manifest, edit, {
      expectText: text,
      // Refuse here what berth would only report as InvalidSpec after the edit.
      check: async (stack) => {
        const resolved = await resolveTargetFile(manifest, stack);
        return 'error' in resolved ? resolved.error : undefined;
      },
    });
  } catch (err) {
    await clearRollbackRequest(store, opts.name);
    if (!(err instanceof InvalidManifestError)) throw err;
    process.stderr.write(
      `berth rollback: revision ${record.revision} (version ${record.version}) ran the compose file${shipped} (kept at ${ranCompose});` +
        ` with its own compose file, ${manifest} cannot run that revision's images:\n` +
        `  ${err.problems.map((p) => p.message.replace(/^berth could not use the edited manifest, so nothing was written: /, '')).join('\n  ')}\n` +
        `  Nothing was written. To run revision ${record.revision} anyway, copy ${ranCompose} beside the manifest, set spec.compose.file to it and run berth rollback again` +
        (shipped !== '' ? `;\n  or leave the stack on its channel: berth rolls back a release that fails its health gate by itself.\n` : '.\n'),
    );
    return 1;
  }

  // The compose file is the person's too: berth restores version and digests, and says so
  // when the file has changed since the revision ran.
  const edited = parseStack(manifest, await readFile(manifest, 'utf8'));
  const resolved = await resolveTargetFile(manifest, edited);
  const lines: string[] = [];
  if (!result.changed) {
    await clearRollbackRequest(store, opts.name);
    lines.push(`${manifest} already asks for version ${record.version} (revision ${record.revision}); nothing changed.`);
  } else {
    lines.push(
      `${opts.name}: spec.version ${result.before.version ?? '-'} -> ${record.version}, spec.images set to those of revision ${record.revision}` +
        `${edit.approve !== undefined ? `, spec.approve set to ${edit.approve} (the stack is in notify mode; this rollback is the approval)` : ''}, in ${manifest}.`,
      `berth applies it on its next pass; follow with: berth describe ${opts.name}`,
    );
  }
  if (edited.spec.channel !== undefined) {
    lines.push(
      `${opts.name} is now pinned to version ${record.version}: while spec.version is set it does not follow channel ${edited.spec.channel.name}.` +
        ` To follow the channel again, remove spec.version and spec.images${notify ? ' (and spec.approve)' : ''} from ${manifest}.`,
    );
  }
  if ('target' in resolved && resolved.target.key !== record.targetKey) {
    lines.push(
      `Note: ${resolved.composeFile} is not the compose file revision ${record.revision} ran${shipped}, so berth will apply these images with ${resolved.composeFile}.` +
        ` The file revision ${record.revision} ran is ${ranCompose}.`,
    );
  } else if ('error' in resolved) {
    lines.push(`Warning: berth cannot apply the manifest as it is: ${resolved.error}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
