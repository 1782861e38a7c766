// The state folder: per stack, status.yaml and the immutable revisions berth applied.
//   <state>/<stack>/status.yaml
//   <state>/<stack>/revisions/<n>/compose.yaml   the rendered compose file compose ran
//   <state>/<stack>/revisions/<n>/revision.yaml  what it was made from (RevisionRecord)
//   <state>/_files/<file name>/status.yaml       a manifest that never parsed far enough to name its stack
// Stack names are DNS labels, so `_files` can never collide with one.
import { chmod, lstat, readdir, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import type { StackStatus } from '../api/types.js';
import { validateStackStatus } from '../api/validate.js';
import type { RevisionRecord } from '../plan/types.js';
import { PRIVATE, writeDirAtomic, writeFileAtomic } from '../util/atomic.js';
import { readIfExists } from '../util/files.js';

export type StatusKey = { stack: string } | { file: string };

export const COMPOSE_FILE = 'compose.yaml';
export const RECORD_FILE = 'revision.yaml';
/** `revisions/.removing-<revision>-<pid>`: a revision folder on its way out (removeRevision). */
export const REMOVING_NAME = /^\.removing-[0-9]+-[0-9]+$/;

/** A revision record on disk that is not whole (truncated, edited, corrupted). */
export class DamagedRevisionError extends Error {
  override readonly name = 'DamagedRevisionError';
}

const isText = (v: unknown): v is string => typeof v === 'string' && v !== '';
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * What is missing or wrong in a revision record. Records are written whole (atomically), so
 * one that lacks a field was cut short or edited afterwards: a truncated file still parses,
 * as a record with its last fields gone, and must not pass for the revision it was.
 */
function recordProblems(value: unknown, revision: number): string[] {
  if (typeof value === 'string') return [value];
  if (!isObject(value)) return ['not a berth revision record'];
  const problems: string[] = [];
  if (value['revision'] !== revision) problems.push(`revision is ${JSON.stringify(value['revision'])}, not ${revision}`);
  for (const field of ['stack', 'version', 'targetKey', 'generation', 'project', 'projectDirectory', 'created'] as const) {
    if (!isText(value[field])) problems.push(`${field} is missing`);
  }
  if (isText(value['created']) && Number.isNaN(Date.parse(value['created']))) problems.push('created is not a time');
  if (!isObject(value['images']) || !Object.values(value['images']).every(isText)) problems.push('images is missing');
  if (!Array.isArray(value['services'])) problems.push('services is missing');
  if (!isObject(value['spec']) || !isObject(value['spec']['compose'])) problems.push('spec is missing');
  const release = value['release'];
  if (release !== undefined && (!isObject(release) || !isText(release['version']) || !isText(release['keyId']) || typeof release['compose'] !== 'boolean')) {
    problems.push('release is incomplete');
  }
  return problems;
}

export class StateStore {
  readonly root: string;
  // Revisions are immutable once written, so a record read once is good forever.
  private readonly records = new Map<string, RevisionRecord>();
  // Every pass reads its stack's status, and an idle berth's status does not change: parsing
  // the YAML again was most of an idle pass's CPU. Keyed by the file's text, so any change on
  // disk, by berth or anyone, is read anew; callers get a copy they may change.
  private readonly statuses = new Map<string, { text: string; status: StackStatus }>();
  /** status.yaml files parsed so far (a test reads this: an unchanged file is parsed once). */
  statusParses = 0;

  constructor(root: string) {
    this.root = resolve(root);
  }

  dirOf(key: StatusKey): string {
    return 'stack' in key ? join(this.root, key.stack) : join(this.root, '_files', key.file);
  }

  statusPath(key: StatusKey): string {
    return join(this.dirOf(key), 'status.yaml');
  }

  revisionDir(stack: string, revision: number): string {
    return join(this.root, stack, 'revisions', String(revision));
  }

  revisionComposePath(stack: string, revision: number): string {
    return join(this.revisionDir(stack, revision), COMPOSE_FILE);
  }

  /** The status on disk, or undefined when there is none; a damaged file is an error naming it. */
  async readStatus(key: StatusKey): Promise<StackStatus | undefined> {
    const path = this.statusPath(key);
    const text = await readIfExists(path);
    if (text === undefined) {
      this.statuses.delete(path);
      return undefined;
    }
    const cached = this.statuses.get(path);
    if (cached !== undefined && cached.text === text) return structuredClone(cached.status);
    let value: unknown;
    this.statusParses++;
    try {
      value = parse(text, { maxAliasCount: 100 });
    } catch (err) {
      throw new Error(
        `${path}: not valid YAML (${(err as Error).message.split('\n')[0] ?? ''}); the file is damaged. berth rewrites it on its next pass; to see the stack's state now, run berth with this state folder or move the file aside`,
        { cause: err },
      );
    }
    const status = validateStackStatus(path, value);
    this.statuses.set(path, { text, status: structuredClone(status) });
    return status;
  }

  async writeStatus(key: StatusKey, status: StackStatus): Promise<void> {
    const path = this.statusPath(key);
    const text = stringify(status, { aliasDuplicateObjects: false });
    await writeFileAtomic(path, text, PRIVATE.file, PRIVATE.dir);
    // The next pass reads back what this one wrote: known already, it need not be parsed (a
    // 50-service status is tens of kB of YAML, the largest cost of the first idle pass after a
    // change). The copy is what a parse would give: JSON drops undefined fields as YAML does.
    this.statuses.set(path, { text, status: JSON.parse(JSON.stringify(status)) as StackStatus });
  }

  async removeStatus(key: StatusKey): Promise<void> {
    await rm(this.dirOf(key), { recursive: true, force: true });
  }

  async revisionNumbers(stack: string): Promise<number[]> {
    try {
      const names = await readdir(join(this.root, stack, 'revisions'));
      return names.filter((n) => /^[1-9][0-9]*$/.test(n)).map(Number).sort((a, b) => a - b);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  async readRevision(stack: string, revision: number): Promise<RevisionRecord | undefined> {
    const cacheKey = `${stack}/${revision}`;
    const cached = this.records.get(cacheKey);
    if (cached !== undefined) return cached;
    const path = join(this.revisionDir(stack, revision), RECORD_FILE);
    const text = await readIfExists(path);
    if (text === undefined) return undefined;
    let value: unknown;
    try {
      value = parse(text, { maxAliasCount: 100 });
    } catch (err) {
      value = `not valid YAML (${(err as Error).message.split('\n')[0] ?? ''})`;
    }
    const problems = recordProblems(value, revision);
    if (problems.length > 0) {
      throw new DamagedRevisionError(
        `${path}: damaged (${problems.join('; ')}): berth cannot tell what revision ${revision} ran, so it can neither roll back to it nor judge it; move the folder aside so berth can write a new revision`,
      );
    }
    const record = value as RevisionRecord;
    this.records.set(cacheKey, record);
    return record;
  }

  async latestRevision(stack: string): Promise<RevisionRecord | undefined> {
    const numbers = await this.revisionNumbers(stack);
    const newest = numbers.at(-1);
    return newest === undefined ? undefined : this.readRevision(stack, newest);
  }

  /** Writes revision N whole or not at all; refuses to overwrite an existing one. */
  async writeRevision(record: RevisionRecord, composeText: string): Promise<void> {
    await writeDirAtomic(this.revisionDir(record.stack, record.revision), {
      [COMPOSE_FILE]: composeText,
      [RECORD_FILE]: stringify(record, { aliasDuplicateObjects: false }),
    }, PRIVATE);
    this.records.set(`${record.stack}/${record.revision}`, record);
  }

  /**
   * Removes an old revision folder. It is first renamed out of the numbered namespace (one
   * atomic step), so a crash mid-removal never leaves a half revision that looks whole.
   */
  async removeRevision(stack: string, revision: number): Promise<void> {
    const dir = this.revisionDir(stack, revision);
    const trash = join(this.root, stack, 'revisions', `.removing-${revision}-${process.pid}`);
    // Named to match REMOVING_NAME: a crash before the rm leaves it for sweepLeftovers.
    try {
      await rename(dir, trash);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    this.records.delete(`${stack}/${revision}`);
    await rm(trash, { recursive: true, force: true });
  }

  /**
   * Brings state written by an older berth (0644 files in 0755 folders) to 0600/0700. Run once
   * at start-up, with the lock held; returns the paths it could not change, for the log.
   * Symbolic links are not followed: what they point at is not berth's.
   */
  async tighten(): Promise<Array<{ path: string; error: string }>> {
    const failed: Array<{ path: string; error: string }> = [];
    const visit = async (path: string): Promise<void> => {
      let st;
      try {
        st = await lstat(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') failed.push({ path, error: (err as Error).message });
        return;
      }
      if (st.isSymbolicLink()) return;
      const want = st.isDirectory() ? PRIVATE.dir : PRIVATE.file;
      if ((st.mode & 0o777) !== want) {
        try {
          await chmod(path, want);
        } catch (err) {
          failed.push({ path, error: (err as Error).message });
        }
      }
      if (!st.isDirectory()) return;
      const names = await readdir(path).catch((err: Error) => {
        failed.push({ path, error: err.message });
        return [] as string[];
      });
      for (const name of names) await visit(join(path, name));
    };
    await visit(this.root);
    return failed;
  }

  /** Every status on disk, stacks first, then files that never parsed; damaged ones are reported, not thrown. */
  async listStatuses(): Promise<Array<{ key: StatusKey; status?: StackStatus; error?: string }>> {
    const out: Array<{ key: StatusKey; status?: StackStatus; error?: string }> = [];
    const read = async (key: StatusKey) => {
      try {
        const status = await this.readStatus(key);
        if (status !== undefined) out.push({ key, status });
      } catch (err) {
        out.push({ key, error: (err as Error).message });
      }
    };
    const entries = await readdir(this.root, { withFileTypes: true }).catch(() => []);
    for (const e of entries.filter((d) => d.isDirectory() && !d.name.startsWith('_') && !d.name.startsWith('.'))) {
      await read({ stack: e.name });
    }
    const files = await readdir(join(this.root, '_files'), { withFileTypes: true }).catch(() => []);
    for (const e of files.filter((d) => d.isDirectory())) await read({ file: e.name });
    return out;
  }
}
