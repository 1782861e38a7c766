// The one door to the Docker engine. It negotiates the API version (the engine's own,
// capped at the newest this code knows) instead of pinning an old one, bounds every call
// with a timeout, and counts calls so benchmarks can report them. It speaks HTTP itself
// (engine-http.ts); dockerode's types still describe the engine's answers.
import type Docker from 'dockerode';
import type { Readable } from 'node:stream';
import { addressFromEnv, EngineHttp, pullParams, type EngineAddress } from './engine-http.js';

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
  /** Where the engine listens; by default DOCKER_HOST (and DOCKER_TLS_VERIFY, DOCKER_CERT_PATH), else /var/run/docker.sock. */
  docker?: EngineAddress;
  /** Timeout of ordinary (non-streaming) calls. */
  callTimeoutMs?: number;
}

export type ImageSummary = Docker.ImageInfo;

/** The kinds of engine call berth makes, as counted in Engine.callsByKind. */
export type EngineCallKind = 'list_containers' | 'inspect_container' | 'ping' | 'list_images' | 'pull' | 'events';

/** Every image pull so far, whoever asked (an update or a pre-download). */
export interface PullStats {
  succeeded: number;
  failed: number;
  /** Layer bytes the engine reported downloading (layers it already held cost nothing). */
  bytes: number;
  seconds: number;
}
export type ContainerSummary = Docker.ContainerInfo;

export class Engine {
  /** The engine's HTTP API at the negotiated version. */
  readonly http: EngineHttp;
  readonly apiVersion: string;
  readonly engineVersion: string;
  private readonly callTimeoutMs: number;
  /** Engine API calls made so far (benchmarks read this): the sum of callsByKind, kept once. */
  get calls(): number {
    let n = 0;
    for (const c of this.callsByKind.values()) n += c;
    return n;
  }
  /** The same, by kind: read when /metrics is scraped, so the engine knows nothing of Prometheus. */
  readonly callsByKind = new Map<EngineCallKind, number>();
  readonly pullStats: PullStats = { succeeded: 0, failed: 0, bytes: 0, seconds: 0 };

  private constructor(http: EngineHttp, apiVersion: string, engineVersion: string, callTimeoutMs: number) {
    this.http = http;
    this.apiVersion = apiVersion;
    this.engineVersion = engineVersion;
    this.callTimeoutMs = callTimeoutMs;
  }

