// Compose is the authority on its own format: berth asks `docker compose config` for the
// resolved model (merge keys, anchors, overrides, profiles, include, extends, .env and
// env_file interpolation, octal modes all applied by compose itself) and never interprets
// compose YAML on its own. A call costs a process, so the model is kept until one of the
// files compose read changes: a pass over unchanged inputs makes no compose call.
import { createHash } from 'node:crypto';
import { dirname, isAbsolute, join } from 'node:path';
import { parseDocument } from 'yaml';
import { readRegularFile } from '../util/files.js';
import { ComposeError, ComposeTimeoutError, type ComposeCli } from './compose.js';

/** What `docker compose` in a folder reads: the flags berth passes for one stack. */
export interface ComposeInputs {
  /** Absolute project directory: relative paths and the default `.env` resolve from here. */
  projectDirectory: string;
  /** Absolute compose files, in order; absent means compose's own discovery in projectDirectory. */
  files?: string[];
  /** One compose file's text, given on stdin (`-f -`) instead of files: a release's own file. */
  text?: string;
  profiles?: string[];
  /** Absolute env files; absent means compose's default, projectDirectory/.env. */
  envFiles?: string[];
  /** `-p`; absent lets compose decide (COMPOSE_PROJECT_NAME, `name:`, folder). */
  project?: string;
  /**
   * `-p` unless the inputs name the project themselves (a compose file's `name:`, or
   * COMPOSE_PROJECT_NAME in an env file): then compose's own choice stands.
   */
  defaultProject?: string;
}

export interface ResolvedModel {
  /** `docker compose config --format json`: fully interpolated, `$` escaped as `$$`. */
  model: Record<string, unknown>;
  /** Every file compose read or would read if it appeared (for the watcher), absolute. */
  inputs: string[];
  /** Hash of the flags and the contents of every input: equal hashes, equal models. */
  inputsHash: string;
  /** The project name compose resolved the model under (its `name`). */
  project: string;
  /**
   * The profiles compose enables for these inputs: the `--profile` flags, else COMPOSE_PROFILES
   * from berth's environment, else from the env files. The model holds the services of every
   * profile (it is asked with `--profile '*'`), so that containers a person starts for an
   * inactive profile are known services, not strays; berth selects the active ones (plan/services.ts).
   */
  activeProfiles: string[];
}

/** The names compose discovers in a folder when no -f is given (compose-go's defaults). */
export const DEFAULT_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yml', 'docker-compose.yaml'];
export const DEFAULT_OVERRIDES = ['compose.override.yaml', 'compose.override.yml', 'docker-compose.override.yml', 'docker-compose.override.yaml'];

/** The global flags of a `docker compose` call over these inputs. */
export function composeFlags(inputs: ComposeInputs): string[] {
  const args: string[] = [];
  if (inputs.project !== undefined) args.push('-p', inputs.project);
  args.push('--project-directory', inputs.projectDirectory);
  if (inputs.text !== undefined) args.push('-f', '-');
  else for (const f of inputs.files ?? []) args.push('-f', f);
  for (const p of inputs.profiles ?? []) args.push('--profile', p);
  for (const e of inputs.envFiles ?? []) args.push('--env-file', e);
  return args;
}

/** Files a compose file refers to: what `include`, `extends` and `env_file` would make compose read. */
export interface References {
  /** The file has a top-level `name:`. */
  namesProject: boolean;
  /** Files compose loads as compose files (include, extends), with the folder their own references resolve from. */
  composeFiles: { file: string; base: string }[];
  envFiles: string[];
}

