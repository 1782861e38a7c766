// Which berth manages a compose project. Pure.
//
// Two berths with their own state folders, pointed at one project, would each take the
// other's containers for drift and recreate them in turn. So every container berth creates
// carries its instance id (LABEL_INSTANCE), and a berth that finds another instance's stamp
// stands back. Containers with no stamp (a person's own, or made before berth stamped) are
// adopted as before; a stamp of another instance only by a person's deliberate annotation.
// A service adopted as it ran stays unstamped (its labels would change compose's config
// hash and recreate it, see adopt.ts) until berth creates a container of it: the stamp is
// on everything berth creates, not necessarily on everything it manages.
import { ADOPT_ANNOTATION, LABEL_INSTANCE } from '../api/labels.js';
import type { Observed } from './types.js';

export interface ManagedElsewhere {
  /** The other instances whose stamp is on the project's containers. */
  instances: string[];
  /** The containers that carry them. */
  containers: string[];
  message: string;
}

export interface OwnershipInput {
  observed: Observed;
  /** This berth's instance id; without it berth cannot tell, and acts as it did before stamping. */
  instance?: string;
  /** The Stack's berth.dev/adopt annotation: the instance it takes the project over from. */
  adopt?: string;
}

export function managedElsewhere(input: OwnershipInput): ManagedElsewhere | undefined {
  const self = input.instance;
  if (self === undefined) return undefined;
  const foreign = input.observed.containers.filter((c) => c.instance !== undefined && c.instance !== self && c.instance !== input.adopt);
  if (foreign.length === 0) return undefined;
  const instances = [...new Set(foreign.map((c) => c.instance!))].sort();
  const containers = foreign.map((c) => c.name);
  const project = input.observed.project;
  const adoptHint =
    instances.length === 1
      ? `set metadata.annotations["${ADOPT_ANNOTATION}"]: "${instances[0]}" in this manifest`
      : `set metadata.annotations["${ADOPT_ANNOTATION}"] to the instance to take over from (one at a time)`;
  const stale = input.adopt !== undefined ? ` (${ADOPT_ANNOTATION} names ${input.adopt}, which is not the one)` : '';
  return {
    instances,
    containers,
    message:
      `compose project ${project} is managed by another berth instance, ${instances.join(', ')} (label ${LABEL_INSTANCE} on ${containers.join(', ')}), ` +
      `which keeps its own state folder; this berth (instance ${self}) applies and repairs nothing there${stale}. ` +
      `To hand the project over to this berth, remove the stack from the other berth's manifests and ${adoptHint}`,
  };
}
