// A berth operator running in-process against the real engine, compose and registry, in
// its own temp folders, with helpers to write manifests and wait for the status berth
// writes. Tests read the same status file a person would.
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { stringify } from 'yaml';
import type { StackStatus } from '../../src/api/types.js';
import { Operator, type OperatorOptions } from '../../src/controller/operator.js';
import { ComposeCli } from '../../src/docker/compose.js';
import { Engine } from '../../src/docker/engine.js';
import { StateStore, type StatusKey } from '../../src/store/state.js';
import { removeProject } from './engine.js';

export interface StackFields {
  name: string;
  /** Absent: the stack follows its channel. */
  version?: string;
  images?: Record<string, string>;
  mode?: 'auto' | 'notify' | 'disabled';
  approve?: string;
  composeFile?: string;
  /** spec.health; tests default to one second of stability, so they do not wait ten. */
  health?: Record<string, unknown>;
  rollback?: Record<string, unknown>;
  annotations?: Record<string, string>;
  /** spec.channel; tests check in every 2 s without jitter unless they say otherwise. */
  channel?: Record<string, unknown>;
  policy?: Record<string, unknown>;
}

export function stackManifest(f: StackFields): string {
  return stringify({
    apiVersion: 'berth.dev/v1alpha1',
    kind: 'Stack',
    metadata: { name: f.name, ...(f.annotations ? { annotations: f.annotations } : {}) },
    spec: {
      compose: { file: f.composeFile ?? `${f.name}/compose.yaml` },
      ...(f.version !== undefined ? { version: f.version } : {}),
      ...(f.images ? { images: f.images } : {}),
      ...(f.mode ? { mode: f.mode } : {}),
      ...(f.approve ? { approve: f.approve } : {}),
      resyncSeconds: 5,
      health: { stableForSeconds: 1, ...f.health },
      ...(f.rollback ? { rollback: f.rollback } : {}),
      ...(f.channel ? { channel: { intervalSeconds: 2, jitterSeconds: 0, ...f.channel } } : {}),
      ...(f.policy ? { policy: f.policy } : {}),
    },
  });
}

export class Harness {
  readonly projects = new Set<string>();
  operator: Operator | undefined;
  readonly state: StateStore;
  engine: Engine | undefined;
  compose: ComposeCli | undefined;

  private constructor(
    readonly root: string,
    readonly manifests: string,
    readonly log: Logger,
  ) {
    this.state = new StateStore(join(root, 'state'));
  }

  static async create(): Promise<Harness> {
    const root = await mkdtemp(join(tmpdir(), 'berth-it-'));
    const manifests = join(root, 'manifests');
    await mkdir(manifests, { recursive: true });
    // Logs go to a file beside the test's folders; BERTH_TEST_LOG=debug turns them up.
    const log = pino({ level: process.env['BERTH_TEST_LOG'] ?? 'info' }, pino.destination({ dest: join(root, 'berth.log'), sync: true }));
    return new Harness(root, manifests, log);
  }

  /** Writes the stack's compose file (under manifests/<name>/) and its manifest. */
  async writeStack(f: StackFields, compose?: string): Promise<string> {
    this.projects.add(f.name);
    if (compose !== undefined) {
      await mkdir(join(this.manifests, f.name), { recursive: true });
      await writeFile(join(this.manifests, f.name, 'compose.yaml'), compose);
    }
    return this.writeManifest(`${f.name}.yaml`, stackManifest(f));
  }

  async writeManifest(fileName: string, text: string): Promise<string> {
    const path = join(this.manifests, fileName);
    // Write-then-rename, as editors and git do, so the watcher never sees half a file.
    await writeFile(`${path}.tmp~`, text);
    await rename(`${path}.tmp~`, path);
    return path;
  }

  async start(overrides: Partial<OperatorOptions> = {}): Promise<Operator> {
    this.engine ??= await Engine.connect();
    this.compose ??= await ComposeCli.detect();
    this.operator = new Operator({
      manifestsDir: this.manifests,
      state: this.state,
      engine: this.engine,
      compose: this.compose,
      log: this.log,
      rescanSeconds: 5,
      ...overrides,
    });
    await this.operator.start();
    return this.operator;
  }

  /** The status berth wrote, or undefined before its first write. A malformed one fails the test. */
  status(key: StatusKey): Promise<StackStatus | undefined> {
    return this.state.readStatus(key);
  }

  /** Polls the status file until `pred` holds; fails with the last status and the log tail. */
  async waitFor(
    key: StatusKey,
    what: string,
    pred: (s: StackStatus) => boolean,
    timeoutMs = 90_000,
  ): Promise<StackStatus> {
    const deadline = Date.now() + timeoutMs;
    let last: StackStatus | undefined;
    while (Date.now() < deadline) {
      last = await this.status(key);
      if (last !== undefined && pred(last)) return last;
      await new Promise((r) => setTimeout(r, 200));
    }
    const logTail = (await readFile(join(this.root, 'berth.log'), 'utf8').catch(() => '')).split('\n').slice(-15).join('\n');
    throw new Error(`timed out waiting for ${what}\nlast status:\n${stringify(last)}\nlog tail:\n${logTail}`);
  }

  /**
   * Waits until berth has finished `n` more reconcile passes, nudging it by rewriting `f`'s
   * manifest unchanged: a way to say "berth looked again and still did nothing" without
   * sleeping for a guessed time (an unchanged status is not rewritten, so it cannot tell).
   */
  async morePasses(f: StackFields, n: number, timeoutMs = 60_000): Promise<void> {
    const operator = this.operator;
    if (operator === undefined) throw new Error('morePasses: the operator is not started');
    const target = operator.passes + n;
    const deadline = Date.now() + timeoutMs;
    while (operator.passes < target) {
      if (Date.now() > deadline) throw new Error(`berth made ${operator.passes - target + n} of ${n} passes within ${timeoutMs} ms`);
      await this.writeStack(f);
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  async close(): Promise<void> {
    await this.operator?.stop();
    for (const p of this.projects) await removeProject(p);
    await rm(this.root, { recursive: true, force: true });
  }
}

export function condition(s: StackStatus, type: string): { status: string; reason: string; message: string } | undefined {
  return s.status.conditions.find((c) => c.type === type);
}

export const isReady = (version: string) => (s: StackStatus) =>
  condition(s, 'Ready')?.status === 'True' && s.status.currentVersion === version;

/** A compose file with one service per name, each running the test image's shell loop. */
export function composeFile(services: Record<string, string>): string {
  return stringify({ services: Object.fromEntries(Object.entries(services).map(([name, image]) => [name, { image, init: false }])) });
}