function asList(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

/**
 * Lists what a compose file refers to, only to know which files to watch and hash: compose
 * itself resolves them. A path that needs interpolation (`${X}`) cannot be known without
 * interpolating, so it is left out (the compose call still reads it; a change to it is seen
 * when another input changes). A file that does not parse refers to nothing: compose's error
 * says what is wrong with it.
 */
export function referencesOf(text: string, base: string): References {
  const out: References = { namesProject: false, composeFiles: [], envFiles: [] };
  let doc: unknown;
  try {
    // Merge keys and any number of aliases: vendors' files use both.
    doc = parseDocument(text, { merge: true, uniqueKeys: false }).toJS({ maxAliasCount: -1 });
  } catch {
    return out;
  }
  if (doc === null || typeof doc !== 'object') return out;
  const path = (p: unknown, from: string): string | undefined => {
    if (typeof p !== 'string' || p.length === 0 || p.includes('$')) return undefined;
    return isAbsolute(p) ? p : join(from, p);
  };
  const root = doc as Record<string, unknown>;
  out.namesProject = typeof root['name'] === 'string' && root['name'] !== '';
  for (const entry of asList(root['include'])) {
    const paths = typeof entry === 'string' ? [entry] : asList((entry as Record<string, unknown> | null)?.['path']);
    const dir = typeof entry === 'object' && entry !== null ? path((entry as Record<string, unknown>)['project_directory'], base) : undefined;
    for (const p of paths) {
      const file = path(p, base);
      if (file === undefined) continue;
      out.composeFiles.push({ file, base: dir ?? dirname(file) });
      const given = typeof entry === 'object' && entry !== null ? asList((entry as Record<string, unknown>)['env_file']) : [];
      // Without env_file, compose reads the .env of the included project's folder.
      const envFile = given.length > 0 ? given : [join(dir ?? dirname(file), '.env')];
      for (const e of envFile) {
        const f = path(e, base);
        if (f !== undefined) out.envFiles.push(f);
      }
    }
  }
  const services = root['services'];
  if (services !== null && typeof services === 'object') {
    for (const def of Object.values(services as Record<string, unknown>)) {
      if (def === null || typeof def !== 'object') continue;
      const service = def as Record<string, unknown>;
      const ext = service['extends'];
      if (ext !== null && typeof ext === 'object') {
        const file = path((ext as Record<string, unknown>)['file'], base);
        if (file !== undefined) out.composeFiles.push({ file, base: dirname(file) });
      }
      for (const e of asList(service['env_file'])) {
        const f = path(typeof e === 'object' && e !== null ? (e as Record<string, unknown>)['path'] : e, base);
        if (f !== undefined) out.envFiles.push(f);
      }
    }
  }
  return out;
}

/** A file's content, or null when it is absent (an absent file is an input too: it may appear). */
async function contentOf(path: string): Promise<string | null> {
  try {
    // Never readFile: a FIFO named as an input would block the pass.
    return await readRegularFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw err;
  }
}

function hashOf(inputs: ComposeInputs, contents: Map<string, string | null>): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(composeFlags(inputs)));
  h.update(`\u0000-\u0000${inputs.text ?? ''}`);
  for (const [path, text] of [...contents].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    h.update(`\u0000${path}\u0000${text === null ? '\u0001absent' : text}`);
  }
  return h.digest('hex');
}

/**
 * Reads every file compose would read for these inputs, following include and extends: the
 * compose files (given, or the ones compose discovers, override included), the env files
 * (given, or `.env`), and each env_file, included and extended file.
 */
export async function readInputs(inputs: ComposeInputs): Promise<Map<string, string | null>> {
  return (await scanInputs(inputs)).contents;
}

/** The inputs' contents, and whether they name the project themselves. */
async function scanInputs(inputs: ComposeInputs): Promise<{ contents: Map<string, string | null>; namesProject: boolean }> {
  const contents = new Map<string, string | null>();
  let namesProject = false;
  const main =
    inputs.text !== undefined ? [] : (inputs.files ?? [...DEFAULT_FILES, ...DEFAULT_OVERRIDES].map((f) => join(inputs.projectDirectory, f)));
  const queue: { file: string; base: string }[] = main.map((file) => ({ file, base: inputs.projectDirectory }));
  if (inputs.text !== undefined) {
    const refs = referencesOf(inputs.text, inputs.projectDirectory);
    namesProject = refs.namesProject;
    queue.push(...refs.composeFiles);
    for (const e of refs.envFiles) contents.set(e, await contentOf(e));
  }
  for (const e of inputs.envFiles ?? [join(inputs.projectDirectory, '.env')]) {
    const text = await contentOf(e);
    contents.set(e, text);
    if (text !== null && /^\s*(export\s+)?COMPOSE_PROJECT_NAME\s*=\s*\S/m.test(text)) namesProject = true;
  }
  while (queue.length > 0) {
    const next = queue.shift() as { file: string; base: string };
    if (contents.has(next.file)) continue;
    const text = await contentOf(next.file);
    contents.set(next.file, text);
    if (text === null) continue;
    const refs = referencesOf(text, next.base);
    // Only the files compose is given (or discovers) name the project; included ones do not.
    if (next.base === inputs.projectDirectory && main.includes(next.file)) namesProject ||= refs.namesProject;
    queue.push(...refs.composeFiles);
    for (const e of refs.envFiles) if (!contents.has(e)) contents.set(e, await contentOf(e));
  }
  return { contents, namesProject };
}

/** The flags compose is called with: the default project only when the inputs name none. */
function effective(inputs: ComposeInputs, namesProject: boolean): ComposeInputs {
  const { defaultProject, ...rest } = inputs;
  if (rest.project !== undefined || defaultProject === undefined || namesProject) return rest;
  return { ...rest, project: defaultProject };
}

