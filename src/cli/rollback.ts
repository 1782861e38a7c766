// `berth history` and `berth rollback`. The rollback itself (which revision, the manifest
// edit, the git-checkout refusal) is src/controller/actions.ts, shared with the web console;
// this file only words its result.
import type { StackStatus } from '../api/types.js';
import { ActionError, rollbackTo, type RollbackResult } from '../controller/actions.js';
import { historyMarks } from '../plan/history.js';
import { StateStore } from '../store/state.js';
import { stateFlag, type Dir } from './dirs.js';
import { printStructured, type OutputFormat } from './output.js';
import { table } from './table.js';

async function statusOrExplain(store: StateStore, name: string, command: string): Promise<StackStatus | undefined> {
  const status = await store.readStatus({ stack: name });
  if (status === undefined) {
    process.stderr.write(`berth ${command}: no status for stack "${name}" in ${store.root}; is berth running with this --state folder?\n`);
  }
  return status;
}

export async function historyCommand(opts: { state: Dir; name: string; output: OutputFormat }): Promise<number> {
  const { name } = opts;
  const store = new StateStore(opts.state.path);
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
  if (opts.output !== 'table') {
    printStructured(opts.output, {
      stack: name,
      revisions: history.map((e, i) => ({ ...e, operation: causes.get(e.revision) ?? e.operation, marks: marks[i] === '-' || marks[i] === undefined ? [] : marks[i]!.split(',') })),
      ...(s.operation !== undefined ? { operation: s.operation } : {}),
      ...(s.quarantine !== undefined ? { quarantine: s.quarantine } : {}),
      revisionsOnDisk: onDisk,
      damaged: [...damaged].map(([revision, problem]) => ({ revision, problem })),
    });
    return 0;
  }
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

export interface RollbackCommandOptions {
  state: Dir;
  name: string;
  to?: string;
  force: boolean;
}

/** The first line `berth rollback` prints: what it changed in the manifest. */
export function rollbackSummary(result: Pick<RollbackResult, 'stack' | 'fromVersion' | 'version' | 'revision' | 'approve' | 'manifest'>): string {
  // A channel stack had no spec.version: "- -> 2.0.0" read like a typo.
  const version = result.fromVersion !== undefined ? `spec.version ${result.fromVersion} -> ${result.version}` : `spec.version set to ${result.version} (it was unset)`;
  const approve = result.approve !== undefined ? `, spec.approve set to ${result.approve} (the stack is in notify mode; this rollback is the approval)` : '';
  return `${result.stack}: ${version}, spec.images set to those of revision ${result.revision}${approve}, in ${result.manifest}.`;
}

export async function rollbackCommand(opts: RollbackCommandOptions): Promise<number> {
  let result;
  try {
    result = await rollbackTo({ state: opts.state.path, name: opts.name, force: opts.force, hintFlags: stateFlag(opts.state), ...(opts.to !== undefined ? { to: opts.to } : {}) });
  } catch (err) {
    if (!(err instanceof ActionError)) throw err;
    process.stderr.write(`berth rollback: ${err.message}\n`);
    return err.usage ? 2 : 1;
  }
  const lines: string[] = [];
  if (!result.changed) {
    lines.push(`${result.manifest} already asks for version ${result.version} (revision ${result.revision}); nothing changed.`);
  } else {
    lines.push(
      rollbackSummary(result),
      `berth applies it on its next pass; follow with: berth status ${result.stack} --wait${stateFlag(opts.state)}`,
    );
  }
  lines.push(...result.notes);
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
