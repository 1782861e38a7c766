// V8 settings berth makes for itself, before anything else is loaded (main.ts imports this
// module first; ES modules run in import order). berth is a long-running process that sits
// idle almost all the time: memory matters more to it than peak speed.
//
// --optimize-for-size makes V8 choose the smaller of its options: a heap that grows more
// slowly and is shrunk sooner, and less memory for compiled code. Measured with `npm run
// bench` (idle: `berth run` with a converged 50-service stack, issue 10 item 6): about 10 MB
// less RSS for the same work. It is one of the V8 flags read while the program runs, so it
// takes effect when set here; flags read only when the heap is created
// (--max-semi-space-size, --max-old-space-size) would need them on node's command line and
// are not set. BERTH_V8_FLAGS="" turns this off; another value replaces it.
import { setFlagsFromString } from 'node:v8';

export const DEFAULT_V8_FLAGS = '--optimize-for-size';

/**
 * The flags berth sets for itself: BERTH_V8_FLAGS when given, else the default. A word that is
 * not a flag (no leading `--`) is left out and named in `warn`: V8 would ignore it without a
 * word. A flag V8 does not know, it reports itself on stderr ("unrecognized flag") and goes on.
 */
export function berthV8Flags(env: NodeJS.ProcessEnv = process.env, warn: (message: string) => void = () => {}): string[] {
  const given = env['BERTH_V8_FLAGS'];
  const words = (given ?? DEFAULT_V8_FLAGS).split(/\s+/).filter((f) => f !== '');
  const notFlags = words.filter((w) => !w.startsWith('--'));
  if (notFlags.length > 0) {
    warn(`berth: BERTH_V8_FLAGS: ${notFlags.map((w) => JSON.stringify(w)).join(', ')} ${notFlags.length === 1 ? 'is not a V8 flag' : 'are not V8 flags'} (flags start with --, e.g. BERTH_V8_FLAGS="--optimize-for-size"); ignored\n`);
  }
  return words.filter((w) => w.startsWith('--'));
}

for (const flag of berthV8Flags(process.env, (m) => process.stderr.write(m))) setFlagsFromString(flag);