  static async connect(opts: EngineOptions = {}): Promise<Engine> {
    const callTimeoutMs = opts.callTimeoutMs ?? 30_000;
    // Outside the try: a DOCKER_HOST berth cannot use says so itself, not "start the engine".
    const probe = new EngineHttp(opts.docker ?? addressFromEnv());
    let info: Docker.DockerVersion;
    try {
      // Unversioned: the engine answers at its own version, which is what we negotiate from.
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${callTimeoutMs} ms`)), callTimeoutMs);
      });
      try {
        info = await Promise.race([probe.json<Docker.DockerVersion>('/version'), timeout]);
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
    return new Engine(probe.at(api), api, info.Version, callTimeoutMs);
  }

  private count(kind: EngineCallKind): void {
    this.callsByKind.set(kind, (this.callsByKind.get(kind) ?? 0) + 1);
  }

  private async call<T>(kind: EngineCallKind, operation: string, hint: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    this.count(kind);
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
    return this.call('list_containers', 'listing containers', 'check that dockerd is running', (abortSignal) =>
      this.http.json<ContainerSummary[]>('/containers/json', { query: { all: true, filters }, signal: abortSignal }),
    );
  }

  /** One container's full record; a vanished container fails with a 404 in the error's cause. */
  inspectContainer(id: string): Promise<Docker.ContainerInspectInfo> {
    return this.call(
      'inspect_container',
      `inspecting container ${id}`,
      'check that dockerd is running and that the container still exists (`docker ps -a`)',
      // Encoded, an odd id cannot reach another endpoint.
      (abortSignal) => this.http.json<Docker.ContainerInspectInfo>(`/containers/${encodeURIComponent(id)}/json`, { signal: abortSignal }),
    );
  }

  /** Whether the engine answers at all: tells "compose failed" from "the engine went away under it". */
  async ping(): Promise<void> {
    await this.call('ping', 'pinging', 'check that dockerd is running', (abortSignal) => this.http.text('/_ping', { signal: abortSignal }));
  }

  listImages(): Promise<ImageSummary[]> {
    return this.call('list_images', 'listing images', 'check that dockerd is running', (abortSignal) =>
      this.http.json<ImageSummary[]>('/images/json', { signal: abortSignal }),
    );
  }

  /** Pulls one image and waits for the engine to finish; `timeoutMs` bounds the whole transfer. */
  async pull(ref: string, timeoutMs: number, onProgress?: (event: PullEvent) => void): Promise<void> {
    this.count('pull');
    const started = performance.now();
    const layers = new LayerBytes();
    let ok = false;
    const limit = deadline(timeoutMs);
    try {
      const stream = await this.http.stream('/images/create', { method: 'POST', query: pullParams(ref), signal: limit.signal });
      // One JSON object per line; the engine reports a failed pull inside the stream, with HTTP 200.
      let buffer = '';
      let failed: string | undefined;
      const line = (text: string) => {
        if (text.trim() === '') return;
        let event: PullEvent & { error?: string; errorDetail?: { message?: string } };
        try {
          event = JSON.parse(text) as typeof event;
        } catch {
          return;
        }
        if (event.error !== undefined || event.errorDetail !== undefined) failed ??= event.errorDetail?.message ?? event.error ?? 'unknown error';
        layers.note(event);
        onProgress?.(event);
      };
      for await (const chunk of stream) {
        buffer += (chunk as Buffer).toString('utf8');
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          line(buffer.slice(0, nl));
          buffer = buffer.slice(nl + 1);
        }
      }
      line(buffer);
      if (failed !== undefined) throw new Error(failed);
      ok = true;
    } catch (err) {
      throw new EngineError(
        `pulling ${ref}`,
        limit.signal.aborted ? new Error(`timed out after ${timeoutMs} ms`, { cause: err }) : err,
        'check that the image and digest exist in the registry and that this host can reach it and is logged in',
      );
    } finally {
      limit.clear();
      this.pullStats[ok ? 'succeeded' : 'failed']++;
      this.pullStats.bytes += layers.total();
      this.pullStats.seconds += (performance.now() - started) / 1000;
    }
  }

  /** A stream of engine events matching `filters`; the caller reconnects when it ends. */
  async events(filters: Record<string, string[]>, signal: AbortSignal): Promise<Readable> {
    this.count('events');
    try {
      return await this.http.stream('/events', { query: { filters }, signal });
    } catch (err) {
      throw new EngineError('watching events', err, 'check that dockerd is running');
    }
  }
}

/**
 * Bytes a pull downloaded, from its progress stream: per layer the furthest "Downloading"
 * point, or the layer's size once it says "Download complete".
 */
class LayerBytes {
  private readonly layers = new Map<string, { current: number; size: number; done: boolean }>();

  note(e: PullEvent): void {
    if (e.id === undefined || e.status === undefined) return;
    const layer = this.layers.get(e.id) ?? { current: 0, size: 0, done: false };
    if (e.status.startsWith('Downloading')) {
      layer.current = Math.max(layer.current, e.progressDetail?.current ?? 0);
      layer.size = Math.max(layer.size, e.progressDetail?.total ?? 0);
    } else if (e.status.startsWith('Extracting')) {
      // Extraction reads the same compressed layer: its total is the size downloaded, and it
      // is often the only size a small layer reports (see total()).
      layer.size = Math.max(layer.size, e.progressDetail?.total ?? 0);
    } else if (e.status === 'Download complete') layer.done = true;
    else return;
    this.layers.set(e.id, layer);
  }

  total(): number {
    let sum = 0;
    for (const l of this.layers.values()) sum += l.done && l.size > 0 ? l.size : l.current;
    return sum;
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
