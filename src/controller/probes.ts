// The Stack's HTTP probes, run against every running container of the probed service at its
// address on the project's network. berth reaches that address from the host (or from a
// container attached to the network); the result is only a finding for the health gate.
import type { ProbeSpec } from '../api/types.js';
import type { ContainerDetails } from '../docker/inspect.js';
import { httpProbe } from '../docker/probe.js';
import type { ObservedContainer, ProbeResult } from '../plan/types.js';

/** Compose's default network first: that is where the project's own services talk. */
function addressOf(project: string, details: ContainerDetails | undefined): string | undefined {
  if (details === undefined) return undefined;
  return details.addresses[`${project}_default`] ?? Object.values(details.addresses)[0];
}

export async function runProbes(
  probes: readonly ProbeSpec[],
  project: string,
  containers: readonly ObservedContainer[],
  details: ReadonlyMap<string, ContainerDetails>,
): Promise<ProbeResult[]> {
  const jobs: Array<Promise<ProbeResult>> = [];
  for (const probe of probes) {
    const path = probe.path ?? '/';
    for (const c of containers.filter((x) => x.service === probe.service && x.state === 'running')) {
      const address = addressOf(project, details.get(c.id));
      const base = { service: probe.service, container: c.name };
      if (address === undefined) {
        const url = `http://?:${probe.port}${path}`;
        jobs.push(Promise.resolve({ ...base, url, ok: false, error: 'the container has no IP address on any network' }));
        continue;
      }
      jobs.push(
        httpProbe(address, {
          port: probe.port,
          path,
          expectStatus: probe.expectStatus ?? 200,
          timeoutMs: (probe.timeoutSeconds ?? 2) * 1000,
        }).then((o) => ({ ...base, ...o })),
      );
    }
  }
  return Promise.all(jobs);
}
