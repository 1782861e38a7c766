// The console's buttons, bound to the controller's person-facing actions.
import type { Operator } from '../../controller/operator.js';
import type { StateStore } from '../../store/state.js';
import type { ConsoleActions } from './routes.js';

export function consoleActions(operator: Operator, _state: StateStore, _manifestsDir: string): ConsoleActions {
  return {
    approve: () => Promise.reject(new Error('approving from the console is not wired yet')),
    rollback: () => Promise.reject(new Error('rolling back from the console is not wired yet')),
    checkNow: (stack) => operator.checkNow(stack),
  };
}
