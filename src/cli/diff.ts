// `berth diff NAME` (what applying the stack's next revision would recreate, before it does)
// and `berth render NAME` (the compose file that revision is): both from
// src/controller/diff.ts, so they can never disagree with each other or with the reconciler.
import { diffStack, nextRevision } from '../controller/diff.js';
import { ComposeCli } from '../docker/compose.js';
import { changed, unified } from '../plan/text-diff.js';
import { Engine } from '../docker/engine.js';
import { StateStore } from '../store/state.js';
import type { Dir } from './dirs.js';
import { printStructured, type OutputFormat } from './output.js';
import { table } from './table.js';

export const DIFF_HELP = `What berth's next revision of the stack would do to each service, compared with what
runs (compose's config hash): create, recreate, keep, or remove (as an orphan). Run it before
handing a running install to berth. Changes nothing. --manifests finds a stack berth has not
run yet. For a stack that follows a channel, the next revision is the release berth would
apply next among those it accepted at its last check-in (the feed is not asked; a release
waiting for approval is shown with why it waits). Then the compose file that runs against
the one berth would run, as a unified diff (values of credential-named keys, such as
POSTGRES_PASSWORD, shown as ***). Exit 0 when nothing would be recreated or removed, 1
otherwise.`;

export async function diffCommand(opts: { name: string; state: Dir; manifests: Dir; output: OutputFormat }): Promise<number> {
  const diff = await diffStack(opts.name, {
    state: new StateStore(opts.state.path),
    engine: await Engine.connect(),
    compose: await ComposeCli.detect(),
    manifestsDir: opts.manifests.path,
  });
  const disruptive = diff.services.some((s) => s.change === 'recreate' || s.change === 'remove');
  const compose = { from: diff.compose.from, to: diff.compose.to, changed: changed(diff.compose.lines), unified: unified(diff.compose.lines, diff.compose.from, diff.compose.to) };
  if (!printStructured(opts.output, { ...diff, compose })) {
    const what = diff.next !== undefined ? `revision ${diff.next} (not applied yet)` : `revision ${diff.applied} (applied; no new revision is due)`;
    process.stdout.write(`stack ${diff.stack}, project ${diff.project}, version ${diff.version}: ${what}\n`);
    if (diff.waiting !== undefined && diff.next !== undefined) process.stdout.write(`waiting: ${diff.waiting}\n`);
    process.stdout.write(table([['SERVICE', 'CHANGE', 'CONTAINERS'], ...diff.services.map((s) => [s.service, s.change, s.containers.join(', ') || '-'])]));
    process.stdout.write(compose.changed ? `\n${compose.unified}` : `\ncompose file: no change (${compose.to})\n`);
  }
  return disruptive ? 1 : 0;
}

export const RENDER_HELP = `Print the compose file berth would run for the stack: images pinned by digest, berth's
labels, as its next revision (or the applied one, when no new revision is due). The same
file berth diff compares with what runs. Changes nothing. It may hold the stack's secrets
(environment values), as docker compose config does.`;

export async function renderCommand(opts: { name: string; state: Dir; manifests: Dir }): Promise<number> {
  const rev = await nextRevision(opts.name, {
    state: new StateStore(opts.state.path),
    // What runs decides which services an adopted install keeps unlabelled.
    engine: await Engine.connect(),
    compose: await ComposeCli.detect(),
    manifestsDir: opts.manifests.path,
  });
  process.stdout.write(rev.composeText);
  const which = rev.next !== undefined ? `revision ${rev.next}, not applied yet` : `revision ${rev.applied}, applied`;
  process.stderr.write(`# ${rev.stack}: ${which}; project ${rev.project}, directory ${rev.projectDirectory}\n`);
  return 0;
}
