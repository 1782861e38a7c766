// What the console's pages show, read the way `berth get`/`describe` read it: the status
// files in the state folder, the revisions berth kept, the manifest,
// and (for a stack page) what the next pass would change. Reads only; the pages are pure
// functions of these views (views.ts), so they are tested without a server.
import type { ResolvedStack, StackStatus, StackStatusBody } from '../../api/types.js';
import { diffStack, type ComposeDiff } from '../../controller/diff.js';
import type { ComposeCli } from '../../docker/compose.js';
import type { Engine } from '../../docker/engine.js';
import { readManifest } from '../../store/manifests.js';
import type { StateStore } from '../../store/state.js';

export interface OverviewRow {
  name: string;
  /** A manifest file that never parsed far enough to name its stack: no page of its own. */
  file?: boolean;
  status?: StackStatusBody;
  /** The status file could not be read. */
  error?: string;
}

export interface RollbackChoice {
  revision: number;
  version: string;
  /** When it passed the health gate. */
  finished?: string;
}

export interface ImageChange {
  service: string;
  running?: string;
  next?: string;
}

export interface ServiceChange {
  service: string;
  change: string;
  containers: string[];
}

export interface NextPass {
  /** Per service: the image that runs and the one the next revision names. */
  images: ImageChange[];
  /** compose's verdict per service (pinned stacks): create, recreate, keep, remove. */
  services?: ServiceChange[];
  /** The compose file that runs against the one the next pass would run, redacted (pinned stacks). */
  compose?: ComposeDiff;
  /** The revision the next pass would write; undefined: none is due. */
  nextRevision?: number;
  /** Why a part could not be worked out. */
  note?: string;
}

export interface StackView {
  name: string;
  status: StackStatusBody;
  manifest?: ResolvedStack;
  manifestError?: string;
  rollback: RollbackChoice[];
  /** Revisions a person asked for with a rollback (their records say so): shown as rollbacks. */
  rollbackRevisions: number[];
  next?: NextPass;
}

export async function loadOverview(state: StateStore): Promise<OverviewRow[]> {
  const entries = await state.listStatuses();
  return entries
    .map((e) => ({
      name: 'stack' in e.key ? e.key.stack : e.key.file,
      ...('file' in e.key ? { file: true } : {}),
      ...(e.status !== undefined ? { status: e.status.status } : {}),
      ...(e.error !== undefined ? { error: e.error } : {}),
    }))
    .sort((a, b) => Number(a.file ?? false) - Number(b.file ?? false) || a.name.localeCompare(b.name));
}

export interface LoadDeps {
  state: StateStore;
  engine?: Engine;
  compose?: ComposeCli;
  manifestsDir: string;
}

/** Revisions kept on disk that passed the health gate and are not what runs: where a person may roll back to. */
async function rollbackChoices(state: StateStore, name: string, s: StackStatusBody): Promise<RollbackChoice[]> {
  const kept = new Set(await state.revisionNumbers(name));
  const seen = new Set<number>();
  const out: RollbackChoice[] = [];
  for (const e of s.history ?? []) {
    if (e.outcome !== 'Healthy' || e.revision === s.revision || !kept.has(e.revision) || seen.has(e.revision)) continue;
    seen.add(e.revision);
    const record = await state.readRevision(name, e.revision).catch(() => undefined);
    if (record === undefined) continue;
    out.push({ revision: e.revision, version: record.version, ...(e.finished !== undefined ? { finished: e.finished } : {}) });
  }
  return out;
}

async function rollbackRevisions(state: StateStore, name: string, s: StackStatusBody): Promise<number[]> {
  const out: number[] = [];
  for (const n of new Set((s.history ?? []).map((e) => e.revision))) {
    const record = await state.readRevision(name, n).catch(() => undefined);
    if (record?.cause?.kind === 'rollback') out.push(n);
  }
  return out;
}

function imageChanges(running: StackStatusBody['services'], next: Record<string, string>): ImageChange[] {
  const names = new Set([...running.map((s) => s.name), ...Object.keys(next)]);
  return [...names].sort().map((service) => {
    const now = running.find((s) => s.name === service)?.desiredImage;
    const then = next[service] ?? now;
    return { service, ...(now !== undefined ? { running: now } : {}), ...(then !== undefined ? { next: then } : {}) };
  });
}

// compose is asked for a config hash to judge each service: too slow to ask on every live
// refresh, and its answer only changes with the manifest or what runs.
const diffCache = new Map<string, Promise<NextPass>>();

async function nextPass(deps: LoadDeps, name: string, status: StackStatus, stack: ResolvedStack | undefined, manifestText: string): Promise<NextPass> {
  const s = status.status;
  // Without compose's help, only a pinned Stack's own images can be told; a channel's next
  // release is worked out by the same code as `berth diff` (controller/diff.ts), or not at all.
  const fallback = imageChanges(s.services, stack?.spec.channel === undefined ? (stack?.spec.images ?? {}) : {});
  if (deps.engine === undefined || deps.compose === undefined) return { images: fallback, note: 'berth has no connection to the Docker engine here, so what the next pass would change is not known' };
  const key = `${name}\0${manifestText}\0${s.revision ?? ''}\0${s.available?.version ?? ''}\0${s.services.flatMap((x) => x.containers.map((c) => `${c.id}:${c.configHash ?? ''}`)).join(',')}`;
  let pending = diffCache.get(key);
  if (pending === undefined) {
    pending = diffStack(name, { state: deps.state, engine: deps.engine, compose: deps.compose, manifestsDir: deps.manifestsDir }).then(
      (d) => {
        const note =
          d.next === undefined
            ? 'no new revision is due: the next pass keeps what runs'
            : d.waiting !== undefined
              ? `what applying ${d.version} would change; it waits for now (${d.waiting})`
              : undefined;
        return {
          images: imageChanges(s.services, d.images),
          services: d.services,
          compose: d.compose,
          ...(note !== undefined ? { note } : {}),
          ...(d.next !== undefined ? { nextRevision: d.next } : {}),
        };
      },
      (err: unknown) => ({ images: fallback, note: `compose could not work out the difference: ${(err as Error).message}` }),
    );
    if (diffCache.size > 64) diffCache.clear();
    diffCache.set(key, pending);
  }
  return pending;
}

export async function loadStack(deps: LoadDeps, name: string, withNext = true): Promise<StackView | undefined> {
  const status = await deps.state.readStatus({ stack: name });
  if (status === undefined) return undefined;
  const s = status.status;
  let manifest: ResolvedStack | undefined;
  let manifestError: string | undefined;
  let manifestText = '';
  if (s.manifest !== undefined) {
    const entry = await readManifest(s.manifest);
    manifest = entry.stack;
    if (entry.error !== undefined) manifestError = entry.error.message;
    manifestText = JSON.stringify(entry.stack ?? null);
  }
  const view: StackView = {
    name,
    status: s,
    ...(manifest !== undefined ? { manifest } : {}),
    ...(manifestError !== undefined ? { manifestError } : {}),
    rollback: await rollbackChoices(deps.state, name, s),
    rollbackRevisions: await rollbackRevisions(deps.state, name, s),
  };
  if (withNext) view.next = await nextPass(deps, name, status, manifest, manifestText);
  return view;
}
