// `berth validate FILE...`: any berth document, by its `kind`. A Stack is also checked the
// way `berth run` would use it: its compose files exist, and compose (when its CLI is here)
// loads them into a model that defines every service spec.images pins, so a manifest that
// validates is not then reported InvalidSpec by the first pass.
import { access, readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { ResolvedStack } from '../api/types.js';
import { InvalidManifestError, parseYaml, validateStack } from '../api/validate.js';
import { validateRelease, validateReleaseIndex } from '../api/validate-release.js';
import { composeInputsOf, resolveTargetFile } from '../controller/target-file.js';
import { ComposeCli } from '../docker/compose.js';
import { ComposeModels, DEFAULT_FILES } from '../docker/compose-model.js';

export const VALIDATE_KINDS = ['Stack', 'Release', 'ReleaseIndex'] as const;

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

/** Why berth could not run this Stack (missing files, services compose lacks), or undefined. */
async function stackProblems(file: string, stack: ResolvedStack, models: ComposeModels | undefined): Promise<string[]> {
  const inputs = composeInputsOf(file, stack);
  const c = stack.spec.compose;
  // The files the manifest names (compose may be left to discover a lone compose.yaml; it must still be there).
  const files = (c.files ?? (c.file !== undefined ? [c.file] : [])).map((f) => (isAbsolute(f) ? f : resolve(dirname(file), f)));
  const missing: string[] = [];
  for (const f of files) if (!(await exists(f))) missing.push(f);
  if (files.length === 0) {
    const found = await Promise.all(DEFAULT_FILES.map((n) => exists(join(inputs.projectDirectory, n))));
    if (!found.includes(true)) missing.push(`${join(inputs.projectDirectory, DEFAULT_FILES[0] as string)} (or ${DEFAULT_FILES.slice(1).join(', ')})`);
  }
  if (missing.length > 0) return missing.map((m) => `spec.compose: the compose file ${m} does not exist`);
  if (models === undefined) return [];
  if (stack.spec.version !== undefined) {
    const resolved = await resolveTargetFile(file, stack, models);
    return 'error' in resolved ? [resolved.error] : [];
  }
  // A stack that follows a channel pins its images per release: only the files are checked.
  try {
    await models.resolve(stack.metadata.name, inputs);
    return [];
  } catch (err) {
    return [`spec.compose: compose cannot load the stack's files: ${(err as Error).message}`];
  }
}

/** Why a file could not be read, in words, with what to check (a typo in the path is the usual cause). */
function unreadable(file: string, err: NodeJS.ErrnoException): string {
  if (err.code === 'ENOENT') return `no such file; check the path (berth validate takes the manifest's own file, e.g. .berth/manifests/shop.yaml)`;
  if (err.code === 'EISDIR') return `is a folder; name the files in it, e.g. berth validate ${file.replace(/\/+$/, '')}/*.yaml`;
  if (err.code === 'EACCES') return `cannot be read (permission denied); run as a user who can read it`;
  return err.message;
}

function describeValid(kind: string, value: Record<string, unknown>): string {
  if (kind === 'Stack') {
    const stack = value as unknown as ResolvedStack;
    const version = stack.spec.version ?? `from channel ${stack.spec.channel?.name ?? '?'}`;
    return `valid Stack "${stack.metadata.name}" (version ${version}, mode ${stack.spec.mode})`;
  }
  if (kind === 'Release') {
    const r = value as { metadata: { name: string }; spec: { version: string }; signature?: unknown };
    return `valid Release "${r.metadata.name}" (version ${r.spec.version}, ${r.signature !== undefined ? 'signed; check the signature with berth release verify' : 'unsigned'})`;
  }
  const releases = (value['releases'] as unknown[] | undefined)?.length ?? 0;
  return `valid ReleaseIndex of channel ${String(value['channel'] ?? '?')} (${releases} release${releases === 1 ? '' : 's'}; signatures not checked: use berth release verify)`;
}

export async function validateCommand(files: string[]): Promise<number> {
  let failed = 0;
  let models: ComposeModels | undefined;
  let noCompose: string | undefined;
  for (const file of files) {
    try {
      const value = parseYaml(file, await readFile(file, 'utf8'));
      const kind = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>)['kind'] : undefined;
      let valid: Record<string, unknown>;
      if (kind === 'Stack') {
        const stack = validateStack(file, value);
        if (models === undefined && noCompose === undefined) {
          const cli = await ComposeCli.detect().catch((err: unknown) => {
            noCompose = (err as Error).message;
            return undefined;
          });
          if (cli !== undefined) models = new ComposeModels(cli);
        }
        const problems = await stackProblems(file, stack, models);
        if (problems.length > 0) throw new InvalidManifestError(file, problems.map((message) => ({ path: '', message })));
        valid = stack as unknown as Record<string, unknown>;
      } else if (kind === 'Release') {
        valid = validateRelease(file, value) as unknown as Record<string, unknown>;
      } else if (kind === 'ReleaseIndex') {
        valid = validateReleaseIndex(file, value) as unknown as Record<string, unknown>;
      } else {
        throw new InvalidManifestError(file, [
          { path: 'kind', message: `${kind === undefined ? 'is missing' : `is ${JSON.stringify(kind)}`}; berth validates ${VALIDATE_KINDS.join(', ')}` },
        ]);
      }
      process.stdout.write(`${file}: ${describeValid(String(kind), valid)}\n`);
    } catch (err) {
      failed++;
      if (err instanceof InvalidManifestError) {
        process.stderr.write(`${file}: invalid\n${err.problems.map((p) => `  - ${p.path ? `${p.path}: ` : ''}${p.message}`).join('\n')}\n`);
      } else {
        process.stderr.write(`${file}: ${unreadable(file, err as NodeJS.ErrnoException)}\n`);
      }
    }
  }
  if (noCompose !== undefined) {
    process.stderr.write(
      `berth validate: no compose CLI here, so the services in spec.images were not checked against the compose files (${noCompose})\n`,
    );
  }
  return failed > 0 ? 1 : 0;
}
