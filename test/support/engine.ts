// Shared helpers for integration tests that need a real Docker engine, the compose v2
// plugin and a local registry. Integration tests call `requireEngine()` in a `before`
// hook so that they FAIL (never skip) when the environment is missing.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import Docker from 'dockerode';

const execFileAsync = promisify(execFile);

/** host:port of the registry test images are pushed to. */
export const REGISTRY: string = process.env.BERTH_TEST_REGISTRY ?? '127.0.0.1:5000';

const HOW_TO_GET_IT =
  'To get it: run `bash scripts/setup-engine.sh` as root (installs docker.io, docker-registry, ' +
  'busybox-static and the compose v2 plugin from Debian packages, starts dockerd and a registry ' +
  'on 127.0.0.1:5000).';

const CHECK_TIMEOUT_MS = 10_000;

let client: Docker | undefined;

/** A shared dockerode client; `new Docker()` honours DOCKER_HOST and friends. */
export function docker(): Docker {
  client ??= new Docker();
  return client;
}

/** Message of an unknown thrown value, plus stderr when it is an execFile error. */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const stderr = (err as { stderr?: unknown }).stderr;
    const extra =
      typeof stderr === 'string' && stderr.trim() !== '' && !err.message.includes(stderr.trim())
        ? `\n${stderr.trim()}`
        : '';
    // fetch() and friends hide the useful part (e.g. ECONNREFUSED) in `cause`.
    const cause = err.cause instanceof Error && !err.message.includes(err.cause.message) ? ` (${err.cause.message})` : '';
    return `${err.message}${cause}${extra}`;
  }
  return String(err);
}

/** HTTP status code carried by a dockerode error, if any. */
export function statusCodeOf(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null && 'statusCode' in err) {
    const code = (err as { statusCode: unknown }).statusCode;
    return typeof code === 'number' ? code : undefined;
  }
  return undefined;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function missing(what: string, err: unknown): Error {
  return new Error(`${what}: ${describeError(err)}\n${HOW_TO_GET_IT}`, { cause: err });
}

async function checkEngine(): Promise<void> {
  const where = process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock';
  try {
    await withTimeout(Promise.resolve(docker().ping()), CHECK_TIMEOUT_MS, 'the Docker engine');
  } catch (err) {
    throw missing(`No Docker engine answers at ${where}`, err);
  }
}

async function checkCompose(): Promise<void> {
  try {
    await execFileAsync('docker', ['compose', 'version'], { timeout: CHECK_TIMEOUT_MS });
  } catch (err) {
    throw missing('`docker compose version` failed, so the Docker CLI or its compose v2 plugin is missing', err);
  }
}

async function checkRegistry(): Promise<void> {
  const url = `http://${REGISTRY}/v2/`;
  let status: number;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(CHECK_TIMEOUT_MS) });
    status = res.status;
    await res.body?.cancel();
  } catch (err) {
    throw missing(`No registry answers GET ${url} (BERTH_TEST_REGISTRY=${REGISTRY})`, err);
  }
  if (status !== 200) {
    throw missing(
      `The registry at ${REGISTRY} is not open`,
      new Error(`GET ${url} returned HTTP ${status}, expected 200 (no authentication)`),
    );
  }
}

let ready: Promise<void> | undefined;

/**
 * Resolves once the Docker engine, `docker compose` and the test registry all answer;
 * throws an Error saying what is missing and how to get it otherwise. A success is cached
 * for the whole process; a failure is not, so a later call checks again.
 */
export async function requireEngine(): Promise<void> {
  ready ??= Promise.all([checkEngine(), checkCompose(), checkRegistry()]).then(
    () => undefined,
    (err: unknown) => {
      ready = undefined;
      throw err;
    },
  );
  return ready;
}

/**
 * A fresh name safe as a DNS label, compose project, container or repository name:
 * `${prefix}-${6 random hex}`, lowercase, at most 40 characters.
 */
export function uniqueName(prefix: string): string {
  const suffix = randomBytes(3).toString('hex');
  const clean =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/-+/g, '-')
      .slice(0, 40 - suffix.length - 1)
      .replace(/^-+|-+$/g, '') || 'berth';
  return `${clean}-${suffix}`;
}

async function ignoreNotFound(op: Promise<unknown>): Promise<void> {
  try {
    await op;
  } catch (err) {
    if (statusCodeOf(err) !== 404) throw err;
  }
}

/**
 * Force-removes every container (in any state) labelled com.docker.compose.project=<project>,
 * with its anonymous volumes, then the networks and volumes carrying that label. Anything
 * that disappears meanwhile is ignored.
 */
export async function removeProject(project: string): Promise<void> {
  const d = docker();
  const filters = { label: [`com.docker.compose.project=${project}`] };

  // A container already being removed answers 409; give it a moment and look again.
  for (let attempt = 1; ; attempt++) {
    const containers = await d.listContainers({ all: true, filters });
    if (containers.length === 0) break;
    // One at a time: engine 20.10 can leave stale network endpoints behind when many
    // containers of one network are force-removed at once, and the network then cannot go.
    const results: PromiseSettledResult<void>[] = [];
    for (const c of containers) {
      results.push(
        await ignoreNotFound(d.getContainer(c.Id).remove({ force: true, v: true })).then(
          (value) => ({ status: 'fulfilled' as const, value }),
          (reason: unknown) => ({ status: 'rejected' as const, reason }),
        ),
      );
    }
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure !== undefined && statusCodeOf(failure.reason) !== 409) {
      throw new Error(`removing containers of project ${project}: ${describeError(failure.reason)}`, {
        cause: failure.reason,
      });
    }
    if (attempt >= 10) {
      const why = failure !== undefined ? describeError(failure.reason) : 'they keep reappearing';
      throw new Error(`could not remove the containers of project ${project}: ${why}`);
    }
    if (failure !== undefined) await new Promise((resolve) => setTimeout(resolve, 500));
  }

  // The engine releases a removed container's network endpoint a moment later.
  const networks = await d.listNetworks({ filters });
  for (const n of networks) {
    for (let attempt = 1; ; attempt++) {
      try {
        await ignoreNotFound(d.getNetwork(n.Id).remove());
        break;
      } catch (err) {
        if (statusCodeOf(err) !== 403 || attempt >= 20) throw err;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }

  const volumes = (await d.listVolumes({ filters })).Volumes ?? [];
  for (const v of volumes) await ignoreNotFound(d.getVolume(v.Name).remove({ force: true }));
}
