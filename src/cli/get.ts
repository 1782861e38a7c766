// `berth get` and `berth describe`: what the status files say, for people (tables) and for
// scripts (-o json / yaml, the StackStatus documents as berth wrote them).
import type { StackStatus } from '../api/types.js';
import { waitingApproval, type WaitingApproval } from '../controller/actions.js';
import { StateStore } from '../store/state.js';
import { stateFlag, type Dir } from './dirs.js';
import { printStructured, type OutputFormat } from './output.js';
import { age, table } from './table.js';

export const AGE_HELP = 'AGE is how long the READY column has had its value (since the Ready condition last changed), as 45s, 12m, 3h, 2d.';

/** The version a person would look at next: the one that waits for approval, else the channel's newest. */
function availableCell(s: StackStatus['status'], w: WaitingApproval | undefined): string {
  if (w !== undefined) return w.version;
  return s.available?.version ?? '-';
}

export async function getCommand(opts: { state: Dir; name?: string; output: OutputFormat }, now = new Date()): Promise<number> {
  const store = new StateStore(opts.state.path);
  let entries = await store.listStatuses();
  if (opts.name !== undefined) {
    entries = entries.filter((e) => 'stack' in e.key && e.key.stack === opts.name);
    if (entries.length === 0) {
      process.stderr.write(`berth get: no status for stack "${opts.name}" in ${store.root}; berth get${stateFlag(opts.state)} lists the stacks berth has run\n`);
      return 1;
    }
  }
  const statuses = entries.flatMap((e) => (e.status !== undefined ? [e.status] : []));
  if (opts.output !== 'table') {
    printStructured(opts.output, opts.name !== undefined ? statuses[0] : { apiVersion: 'v1', kind: 'List', items: statuses });
    return 0;
  }
  if (entries.length === 0) {
    process.stdout.write(`No stacks in ${store.root}.\n`);
    return 0;
  }
  const rows = [['NAME', 'MODE', 'CURRENT', 'TARGET', 'AVAILABLE', 'READY', 'REASON', 'AGE']];
  const hints: string[] = [];
  for (const e of entries) {
    const name = 'stack' in e.key ? e.key.stack : `(file ${e.key.file})`;
    if (e.status === undefined) {
      rows.push([name, '-', '-', '-', '-', 'Unknown', 'StatusUnreadable', '-']);
      continue;
    }
    const s = e.status.status;
    const ready = s.conditions.find((c) => c.type === 'Ready');
    const w = waitingApproval(e.status);
    // A stack that runs fine while a version waits for a person reads as waiting, not as done.
    const reason = w !== undefined ? (w.reason === 'ApprovalStale' ? 'ApprovalStale' : 'AwaitingApproval') : (ready?.reason ?? '-');
    rows.push([name, s.mode ?? '-', s.currentVersion ?? '-', s.targetVersion ?? '-', availableCell(s, w), ready?.status ?? 'Unknown', reason, age(ready?.lastTransitionTime, now)]);
    if (w !== undefined) hints.push(`${name}: ${w.version} waits for approval; to apply it: berth approve ${name} ${w.version}${stateFlag(opts.state)}`);
  }
  process.stdout.write(table(rows));
  if (hints.length > 0) process.stdout.write(`\n${hints.join('\n')}\n`);
  return 0;
}

/** One row per container (a service with none gets one row of its own). */
function servicesTable(s: StackStatus['status']): string {
  const rows = [['  SERVICE', 'CONTAINER', 'STATE', 'HEALTH', 'REVISION', 'IMAGE']];
  for (const svc of s.services) {
    if (svc.containers.length === 0) {
      rows.push([`  ${svc.name}`, '-', svc.reason ?? 'missing', '-', '-', svc.desiredImage ?? '-']);
      continue;
    }
    for (const c of svc.containers) {
      const state = c.exitCode !== undefined ? `${c.state} (${c.exitCode})` : c.state;
      rows.push([`  ${svc.name}`, c.name, state, c.health, c.revision !== undefined ? String(c.revision) : '-', c.imageDigests?.[0] ?? c.imageId.slice(0, 19)]);
    }
  }
  return table(rows).trimEnd();
}

export async function describeCommand(opts: { state: Dir; name: string; output: OutputFormat }, now = new Date()): Promise<number> {
  const { name } = opts;
  const store = new StateStore(opts.state.path);
  const status = await store.readStatus({ stack: name });
  if (status === undefined) {
    process.stderr.write(`berth describe: no status for stack "${name}" in ${store.root}; is berth running with this state folder? (berth get${stateFlag(opts.state)} lists the stacks it has)\n`);
    return 1;
  }
  if (printStructured(opts.output, status)) return 0;
  const s = status.status;
  const w = waitingApproval(status);
  const lines = [
    `Name:            ${name}`,
    `Manifest:        ${s.manifest ?? '-'}`,
    `Project:         ${s.project ?? '-'}`,
    `Mode:            ${s.mode ?? '-'}`,
    `Target version:  ${s.targetVersion ?? '-'}`,
    `Current version: ${s.currentVersion ?? '-'}`,
    `Revision:        ${s.revision ?? '-'}`,
    `Last good:       ${s.lastGoodRevision ?? '-'}`,
    ...(s.operation
      ? [`In flight:       ${s.operation.kind} to revision ${s.operation.revision}, step ${s.operation.step} since ${s.operation.stepStarted}`]
      : []),
    ...(s.quarantine
      ? [`Quarantined:     version ${s.quarantine.version} (revision ${s.quarantine.revision}): ${s.quarantine.reason}: ${s.quarantine.message}`]
      : []),
    ...(s.approval ? [`Approved:        version ${s.approval.version}, content ${s.approval.targetKey} (since ${s.approval.since})`] : []),
    `Last applied:    ${s.lastAppliedTime ?? '-'}`,
    ...(s.lastCheckIn ? [`Last check-in:   ${s.lastCheckIn}`] : []),
    ...(s.available
      ? [
          `Available:       ${s.available.version} (${s.available.change ?? '?'}, channel ${s.available.channel}${s.available.published ? `, published ${s.available.published}` : ''}${s.available.downloaded ? ', downloaded' : ''})`,
          ...(s.available.waitingFor ? [`  Waiting for:   ${s.available.waitingFor}`] : []),
          ...(s.available.notes ? [`  Notes:         ${s.available.notes.split('\n').join('\n                 ')}`] : []),
        ]
      : []),
    ...(w !== undefined ? [`Awaits approval: ${w.version}: to apply it, berth approve ${name} ${w.version}${stateFlag(opts.state)}`] : []),
    ...(s.lastError ? [`Last error:      ${s.lastError}`] : []),
    'Conditions:',
    table([
      ['  TYPE', 'STATUS', 'REASON', 'AGE', 'MESSAGE'],
      ...s.conditions.map((c) => [`  ${c.type}`, c.status, c.reason, age(c.lastTransitionTime, now), c.message]),
    ]).trimEnd(),
    'Services:',
    s.services.length > 0 ? servicesTable(s) : '  (none)',
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
