// Reading the folder of Stack manifests: one Stack per top-level *.yaml / *.yml file. The
// folder is not searched recursively, so a stack's compose file can live in a subfolder
// beside its manifest without being mistaken for one.
import { readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { ResolvedStack, UpdateMode } from '../api/types.js';
import { InvalidManifestError, parseYaml, validateStack } from '../api/validate.js';
import { readProblem, readRegularFile } from '../util/files.js';
import { UPDATE_MODES } from '../api/schema.js';

export interface ManifestEntry {
  /** Absolute path of the file. */
  file: string;
  stack?: ResolvedStack;
  error?: InvalidManifestError;
  /** The stack name the file declares, when it can be read even from an invalid file. */
  declaredName?: string;
  /** spec.mode as an invalid file says it, when it can be read: `disabled` must hold even then. */
  declaredMode?: UpdateMode;
}

export function isManifestFile(name: string): boolean {
  return !name.startsWith('.') && (name.endsWith('.yaml') || name.endsWith('.yml'));
}

function declaredNameOf(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const meta = (value as Record<string, unknown>)['metadata'];
  if (meta === null || typeof meta !== 'object') return undefined;
  const name = (meta as Record<string, unknown>)['name'];
  return typeof name === 'string' && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) && name.length <= 63 ? name : undefined;
}

/**
 * spec.mode of a parsed manifest that may not be valid: the mode it names, 'auto' when spec
 * is a mapping without one (the schema's default), undefined when it cannot be told.
 */
function declaredModeOf(value: unknown): UpdateMode | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const spec = (value as Record<string, unknown>)['spec'];
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) return undefined;
  const mode = (spec as Record<string, unknown>)['mode'];
  if (mode === undefined) return 'auto';
  return (UPDATE_MODES as readonly unknown[]).includes(mode) ? (mode as UpdateMode) : undefined;
}

export function parseManifest(file: string, text: string): ManifestEntry {
  let value: unknown;
  try {
    value = parseYaml(file, text);
  } catch (err) {
    if (err instanceof InvalidManifestError) return { file, error: err };
    throw err;
  }
  const declaredName = declaredNameOf(value);
  try {
    const stack = validateStack(file, value);
    return { file, stack, declaredName: stack.metadata.name };
  } catch (err) {
    if (err instanceof InvalidManifestError) {
      const declaredMode = declaredModeOf(value);
      return { file, error: err, ...(declaredName ? { declaredName } : {}), ...(declaredMode ? { declaredMode } : {}) };
    }
    throw err;
  }
}

// Every pass reads its stack's manifest, and every rescan the whole folder; an idle berth's
// manifests do not change, and parsing and validating one again was a large part of an idle
// pass (bench idle, issue 10 item 6). The text is still read every time (cheap, and the
// only sure test of a change: a file's size and times can stay the same across an edit
// within one timestamp tick); only an unchanged text skips the parse. Keyed by path.
const parsed = new Map<string, { text: string; entry: ManifestEntry }>();
/** Manifest texts parsed so far (a test reads this: an unchanged file is parsed once). */
export const manifestParses = { count: 0 };

export async function readManifest(file: string): Promise<ManifestEntry> {
  let text: string;
  try {
    text = await readRegularFile(file);
  } catch (err) {
    parsed.delete(file);
    return { file, error: new InvalidManifestError(file, [{ path: '', message: readProblem(err) }]) };
  }
  let hit = parsed.get(file);
  if (hit === undefined || hit.text !== text) {
    manifestParses.count++;
    hit = { text, entry: parseManifest(file, text) };
    parsed.set(file, hit);
  }
  // Callers may change what they get (a stack is resolved and defaulted further): a copy each.
  const { entry } = hit;
  return entry.stack !== undefined ? { ...entry, stack: structuredClone(entry.stack) } : { ...entry };
}

/** Every manifest of the folder, sorted by file name so duplicate names resolve the same way each time. */
export async function scanManifests(dir: string): Promise<ManifestEntry[]> {
  const root = resolve(dir);
  let names: string[];
  try {
    names = await readdir(root);
  } catch (err) {
    throw new Error(
      `cannot read the manifests folder ${root}: ${(err as Error).message}; create it or pass another with --manifests`,
    );
  }
  const files = names.filter(isManifestFile).sort();
  // Forget files that left the folder, so the cache never outgrows it.
  const present = new Set(files.map((name) => join(root, name)));
  for (const path of parsed.keys()) if (dirname(path) === root && !present.has(path)) parsed.delete(path);
  return Promise.all(files.map((name) => readManifest(join(root, name))));
}
