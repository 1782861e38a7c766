// Reading a file that may legitimately not exist yet (a first run, a new feed folder).
import { readFile } from 'node:fs/promises';

/** The file's text, or undefined when there is no such file; any other failure is thrown. */
export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
