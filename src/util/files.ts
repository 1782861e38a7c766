// Reading files berth is pointed at (manifests, compose files, keys) or keeps (state). Only
// regular files are read: a FIFO would block the read until some writer comes, a device
// could stream forever, and a folder is a person's mistake worth naming as such.
import { constants, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';

function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a folder';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/**
 * The file's text. Opened without blocking and checked on the open handle, so a FIFO is
 * refused at once (and a file swapped in between a check and the read cannot slip past).
 * A non-regular file throws with code ENOTREGULAR; open's own errors (ENOENT, ELOOP, EACCES…) pass through.
 */
export async function readRegularFile(path: string): Promise<string> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) {
      const kind = kindOf(stats);
      throw Object.assign(new Error(`${path} is ${kind}, not a regular file; berth reads only regular files (or symlinks to them)`), {
        code: 'ENOTREGULAR',
      });
    }
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/** Why a read failed, to follow a file's name: what the file is instead, or the errno code. */
export function readProblem(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOTREGULAR') return e.message.replace(/^.* is (a |not )/, 'is $1');
  return `cannot be read (${e.code ?? String(err)})`;
}

/** The file's text, or undefined when there is no such file; any other failure is thrown. */
export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readRegularFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
