// Where the manifests and the state folder are, for every command alike: the flag, else the
// environment (BERTH_MANIFESTS, BERTH_STATE), else the defaults `berth run` uses. One
// function, so `berth get` after a plain `berth run` finds what run wrote, without flags.
import { stat } from 'node:fs/promises';

export const DEFAULT_MANIFESTS = './.berth/manifests';
export const DEFAULT_STATE = './.berth/state';

export type DirKind = 'manifests' | 'state';
const ENV: Record<DirKind, string> = { manifests: 'BERTH_MANIFESTS', state: 'BERTH_STATE' };
const DEFAULTS: Record<DirKind, string> = { manifests: DEFAULT_MANIFESTS, state: DEFAULT_STATE };

export interface Dir {
  path: string;
  /** How it was chosen: a hint repeats the flag only when the person had to give one. */
  from: 'flag' | 'env' | 'default';
}

/** The folder for `kind`: flag, then environment, then default. */
export function dirOf(kind: DirKind, flag: string | undefined, env: NodeJS.ProcessEnv = process.env): Dir {
  if (flag !== undefined && flag !== '') return { path: flag, from: 'flag' };
  const fromEnv = env[ENV[kind]];
  if (fromEnv !== undefined && fromEnv !== '') return { path: fromEnv, from: 'env' };
  return { path: DEFAULTS[kind], from: 'default' };
}

/** A usage problem: the folder berth was pointed at (or defaulted to) is not there. */
export class MissingDirError extends Error {
  constructor(kind: DirKind, dir: Dir) {
    const how = dir.from === 'flag' ? `from --${kind}` : dir.from === 'env' ? `from ${ENV[kind]}` : 'the default';
    super(
      `the ${kind} folder ${dir.path} (${how}) does not exist. Name it with --${kind} DIR, or set ${ENV[kind]}, or create ${DEFAULTS[kind]}` +
        (kind === 'state' ? ' (berth run makes its state folder there when it starts)' : ' (one Stack manifest per *.yaml file)'),
    );
    this.name = 'MissingDirError';
  }
}

/** The folder, refused (MissingDirError) when it is not an existing folder. */
export async function existingDirOf(kind: DirKind, flag: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<Dir> {
  const dir = dirOf(kind, flag, env);
  const isDir = await stat(dir.path).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir) throw new MissingDirError(kind, dir);
  return dir;
}

/** ` --state DIR` when a follow-up command needs it to find the same folder, else ''. */
export function stateFlag(dir: Dir): string {
  return dir.from === 'flag' && dir.path !== DEFAULT_STATE && dir.path !== '.berth/state' ? ` --state ${dir.path}` : '';
}
