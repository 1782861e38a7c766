// What compose runs of each service, read from the compose model's services: how many
// containers it keeps, whether the service is a one-shot job, and whether its profiles are
// active. The one place berth derives this, so the planner (drift, health gate, status)
// judges services the way `docker compose up` runs them. Pure: it is fed the model
// `docker compose --profile '*' config` resolves (every profile's services), and the profiles
// compose enables for the stack select the active ones here.

export interface ServiceExpectation {
  /** Containers compose keeps for the service when it is active (`scale`, else `deploy.replicas`, else 1). */
  replicas: number;
  /**
   * A one-shot job: compose leaves its container stopped once it exits 0, so an exit 0 is
   * "done". A service is a job when its restart policy lets it stay exited and either it says
   * so (`restart: "no"`, `deploy.restart_policy.condition: none`) or another service waits for
   * it to finish (`depends_on: {<it>: {condition: service_completed_successfully}}`). A service
   * with no restart policy that nothing awaits is taken for a long-running one, as before.
   */
  isJob: boolean;
  /** The service's `profiles`; none means it always runs. */
  profiles: string[];
  /** No profile, or one of them is active: compose runs it. Otherwise nothing of it is expected. */
  active: boolean;
}

type ServiceDefs = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

function record(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** A count as compose writes it: a number, or a numeric string in a hand-written file. */
function count(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  if (typeof value === 'string' && /^[0-9]+$/.test(value.trim())) return Number(value.trim());
  return undefined;
}

function profilesOf(def: Readonly<Record<string, unknown>>): string[] {
  const p = def['profiles'];
  return Array.isArray(p) ? p.map(String) : [];
}

/** Services some other service waits on until they exit 0. */
function awaitedToComplete(services: ServiceDefs): Set<string> {
  const out = new Set<string>();
  for (const def of Object.values(services)) {
    const deps = record(def['depends_on']);
    if (deps === undefined) continue; // the list form has no conditions
    for (const [dep, how] of Object.entries(deps)) {
      if (record(how)?.['condition'] === 'service_completed_successfully') out.add(dep);
    }
  }
  return out;
}

function restartOf(def: Readonly<Record<string, unknown>>): { mayStayExited: boolean; saysNo: boolean } {
  const restart = def['restart'];
  const policy = record(record(def['deploy'])?.['restart_policy'])?.['condition'];
  const r = typeof restart === 'string' ? restart : undefined;
  const c = typeof policy === 'string' ? policy : undefined;
  // `restart` wins over deploy's policy when both are set, as in compose.
  const restarts = r !== undefined ? r === 'always' || r === 'unless-stopped' : c === 'any';
  return { mayStayExited: !restarts, saysNo: r === 'no' || (r === undefined && c === 'none') };
}

/**
 * Per service of the model: replicas, job or not, profiles and whether one is active.
 * `activeProfiles` are the profiles the stack enables (compose's `--profile`); `*` enables all.
 */
export function serviceExpectations(services: ServiceDefs, activeProfiles: readonly string[] = []): Record<string, ServiceExpectation> {
  const awaited = awaitedToComplete(services);
  const all = activeProfiles.includes('*');
  const out: Record<string, ServiceExpectation> = {};
  for (const [name, def] of Object.entries(services)) {
    const profiles = profilesOf(def);
    const { mayStayExited, saysNo } = restartOf(def);
    out[name] = {
      replicas: count(def['scale']) ?? count(record(def['deploy'])?.['replicas']) ?? 1,
      isJob: mayStayExited && (saysNo || awaited.has(name)),
      profiles,
      active: profiles.length === 0 || all || profiles.some((p) => activeProfiles.includes(p)),
    };
  }
  return out;
}
