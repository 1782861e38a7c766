// `berth diff NAME`: what applying the stack's next revision would recreate, before it does.
import { parseArgs } from 'node:util';
import { diffStack } from '../controller/diff.js';
import { ComposeCli } from '../docker/compose.js';
import { Engine } from '../docker/engine.js';
import { StateStore } from '../store/state.js';
import { table } from './table.js';

export const DIFF_USAGE = `  berth diff NAME [--manifests DIR] [--state DIR] [-o json]
      What berth's next revision of the stack would do to each service, compared with what
      runs (compose's config hash): create, recreate, keep, or remove (as an orphan). Run it
      before handing a running install to berth. Changes nothing. --manifests finds a stack
      berth has not run yet. For a stack that follows a channel, the next revision is the
      release berth would apply next among those it accepted at its last check-in (the feed
      is not asked; a release waiting for approval is shown with why it waits).
      Exit 0 when nothing would be recreated or removed, 1 otherwise.
`;

export async function diffCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      manifests: { type: 'string' },
      state: { type: 'string', default: '.berth/state' },
      output: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`Usage:\n${DIFF_USAGE}`);
    return 0;
  }
  const name = positionals[0];
  if (name === undefined) {
    process.stderr.write(`berth diff: name the stack, e.g. berth diff shop\n\nUsage:\n${DIFF_USAGE}`);
    return 2;
  }
  if (values.output !== undefined && values.output !== 'json') {
    process.stderr.write(`berth diff: -o takes json, not "${values.output}"\n`);
    return 2;
  }
  const diff = await diffStack(name, {
    state: new StateStore(values.state),
    engine: await Engine.connect(),
    compose: await ComposeCli.detect(),
    ...(values.manifests !== undefined ? { manifestsDir: values.manifests } : {}),
  });
  const disruptive = diff.services.some((s) => s.change === 'recreate' || s.change === 'remove');
  if (values.output === 'json') {
    process.stdout.write(`${JSON.stringify(diff, null, 2)}\n`);
  } else {
    const what = diff.next !== undefined ? `revision ${diff.next} (not applied yet)` : `revision ${diff.applied} (applied; no new revision is due)`;
    process.stdout.write(`stack ${diff.stack}, project ${diff.project}, version ${diff.version}: ${what}\n`);
    if (diff.waiting !== undefined && diff.next !== undefined) process.stdout.write(`waiting: ${diff.waiting}\n`);
    process.stdout.write(table([['SERVICE', 'CHANGE', 'CONTAINERS'], ...diff.services.map((s) => [s.service, s.change, s.containers.join(', ') || '-'])]));
  }
  return disruptive ? 1 : 0;
}
