// What the list API leaves out: restarts, exit codes, addresses and the last health-check
// output, which the health gate needs to judge a new revision and to say why it failed.
// One inspect call per container, so it is asked only about the containers being judged.
import type Docker from 'dockerode';
import { EngineError, type Engine } from './engine.js';

export interface ContainerDetails {
  /** The engine's full id (the map is keyed by the id the caller asked about). */
  id: string;
  startedAt?: string;
  finishedAt?: string;
  restartCount: number;
  /** Set only while no process runs (exited, dead, restarting) and the container ran or failed to start. */
  exitCode?: number;
  oomKilled: boolean;
  /** 'no', 'always', 'unless-stopped' or 'on-failure' (its retry limit is not included). */
  restartPolicy: string;
  /** network name -> IPv4 address, for networks where the container has one */
  addresses: Record<string, string>;
  /** the engine's last health-check output, trimmed, when there is a healthcheck */
  lastHealthOutput?: string;
  failingStreak?: number;
}

const DEFAULT_CONCURRENCY = 4;

/** The engine writes Go's zero time for "never"; callers should see no time at all. */
function timeOrUndefined(value: string | undefined): string | undefined {
  if (value === undefined || value === '' || value.startsWith('0001-01-01T00:00:00')) return undefined;
  return value;
}

function details(info: Docker.ContainerInspectInfo): ContainerDetails {
  const { State: state } = info;
  const startedAt = timeOrUndefined(state.StartedAt);
  const finishedAt = timeOrUndefined(state.FinishedAt);
  // The engine resets ExitCode to 0 whenever a process starts, and reports a restarting
  // container as Running, so the code means something only in these states.
  const noProcess = !state.Running || state.Restarting;
  const hasExited = finishedAt !== undefined || state.ExitCode !== 0;
  const addresses: Record<string, string> = {};
  for (const [network, endpoint] of Object.entries(info.NetworkSettings?.Networks ?? {})) {
    if (endpoint?.IPAddress) addresses[network] = endpoint.IPAddress;
  }
  const health = state.Health;
  const lastLog = health?.Log?.at(-1);
  return {
    id: info.Id,
    ...(startedAt !== undefined ? { startedAt } : {}),
    ...(finishedAt !== undefined ? { finishedAt } : {}),
    restartCount: info.RestartCount ?? 0,
    ...(noProcess && hasExited ? { exitCode: state.ExitCode } : {}),
    oomKilled: state.OOMKilled === true,
    // A container created through the API without a policy reports an empty name.
    restartPolicy: info.HostConfig?.RestartPolicy?.Name || 'no',
    addresses,
    ...(lastLog !== undefined ? { lastHealthOutput: (lastLog.Output ?? '').trim() } : {}),
    ...(health !== undefined ? { failingStreak: health.FailingStreak ?? 0 } : {}),
  };
}

function isNotFound(err: unknown): boolean {
  if (!(err instanceof EngineError)) return false;
  const cause: unknown = err.cause;
  return typeof cause === 'object' && cause !== null && (cause as { statusCode?: unknown }).statusCode === 404;
}

/**
 * Inspects the containers a few at a time. One that vanished since it was listed is left
 * out of the map, as it no longer exists to be judged; any other failure is thrown (the
 * first one, once the calls in flight have finished, and no new call starts after it).
 */
export async function inspectContainers(
  engine: Engine,
  ids: readonly string[],
  concurrency: number = DEFAULT_CONCURRENCY,
): Promise<Map<string, ContainerDetails>> {
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`inspectContainers: concurrency must be a positive integer, got ${concurrency}`);
  }
  const queue = [...new Set(ids)];
  const found = new Map<string, ContainerDetails>();
  const errors: unknown[] = [];
  const worker = async () => {
    for (let id = queue.shift(); id !== undefined && errors.length === 0; id = queue.shift()) {
      try {
        found.set(id, details(await engine.inspectContainer(id)));
      } catch (err) {
        if (!isNotFound(err)) errors.push(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
  if (errors.length > 0) throw errors[0];
  // In the caller's order, so logs and plans built from it read the same way every time.
  const ordered = new Map<string, ContainerDetails>();
  for (const id of ids) {
    const d = found.get(id);
    if (d !== undefined) ordered.set(id, d);
  }
  return ordered;
}
