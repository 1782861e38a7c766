// The controller's half of adopting a running install (plan/adopt.ts): compose's config hash
// of each service of the target rendered without berth's labels. Asked only while no
// revision is applied and the project has containers berth did not stamp, and once per
// target: a stack waiting for approval over a hand-run install costs one compose call, not
// one per pass.
import type { Logger } from 'pino';
import type { ComposeCli } from '../docker/compose.js';
import { serviceConfigHashes, type HashInputs } from '../docker/config-hash.js';
import { stableHash } from '../plan/hash.js';
import { renderUnlabelled } from '../plan/render.js';
import type { Desired, Observed, Recorded, Target } from '../plan/types.js';

/** Whether a first revision could adopt anything: some container of the project carries no berth stamp. */
export function mayAdopt(desired: Desired, recorded: Recorded, observed: Observed): boolean {
  if (!desired.valid || recorded.applied !== undefined || desired.target.stack.spec.mode === 'disabled') return false;
  return observed.containers.some((c) => c.instance === undefined && c.revision === undefined);
}

/** The target rendered without berth's labels, as compose would be asked to hash it. */
function unlabelledInputs(target: Target): HashInputs {
  const rendered = renderUnlabelled(target);
  return { project: target.project, projectDirectory: target.projectDirectory, composeText: rendered.composeText, profiles: rendered.profiles };
}

/**
 * compose's config hash of each service of `target` rendered without berth's labels: what a
 * container started by hand from the same definition carries. `berth diff` asks it directly,
 * so a failure reaches the person; a pass asks it through AdoptableHashes.
 */
export async function unlabelledHashes(compose: Pick<ComposeCli, 'run'>, target: Target): Promise<Record<string, string>> {
  return hashesOf(compose, unlabelledInputs(target));
}

async function hashesOf(compose: Pick<ComposeCli, 'run'>, inputs: HashInputs): Promise<Record<string, string>> {
  return Object.fromEntries(await serviceConfigHashes(compose, inputs));
}

export class AdoptableHashes {
  private readonly cache = new Map<string, { key: string; hashes: Record<string, string> }>();

  constructor(
    private readonly compose: Pick<ComposeCli, 'run'>,
    private readonly log: Logger,
  ) {}

  /**
   * The hashes for `desired`'s target, or undefined when nothing can be adopted or compose
   * cannot tell (then every service is labelled, and recreated once, as before adoption was known).
   */
  async of(stack: string, desired: Desired, recorded: Recorded, observed: Observed): Promise<Record<string, string> | undefined> {
    if (!mayAdopt(desired, recorded, observed) || !desired.valid) {
      if (recorded.applied !== undefined) this.cache.delete(stack);
      return undefined;
    }
    const inputs = unlabelledInputs(desired.target);
    const key = stableHash(inputs);
    const hit = this.cache.get(stack);
    if (hit?.key === key) return hit.hashes;
    try {
      const hashes = await hashesOf(this.compose, inputs);
      this.cache.set(stack, { key, hashes });
      return hashes;
    } catch (err) {
      this.log.warn({ stack, err }, 'compose could not hash the services of the running install; adopting it recreates every service once');
      return undefined;
    }
  }
}
