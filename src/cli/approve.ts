// `berth approve NAME [VERSION]`: the words around src/controller/actions.ts approveWaiting.
import { ActionError, approveWaiting } from '../controller/actions.js';
import { stateFlag, type Dir } from './dirs.js';

export const APPROVE_HELP = `Approve the version of the stack that waits for approval (notify mode, a major release
held by spec.policy.autoApply, or content that changed since it was approved): sets
spec.approve in its manifest, keeping every comment; berth then applies it. With VERSION,
refuses unless that is the version that waits. Refuses (exit 1) when nothing waits.`;

export async function approveCommand(opts: { name: string; version?: string; state: Dir; manifests: Dir }): Promise<number> {
  const flags = stateFlag(opts.state);
  try {
    const r = await approveWaiting({
      state: opts.state.path,
      manifestsDir: opts.manifests.path,
      name: opts.name,
      hintFlags: flags,
      ...(opts.version !== undefined ? { version: opts.version } : {}),
    });
    const what = `${r.waiting.version}${r.waiting.from === 'channel' ? ` (${r.waiting.change ?? 'new'} release from channel ${r.waiting.channel ?? '?'})` : ''}`;
    process.stdout.write(
      r.changed
        ? `${r.stack}: approved ${what}: spec.approve ${r.before !== undefined ? `${r.before} -> ` : 'set to '}${r.approve} in ${r.manifest}.\n`
        : `${r.stack}: ${r.manifest} already approves ${what} (spec.approve: ${r.approve}); berth applies it on its next pass.\n`,
    );
    if (r.gitCheckout !== undefined) {
      process.stdout.write(`Note: ${r.manifest} is in the git checkout ${r.gitCheckout}: commit the change there too, or the next sync may undo it.\n`);
    }
    process.stdout.write(`berth applies it on its next pass; follow with: berth status ${r.stack} --wait${flags}\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof ActionError)) throw err;
    process.stderr.write(`berth approve: ${err.message}\n`);
    return err.usage ? 2 : 1;
  }
}
