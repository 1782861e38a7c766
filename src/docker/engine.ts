// The one door to the Docker engine. It negotiates the API version (the engine's own,
// capped at the newest this code knows) instead of pinning an old one, bounds every call
// with a timeout, and counts calls so benchmarks can report them.
import Docker from 'dockerode';
import type { Readable } from 'node:stream';

/** Newest engine API version berth has been written against. */
const CLIENT_MAX_API = '1.47';

/** One line of the engine's pull progress stream (per layer: Downloading, Extracting, Pull complete, ...). */
export interface PullEvent {
  status?: string;
  /** The layer the line is about. */
  id?: string;
  progressDetail?: { current?: number; total?: number };
}

export class EngineError extends Error {
  readonly operation: string;
  constructor(operation: string, cause: unknown, hint: string) {
    const msg = cause instanceof Error ? cause.message : String(cause);
    super(`Docker engine: ${operation} failed: ${msg}; ${hint}`, { cause });
    this.name = 'EngineError';
    this.operation = operation;
  }
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export interface EngineOptions {
  /** Passed to dockerode; by default it honours DOCKER_HOST and falls back to /var/run/docker.sock. */
  docker?: Docker.DockerOptions;
  /** Timeout of ordinary (non-streaming) calls. */
  callTimeoutMs?: number;
}

export type ImageSummary = Docker.ImageInfo;
export type ContainerSummary = Docker.ContainerInfo;

export class Engine {
  readonly docker: Docker;
  readonly apiVersion: string;
  readonly engineVersion: string;
  private readonly callTimeoutMs: number;
  /** Engine API calls made so far (benchmarks read this). */
  calls = 0;

  private constructor(docker: Docker, apiVersion: string, engineVersion: string, callTimeoutMs: number) {
    this.docker = docker;
    this.apiVersion = apiVersion;
    this.engineVersion = engineVersion;
    this.callTimeoutMs = callTimeoutMs;
  }

  static async connect(opts: EngineOptions = {}): Promise<Engine> {
    const callTimeoutMs = opts.callTimeoutMs ?? 30_000;
    const probe = new Docker(opts.docker);
    let info: Docker.DockerVersion;
    try {
      // Unversioned: the engine answers at its own version, which is what we negotiate from.
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${callTimeoutMs} ms`)), callTimeoutMs);
      });
      try {
        info = await Promise.race([probe.version(), timeout]);
      } finally {
        clearTimeout(timer);
      }
    } catch (err) {
      throw new EngineError(
        'connecting',
        err,
        'start the Docker engine (dockerd) or point DOCKER_HOST at one; on Debian: apt-get install docker.io && dockerd &',
      );
    }
    const engineApi = info.ApiVersion;
    const api = compareVersions(engineApi, CLIENT_MAX_API) < 0 ? engineApi : CLIENT_MAX_API;
    const docker = new Docker({ ...opts.docker, version: `v${api}` });
    return new Engine(docker, api, info.Version, callTimeoutMs);
  }

  private async call<T>(operation: string, hint: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    this.calls++;
    const limit = deadline(this.callTimeoutMs);
    try {
      return await fn(limit.signal);
    } catch (err) {
      throw new EngineError(operation, err, hint);
    } finally {
      limit.clear();
    }
  }

  listContainers(filters: Record<string, string[]>): Promise<ContainerSummary[]> {
    return this.call('listing containers', 'check that dockerd is running', (abortSignal) =>
      this.docker.listContainers({ all: true, filters, abortSignal } as Docker.ContainerListOptions),
    );
  }

  /** One container's full record; a vanished container fails with a 404 in the error's cause. */
  inspectContainer(id: string): Promise<Docker.ContainerInspectInfo> {
    return this.call(
      `inspecting container ${id}`,
      'check that dockerd is running and that the container still exists (`docker ps -a`)',
      // dockerode pastes the id into the URL path as is; encoded, an odd id cannot reach another endpoint.
      (abortSignal) => this.docker.getContainer(encodeURIComponent(id)).inspect({ abortSignal }),
    );
  }

  /** Whether the engine answers at all: tells "compose failed" from "the engine went away under it". */
  async ping(): Promise<void> {
    // The typings omit ping's options, which dockerode does take (it passes abortSignal on).
    const ping = this.docker.ping.bind(this.docker) as unknown as (opts: { abortSignal: AbortSignal }) => Promise<unknown>;
    await this.call('pinging', 'check that dockerd is running', (abortSignal) => ping({ abortSignal }));
  }

  listImages(): Promise<ImageSummary[]> {
    return this.call('listing images', 'check that dockerd is running', (abortSignal) =>
      this.docker.listImages({ abortSignal } as Docker.ListImagesOptions),
    );
  }

  /** Pulls one image and waits for the engine to finish; `timeoutMs` bounds the whole transfer. */
  async pull(ref: string, timeoutMs: number, onProgress?: (event: PullEvent) => void): Promise<void> {
    this.calls++;
    const limit = deadline(timeoutMs);
    const abortSignal = limit.signal;
    let onAbort: (() => void) | undefined;
    try {
      const stream = (await this.docker.pull(ref, { abortSignal })) as Readable;
      await new Promise<void>((resolve, reject) => {
        this.docker.modem.followProgress(
          stream,
          (err: Error | null, output: Array<{ error?: string; errorDetail?: { message?: string } }>) => {
            if (err) return reject(err);
            // The engine reports a failed pull inside the stream, with HTTP 200.
            const failed = output.find((e) => e.error !== undefined || e.errorDetail !== undefined);
            if (failed) return reject(new Error(failed.errorDetail?.message ?? failed.error ?? 'unknown error'));
            resolve();
          },
          onProgress,
        );
        onAbort = () => {
          stream.destroy();
          reject(new Error(`timed out after ${timeoutMs} ms`));
        };
        abortSignal.addEventListener('abort', onAbort, { once: true });
      });
    } catch (err) {
      throw new EngineError(
        `pulling ${ref}`,
        err,
        'check that the image and digest exist in the registry and that this host can reach it and is logged in',
      );
    } finally {
      // Left on, the listener would keep the finished stream alive until the deadline.
      if (onAbort !== undefined) abortSignal.removeEventListener('abort', onAbort);
      limit.clear();
    }
  }

  /** A stream of engine events matching `filters`; the caller reconnects when it ends. */
  async events(filters: Record<string, string[]>, signal: AbortSignal): Promise<Readable> {
    this.calls++;
    try {
      return (await this.docker.getEvents({ filters, abortSignal: signal } as object)) as Readable;
    } catch (err) {
      throw new EngineError('watching events', err, 'check that dockerd is running');
    }
  }
}

/**
 * An abort signal that fires after `ms`, with a timer cleared when the work ends. An
 * `AbortSignal.timeout` keeps its timer (and what the signal holds) alive until it fires:
 * with pulls bounded at minutes, a busy berth carried hundreds of spent timers (the soak
 * bench's heap diff).
 */
function deadline(ms: number): { signal: AbortSignal; clear(): void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException(`timed out after ${ms} ms`, 'TimeoutError')), ms);
  timer.unref();
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}
