// What runs: the containers of one compose project, found by compose's own labels. A fixed
// number of engine calls per pass (five), however many services the project has: the list
// API answers health through filters, so no container needs inspecting one by one.
import { LABEL_INSTANCE } from '../api/labels.js';
import type { Health } from '../api/types.js';
import { LABEL_CONFIG_HASH, LABEL_ONEOFF, LABEL_PROJECT, LABEL_REVISION, LABEL_SERVICE, type Observed } from '../plan/types.js';
import type { Engine } from './engine.js';

const HEALTH_STATES: Exclude<Health, 'none'>[] = ['healthy', 'unhealthy', 'starting'];

/**
 * The exit code in the list API's status text ("Exited (0) 3 minutes ago"): how a finished
 * job is told from a failed one without inspecting each container.
 */
export function exitCodeFromStatus(state: string, status: string | undefined): number | undefined {
  if (state !== 'exited' || status === undefined) return undefined;
  const m = /^Exited \((-?[0-9]+)\)/.exec(status);
  return m === null ? undefined : Number(m[1]);
}

export async function observeProject(engine: Engine, project: string): Promise<Observed> {
  const label = [`${LABEL_PROJECT}=${project}`];
  const [all, images, ...byHealth] = await Promise.all([
    engine.listContainers({ label }),
    engine.listImages(),
    ...HEALTH_STATES.map((h) => engine.listContainers({ label, health: [h] })),
  ]);
  const health = new Map<string, Health>();
  HEALTH_STATES.forEach((h, i) => {
    for (const c of byHealth[i] ?? []) health.set(c.Id, h);
  });
  const digestsById = new Map(images.map((img) => [img.Id, img.RepoDigests ?? []]));
  const containers = all
    // `compose run` leaves one-off containers labelled with the project; they are not the service.
    .filter((c) => c.Labels[LABEL_ONEOFF] !== 'True' && c.Labels[LABEL_SERVICE] !== undefined)
    .map((c) => {
      const revisionLabel = c.Labels[LABEL_REVISION];
      const revision = revisionLabel !== undefined && /^[0-9]+$/.test(revisionLabel) ? Number(revisionLabel) : undefined;
      const configHash = c.Labels[LABEL_CONFIG_HASH];
      const instance = c.Labels[LABEL_INSTANCE];
      const exitCode = exitCodeFromStatus(c.State, c.Status);
      return {
        id: c.Id,
        name: (c.Names[0] ?? c.Id).replace(/^\//, ''),
        service: c.Labels[LABEL_SERVICE]!,
        state: c.State,
        health: health.get(c.Id) ?? 'none',
        imageId: c.ImageID,
        imageDigests: digestsById.get(c.ImageID) ?? [],
        ...(typeof c.Created === 'number' ? { created: c.Created * 1000 } : {}),
        ...(revision !== undefined ? { revision } : {}),
        ...(configHash !== undefined ? { configHash } : {}),
        ...(exitCode !== undefined ? { exitCode } : {}),
        ...(instance !== undefined && instance !== '' ? { instance } : {}),
      };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { project, containers };
}
