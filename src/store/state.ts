// The state folder: per stack, status.yaml and the immutable revisions berth applied.
//   <state>/<stack>/status.yaml
//   <state>/<stack>/revisions/<n>/compose.yaml   the rendered compose file compose ran
//   <state>/<stack>/revisions/<n>/revision.yaml  what it was made from (RevisionRecord)
//   <state>/_files/<file name>/status.yaml       a manifest that never parsed far enough to name its stack
// Stack names are DNS labels, so `_files` can never collide with one.
import { readdir, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import type { StackStatus } from '../api/types.js';
import { validateStackStatus } from '../api/validate.js';
import type { RevisionRecord } from '../plan/types.js';
import { writeDirAtomic, writeFileAtomic } from '../util/atomic.js';
import { readIfExists } from '../util/files.js';

export type StatusKey = { stack: string } | { file: string };

export const COMPOSE_FILE = 'compose.yaml';
export const RECORD_FILE = 'revision.yaml';
/** `revisions/.removing-<revision>-<pid>`: a revision folder on its way out (removeRevision). */
export const REMOVING_NAME = /^\.removing-[0-9]+-[0-9]+$/;

export class StateStore {
  readonly root: string;
  // Revisions are immutable once written, so a record read once is good forever.
  private readonly records = new Map<string, RevisionRecord>();

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
    return text === undefined ? undefined : validateStackStatus(path, parse(text));
  }

  async writeStatus(key: StatusKey, status: StackStatus): Promise<void> {
    await writeFileAtomic(this.statusPath(key), stringify(status, { aliasDuplicateObjects: false }));
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
    const record = parse(text) as RevisionRecord;
    if (record === null || typeof record !== 'object' || record.revision !== revision || !Array.isArray(record.services)) {
      throw new Error(`${path}: not a berth revision record; move the folder aside so berth can write a new revision`);
    }
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
    });
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
