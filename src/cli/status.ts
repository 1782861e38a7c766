// `berth status NAME [--wait]`: where the stack's rollout stands, like `kubectl rollout
// status`; with --wait, one line per change until the target runs and passed its health
// gate (exit 0) or failed and was rolled back (exit 1), or the time ran out (exit 1).
import { rolloutOf, waitForRollout, type Rollout } from '../controller/rollout.js';
import { ComposeCli } from '../docker/compose.js';
import { ComposeModels } from '../docker/compose-model.js';
import { StateStore } from '../store/state.js';
import { stateFlag, type Dir } from './dirs.js';

export const STATUS_HELP = `Where the stack's rollout stands: Complete (the target runs and passed its health gate),
Failed (it failed, and was rolled back), or Progressing (berth is applying or verifying it,
has not acted on the manifest's last change yet, or a version waits for approval). With
--wait, prints a line at each change and waits like kubectl rollout status.
Exit 0 when Complete; 1 when Failed, still Progressing without --wait, or timed out.`;

const line = (name: string, r: Rollout) => `${name}: ${r.phase}: ${r.message}\n`;

export async function statusCommand(opts: { name: string; state: Dir; wait: boolean; timeoutSeconds?: number }): Promise<number> {
  const state = new StateStore(opts.state.path);
  // compose resolves a pinned stack's manifest to the generation the status records; without it, file times decide.
  const cli = await ComposeCli.detect().catch(() => undefined);
  const models = cli !== undefined ? new ComposeModels(cli) : undefined;
  if (!opts.wait) {
    const r = await rolloutOf(state, opts.name, models);
    if (r === undefined) {
      process.stderr.write(`berth status: no status for stack "${opts.name}" in ${state.root}; berth get${stateFlag(opts.state)} lists the stacks berth has run\n`);
      return 1;
    }
    process.stdout.write(line(opts.name, r));
    return r.phase === 'Complete' ? 0 : 1;
  }
  const r = await waitForRollout(state, opts.name, models, {
    ...(opts.timeoutSeconds !== undefined && opts.timeoutSeconds > 0 ? { timeoutMs: opts.timeoutSeconds * 1000 } : {}),
    onProgress: (p) => process.stdout.write(line(opts.name, p)),
  });
  if (r.timedOut === true) {
    process.stderr.write(`berth status: ${opts.name} did not finish within ${opts.timeoutSeconds}s (still ${r.phase}: ${r.message})\n`);
    return 1;
  }
  return r.phase === 'Complete' ? 0 : 1;
}
