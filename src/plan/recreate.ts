// What `compose up` would do to each service, told before it runs (`berth diff`): compose
// recreates a container whose config-hash label differs from the hash of the service's
// definition it is given, creates what is missing and, with --remove-orphans, removes
// containers of services the file no longer has. Pure: the hashes come from
// `docker compose config --hash`, the containers from the engine.

export type ServiceChange = 'create' | 'recreate' | 'keep' | 'remove';

export interface ServiceDiff {
  service: string;
  change: ServiceChange;
  /** Names of the containers it concerns (none for create). */
  containers: string[];
}

export interface RunningContainer {
  service: string;
  name: string;
  /** compose's com.docker.compose.config-hash label; absent on containers compose did not make. */
  configHash?: string;
}

/** One row per service, wanted ones in name order first, then the ones to remove. */
export function recreatePlan(wanted: ReadonlyMap<string, string>, running: readonly RunningContainer[]): ServiceDiff[] {
  const byService = new Map<string, RunningContainer[]>();
  for (const c of running) byService.set(c.service, [...(byService.get(c.service) ?? []), c]);
  const rows: ServiceDiff[] = [];
  for (const service of [...wanted.keys()].sort()) {
    const cs = byService.get(service) ?? [];
    const names = cs.map((c) => c.name).sort();
    if (cs.length === 0) rows.push({ service, change: 'create', containers: [] });
    else rows.push({ service, change: cs.every((c) => c.configHash === wanted.get(service)) ? 'keep' : 'recreate', containers: names });
  }
  for (const service of [...byService.keys()].filter((s) => !wanted.has(s)).sort()) {
    rows.push({ service, change: 'remove', containers: (byService.get(service) ?? []).map((c) => c.name).sort() });
  }
  return rows;
}

/** `docker compose config --hash '*'` output: one `service hash` per line. */
export function parseServiceHashes(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const [service, hash] = line.trim().split(/\s+/);
    if (service && hash) out.set(service, hash);
  }
  return out;
}
