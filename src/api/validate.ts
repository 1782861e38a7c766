// Run-time validation against the same schemas the types come from. Errors name the file,
// the field path and what was expected, because a person reading a status or a log must
// be able to fix the manifest from the message alone.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parseDocument } from 'yaml';
import { stackSchema, stackStatusSchema } from './schema.js';
import type { ResolvedStack, StackStatus } from './types.js';

// ajv-formats is CommonJS with a default export; under NodeNext its default import is the
// module object, so reach through it once here.
const addFormats = addFormatsModule.default;

// strictRequired is off because the Stack's "version or channel" rule names, inside if/then,
// fields that are defined one level up (where they belong). Exported so validate-release.ts
// compiles the release schemas with the same settings and formats.
export const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, strictRequired: false, allowUnionTypes: true });
addFormats(ajv);
// Schemas carry `description`, which strict mode knows; `default` under useDefaults too.
const stackValidator: ValidateFunction = ajv.compile(stackSchema);
const statusValidator: ValidateFunction = ajv.compile(stackStatusSchema);

/** One problem with one field of one file. */
export interface FieldProblem {
  /** JSON-pointer-like path of the field, e.g. `spec.images.web`. */
  path: string;
  message: string;
}

/** A manifest that could not be read, parsed or validated. */
export class InvalidManifestError extends Error {
  readonly file: string;
  readonly problems: FieldProblem[];
  constructor(file: string, problems: FieldProblem[]) {
    const detail = problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; ');
    super(`${file}: ${detail}`);
    this.name = 'InvalidManifestError';
    this.file = file;
    this.problems = problems;
  }
}

function fieldPath(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

function describe(e: ErrorObject): FieldProblem {
  const base = fieldPath(e.instancePath);
  const join = (child: string) => (base ? `${base}.${child}` : child);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      if (e.schemaPath.endsWith('/then/required') && base === 'spec') {
        return { path: 'spec.version', message: 'is required unless spec.channel is set (a stack names its version or follows a release channel)' };
      }
      return { path: join(String(p['missingProperty'])), message: 'is required but missing' };
    case 'additionalProperties':
      return { path: join(String(p['additionalProperty'])), message: 'is not a known field (check its spelling and indentation)' };
    case 'enum':
      return { path: base, message: `must be one of ${(p['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
    case 'const':
      return { path: base, message: `must be ${JSON.stringify(p['allowedValue'])}` };
    case 'pattern':
      if (base.startsWith('spec.images.')) {
        return { path: base, message: 'must be an image pinned by digest, like registry/name@sha256:<64 hex digits>' };
      }
      return { path: base, message: `must match ${String(p['pattern'])}` };
    case 'not':
      if (/(^|\.)notify\.[0-9]+$/.test(base)) {
        return { path: base, message: 'names its secret more than once: keep one of secret, secretFile, secretEnv' };
      }
      if (base === 'spec.compose') {
        return { path: 'spec.compose.files', message: 'cannot be set together with spec.compose.file: list that file in files instead' };
      }
      return { path: base, message: e.message ?? 'fails not' };
    case 'propertyNames':
      return { path: base, message: `has an invalid key ${JSON.stringify(p['propertyName'])}` };
    default:
      return { path: base, message: e.message ?? `fails ${e.keyword}` };
  }
}

export function problemsOf(errors: ErrorObject[] | null | undefined): FieldProblem[] {
  const seen = new Set<string>();
  const out: FieldProblem[] = [];
  for (const e of errors ?? []) {
    // A failed propertyNames also reports the inner pattern failure; keep the clearer one.
    if (e.keyword === 'pattern' && e.propertyName !== undefined) continue;
    // An if/then failure also reports the `required` inside `then`, which names the field.
    if (e.keyword === 'if') continue;
    const p = describe(e);
    const key = `${p.path}\u0000${p.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(p);
    }
  }
  return out;
}

/** Parses YAML text into one plain value, turning YAML syntax errors into problems with a line. */
export function parseYaml(file: string, text: string): unknown {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new InvalidManifestError(
      file,
      doc.errors.map((e) => ({ path: '', message: `YAML syntax error: ${(e.message.split('\n')[0] ?? '').replace(/:\s*$/, '')}` })),
    );
  }
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // yaml refuses to expand an alias bomb ("billion laughs") with a ReferenceError; that is
    // a property of this file, to be reported under its name like any other problem in it.
    if (err instanceof ReferenceError) {
      throw new InvalidManifestError(file, [
        { path: '', message: `uses YAML aliases (*name) so often that expanding them would exhaust memory (${err.message}); write the values out` },
      ]);
    }
    throw err;
  }
}

/** Validates a parsed Stack manifest and applies defaults. `value` is not modified. */
export function validateStack(file: string, value: unknown): ResolvedStack {
  if (value === null || value === undefined) {
    throw new InvalidManifestError(file, [{ path: '', message: 'the file is empty; expected a Stack manifest' }]);
  }
  const copy: unknown = structuredClone(value);
  if (!stackValidator(copy)) {
    throw new InvalidManifestError(file, problemsOf(stackValidator.errors));
  }
  // useDefaults filled mode and resyncSeconds, which is what ResolvedStack promises.
  return copy as ResolvedStack;
}

/** Reads and validates a Stack manifest from its text. */
export function parseStack(file: string, text: string): ResolvedStack {
  return validateStack(file, parseYaml(file, text));
}

/** Validates a StackStatus read back from disk (it may have been edited or truncated by hand). */
export function validateStackStatus(file: string, value: unknown): StackStatus {
  if (!statusValidator(value)) {
    throw new InvalidManifestError(file, problemsOf(statusValidator.errors));
  }
  return value as StackStatus;
}
