// What `berth run --once` tells its caller: a cron job or a script only sees the exit code
// and the last line, so a stack that did not end on its target must show in both. A pass
// that raised no error is not enough: an update that failed its gate and was rolled back, or
// a manifest berth cannot read, ends the pass cleanly but leaves the stack off its target.
import type { StackStatus } from '../api/types.js';

export interface StackPass {
  /** The work key: `stack:<name>` or `file:<manifest file>` (a manifest that never named its stack). */
  key: string;
  error?: Error;
  /** The status the last pass wrote. */
  status?: StackStatus;
}

export interface RunOutcome {
  exitCode: 0 | 1;
  /** Stacks (or files) that did not end on their target, each with why. */
  off: Array<{ name: string; reason: string; message: string }>;
  /** One line for the end of the output: which stacks, and why. */
  summary: string;
}

/** Why a stack did not end on its target, or undefined when it did (or was not asked to move). */
function offTarget(pass: StackPass): { reason: string; message: string } | undefined {
  const s = pass.status?.status;
  if (pass.error !== undefined) {
    const reason = s?.conditions.find((c) => c.type === 'Synced' && c.status === 'False')?.reason ?? pass.error.name;
    return { reason, message: pass.error.message };
  }
  if (s === undefined) return { reason: 'NoStatus', message: 'the pass wrote no status' };
  const cond = (type: string) => s.conditions.find((c) => c.type === type);
  const ready = cond('Ready');
  if (ready?.status === 'True') return undefined;
  if (pass.key.startsWith('file:')) return { reason: ready?.reason ?? 'InvalidSpec', message: ready?.message ?? 'not a valid Stack manifest' };
  // A person asked berth to keep its hands off, or to wait for their word: berth did all it
  // may, and nothing failed. A failure still counts, whatever the mode.
  const degraded = cond('Degraded')?.status === 'True';
  if (!degraded && ready?.reason !== 'InvalidSpec') {
    if (s.mode === 'disabled') return undefined;
    if (cond('AwaitingApproval')?.status === 'True') return undefined;
  }
  if (ready?.reason === 'InvalidSpec') return { reason: 'InvalidSpec', message: ready.message };
  if (s.quarantine !== undefined) {
    const back = s.currentVersion !== undefined ? `; version ${s.currentVersion} runs` : '';
    return { reason: s.quarantine.reason, message: `version ${s.quarantine.version} failed and was rolled back${back}` };
  }
  return { reason: ready?.reason ?? 'Unknown', message: ready?.message ?? 'no Ready condition' };
}

const nameOf = (key: string) => (key.startsWith('stack:') ? key.slice('stack:'.length) : key.startsWith('file:') ? `file ${key.slice('file:'.length)}` : key);

/** The exit code and last line of `berth run --once` for the passes it ran. */
export function runOutcome(passes: readonly StackPass[]): RunOutcome {
  const off = passes.flatMap((p) => {
    const why = offTarget(p);
    return why === undefined ? [] : [{ name: nameOf(p.key), ...why }];
  });
  if (off.length === 0) {
    return { exitCode: 0, off, summary: `berth run --once: ${passes.length} stack(s), every one on its target` };
  }
  // One line, whatever the messages hold: a script reads the last line.
  const list = off.map((o) => `${o.name} (${o.reason}: ${o.message.replace(/\s*\n\s*/g, ' ')})`).join('; ');
  return { exitCode: 1, off, summary: `berth run --once: ${off.length} of ${passes.length} stack(s) did not end on their target: ${list}` };
}
