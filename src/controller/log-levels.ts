// How loud a pass says what it did. A person scanning the log (or an alert on level >= 40)
// must see a failed update and a rollback without reading every info line: a rollback is
// berth undoing an update (warn), and a stack left on a failed revision needs a person (error).
import type { PlanAction } from '../plan/types.js';

export type LogLevel = 'info' | 'warn' | 'error';

/** The level of the line that announces a plan's action. */
export function levelOfAction(action: PlanAction): LogLevel {
  return action === 'rollback' ? 'warn' : 'info';
}

/** The level of the line that says the stack's Ready condition changed to this reason. */
export function levelOfReady(reason: string): LogLevel {
  switch (reason) {
    // The update failed and nothing undid it, or the rollback failed too: a person must act.
    case 'Failed':
    case 'RollbackFailed':
      return 'error';
    // The update failed and was undone: what runs is good, but the update did not happen.
    case 'RolledBack':
      return 'warn';
    // A manifest a person must fix: berth goes on with the last valid one, but acts on no edit.
    case 'InvalidSpec':
      return 'warn';
    default:
      return 'info';
  }
}
