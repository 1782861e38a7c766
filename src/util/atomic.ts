// Every file berth writes goes through here: a temp file in the same folder, fsync, rename,
// then fsync of the folder, so a crash leaves either the old file or the new one, never a
// torn one, and the rename itself survives power loss.
import { lstat, mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * The name of every temp file or folder written here: `.<name>.<pid>.<8 hex>.tmp`. A crash
 * between creating one and its rename leaves it behind; src/store/sweep.ts removes those.
 */
export const TEMP_NAME = /^\..+\.[0-9]+\.[0-9a-f]{8}\.tmp$/;

function tempName(dir: string, path: string): string {
  return join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** Makes a rename or link in `dir` durable: the folder's entry list is what a crash would lose. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * The modes of what berth keeps for itself (the state folder): rendered compose files carry
 * the `environment:` secrets of compose files a person kept 0600, so only berth's user reads them.
 */
export const PRIVATE = { file: 0o600, dir: 0o700 } as const;
/** The modes of what berth writes for people and other programs (manifests, crds, feeds). */
export const SHARED = { file: 0o644, dir: 0o755 } as const;

/** `mode` is the file's; `dirMode` is given to any folder made on the way (an existing one is left as it is). */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode: number = SHARED.file, dirMode: number = SHARED.dir): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: dirMode });
  const tmp = tempName(dir, path);
  try {
    const handle = await open(tmp, 'wx', mode);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(dir);
}

/**
 * Creates a folder with all its files at once: the files are written into a hidden temp
 * folder beside it which is then renamed into place. Fails if the folder already exists, so
 * an immutable folder (a revision) is never half-written nor overwritten.
 */
export async function writeDirAtomic(path: string, files: Record<string, string>, modes: { file: number; dir: number } = SHARED): Promise<void> {
  const parent = dirname(path);
  await mkdir(parent, { recursive: true, mode: modes.dir });
  // rename(2) silently replaces an existing *empty* folder, so look first.
  const existing = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (existing !== undefined) {
    throw Object.assign(new Error(`${path} already exists; an immutable folder is never overwritten`), { code: 'EEXIST' });
  }
  const tmp = tempName(parent, path);
  await mkdir(tmp, { mode: modes.dir });
  try {
    for (const [name, text] of Object.entries(files)) {
      const handle = await open(join(tmp, name), 'wx', modes.file);
      try {
        await handle.writeFile(text);
        await handle.sync();
      } finally {
        await handle.close();
      }
    }
    await fsyncDir(tmp);
    // Should another writer win the race since the check, rename onto its non-empty folder fails.
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  await fsyncDir(parent);
}