/** The last `COMPOSE_PROFILES=` of an env file's text, as compose reads it: comma-separated, quotes stripped. */
export function composeProfilesIn(text: string): string[] | undefined {
  let found: string | undefined;
  for (const line of text.split('\n')) {
    const m = /^\s*(?:export\s+)?COMPOSE_PROFILES\s*=\s*(.*?)\s*$/.exec(line);
    if (m !== null) found = m[1]!.replace(/^(['"])(.*)\1$/, '$2');
  }
  return found === undefined ? undefined : splitProfiles(found);
}

function splitProfiles(value: string): string[] {
  return value.split(',').map((p) => p.trim()).filter((p) => p !== '');
}

/**
 * What compose enables: the flags win, then COMPOSE_PROFILES in berth's environment (which
 * compose inherits), then the env files in order (a later one overrides an earlier one).
 */
export function activeProfilesOf(inputs: ComposeInputs, contents: ReadonlyMap<string, string | null>, env: NodeJS.ProcessEnv = process.env): string[] {
  if (inputs.profiles !== undefined && inputs.profiles.length > 0) return [...inputs.profiles];
  const fromEnv = env['COMPOSE_PROFILES'];
  if (fromEnv !== undefined && fromEnv !== '') return splitProfiles(fromEnv);
  let found: string[] | undefined;
  for (const e of inputs.envFiles ?? [join(inputs.projectDirectory, '.env')]) {
    const text = contents.get(e);
    found = (text !== null && text !== undefined ? composeProfilesIn(text) : undefined) ?? found;
  }
  return found ?? [];
}

/** Re-reads a known list of inputs (no parsing): enough to tell that nothing changed. */
async function reread(paths: readonly string[]): Promise<Map<string, string | null>> {
  const contents = new Map<string, string | null>();
  for (const p of paths) contents.set(p, await contentOf(p));
  return contents;
}

export interface ModelSource {
  /** The resolved model of one stack's inputs; `key` names the stack (one cache entry each). */
  resolve(key: string, inputs: ComposeInputs): Promise<ResolvedModel>;
  /** The inputs a stack read last, so they can be watched even while compose refuses them. */
  inputsOf?(key: string): string[];
}

/** compose ran and said no: the same files get the same answer, until one of them changes. */
function isRefusal(err: Error): boolean {
  return err instanceof ComposeError && !(err instanceof ComposeTimeoutError) && err.exitCode !== null;
}

/** The last answer for one stack: a model, or compose's refusal of those same inputs. */
interface Entry {
  inputs: string[];
  inputsHash: string;
  result: ResolvedModel | Error;
}

/** Resolves models through the compose CLI, once per change of the inputs. */
export class ComposeModels implements ModelSource {
  private readonly cache = new Map<string, Entry>();

  constructor(
    private readonly cli: Pick<ComposeCli, 'run' | 'flavour'>,
    private readonly timeoutMs = 60_000,
  ) {}

  async resolve(key: string, inputs: ComposeInputs): Promise<ResolvedModel> {
    const hit = this.cache.get(key);
    let entry: Entry | undefined;
    if (hit !== undefined && hashOf(inputs, await reread(hit.inputs)) === hit.inputsHash) entry = hit;
    if (entry === undefined) {
      const { contents, namesProject } = await scanInputs(inputs);
      const inputsHash = hashOf(inputs, contents);
      entry = hit !== undefined && hit.inputsHash === inputsHash ? hit : { inputs: [...contents.keys()], inputsHash, result: new Error('unresolved') };
      if (entry !== hit) {
        const flags = effective(inputs, namesProject);
        // A refusal is kept too: a broken file is reported every pass, but compose is asked once.
        // Every profile's services (see ResolvedModel.activeProfiles).
        entry.result = await this.ask({ ...flags, profiles: ['*'] }).then(
          (model) => ({
            model,
            inputs: entry?.inputs ?? [],
            inputsHash,
            project: typeof model['name'] === 'string' ? model['name'] : (flags.project ?? ''),
            activeProfiles: activeProfilesOf(inputs, contents),
          }),
          (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
        );
        // Only compose's verdict on the files is kept: a timeout or a missing CLI is asked again next pass.
        const verdict = !(entry.result instanceof Error) || isRefusal(entry.result);
        if (verdict) this.cache.set(key, entry);
        else if (hit !== undefined) this.cache.set(key, { ...hit, inputs: entry.inputs });
      }
    }
    if (entry.result instanceof Error) throw entry.result;
    return entry.result;
  }

  /** The inputs a stack read last, so they can be watched even while compose refuses them. */
  inputsOf(key: string): string[] {
    return this.cache.get(key)?.inputs ?? [];
  }

  private async ask(inputs: ComposeInputs): Promise<Record<string, unknown>> {
    // compose v1 has no --format: its `config` prints the resolved model as YAML.
    const format = this.cli.flavour === 'v2' ? ['--format', 'json'] : [];
    const { stdout } = await this.cli.run([...composeFlags(inputs), 'config', ...format], {
      timeoutMs: this.timeoutMs,
      ...(inputs.text !== undefined ? { input: inputs.text } : {}),
    });
    let model: unknown;
    try {
      model = this.cli.flavour === 'v2' ? JSON.parse(stdout) : parseDocument(stdout).toJS({ maxAliasCount: -1 });
    } catch (err) {
      throw new Error(`docker compose config in ${inputs.projectDirectory} printed no readable model (${(err as Error).message})`);
    }
    if (model === null || typeof model !== 'object' || Array.isArray(model)) {
      throw new Error(`docker compose config in ${inputs.projectDirectory} printed ${typeof model}, not a compose model`);
    }
    return model as Record<string, unknown>;
  }

  forget(key: string): void {
    this.cache.delete(key);
  }
}
