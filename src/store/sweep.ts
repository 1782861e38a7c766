// What a berth killed mid-write leaves in its state folder: temp files and folders of atomic
// writes (src/util/atomic.ts) that were never renamed into place, and revision folders that
// were renamed aside to be removed (StateStore.removeRevision). Nothing reads them and
// nothing else would ever remove them, so the berth that takes the lock next sweeps them:
// with the lock held, no other berth is writing here. Only berth's own names are touched;
// symlinks are never followed, so nothing outside the state folder is.
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TEMP_NAME } from '../util/atomic.js';
import { LOCK_FILE } from './lock.js';
import { REMOVING_NAME } from './state.js';

// State is <root>/instance-id, <root>/<stack>/status.yaml, <root>/<stack>/revisions/<n>/,
// <root>/_files/<file>/status.yaml: leftovers sit at most three levels down.
const MAX_DEPTH = 3;
// A process that is trying to take the lock right now has a temp file of its own beside it
// (a lock refused to it removes it at once); one this old belongs to a process that died.
const LOCK_TEMP_GRACE_MS = 60_000;

function isLeftover(name: string, parentName: string, isDir: boolean): boolean {
  if (TEMP_NAME.test(name)) return true;
  return isDir && parentName === 'revisions' && REMOVING_NAME.test(name);
}

/** Removes crash leftovers under `root`; returns what it removed. Call it only while holding the lock. */
export async function sweepLeftovers(root: string, now = Date.now()): Promise<string[]> {
  const removed: string[] = [];
  const visit = async (dir: string, dirName: string, depth: number): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw err;
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isSymbolicLink()) continue;
      if (isLeftover(e.name, dirName, e.isDirectory())) {
        if (depth === 0 && e.name.startsWith(`${LOCK_FILE}.`)) {
          const st = await lstat(path).catch(() => undefined);
          if (st === undefined || now - st.mtimeMs < LOCK_TEMP_GRACE_MS) continue;
        }
        await rm(path, { recursive: true, force: true });
        removed.push(path);
      } else if (e.isDirectory() && depth < MAX_DEPTH) {
        await visit(path, e.name, depth + 1);
      }
    }
  };
  await visit(root, '', 0);
  return removed;
}
