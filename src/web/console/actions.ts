// The console's buttons, bound to the controller's person-facing actions: the same
// functions `berth approve` and `berth rollback` call, so a click and a command edit the
// manifest identically. A rollback of a manifest in someone else's git checkout is refused
// here as in the CLI (the console offers no --force: that edit belongs in git).
import { approveWaiting, rollbackTo } from '../../controller/actions.js';
import type { Operator } from '../../controller/operator.js';
import type { StateStore } from '../../store/state.js';
import type { ConsoleActions } from './routes.js';

export function consoleActions(operator: Operator, state: StateStore, manifestsDir: string): ConsoleActions {
  return {
    approve: async (name, version) => {
      const r = await approveWaiting({ state, manifestsDir, name, version });
      return { inGitCheckout: r.gitCheckout !== undefined };
    },
    rollback: async (name, revision) => {
      const r = await rollbackTo({ state, manifestsDir, name, to: revision });
      return [`revision ${r.revision} (${r.version})`, ...r.notes].join(' ');
    },
    checkNow: (stack) => operator.checkNow(stack),
  };
}
