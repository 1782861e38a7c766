// Run-time validation of what a vendor publishes: a Release, and the ReleaseIndex of a
// channel. Same validator and the same field-path messages as the Stack's (validate.ts).
import type { ValidateFunction } from 'ajv';
import { releaseIndexSchema, releaseSchema } from './schema.js';
import type { Release, ReleaseIndex } from './types.js';
import { ajv, InvalidManifestError, problemsOf } from './validate.js';

// Compiled on first use: a command that never touches a feed does not pay for it.
let releaseValidator: ValidateFunction | undefined;
let indexValidator: ValidateFunction | undefined;

function check(file: string, value: unknown, validator: ValidateFunction, kind: string): void {
  if (value === null || value === undefined) {
    throw new InvalidManifestError(file, [{ path: '', message: `the document is empty; expected a ${kind}` }]);
  }
  if (!validator(value)) {
    throw new InvalidManifestError(file, problemsOf(validator.errors));
  }
}

/** Validates a Release (signed or not). `value` is not modified. */
export function validateRelease(file: string, value: unknown): Release {
  releaseValidator ??= ajv.compile(releaseSchema);
  // The shared validator applies defaults in place; a signed document must stay as signed.
  const copy: unknown = structuredClone(value);
  check(file, copy, releaseValidator, 'Release');
  return copy as Release;
}

/** Validates a ReleaseIndex, every release in it included. `value` is not modified. */
export function validateReleaseIndex(file: string, value: unknown): ReleaseIndex {
  indexValidator ??= ajv.compile(releaseIndexSchema);
  const copy: unknown = structuredClone(value);
  check(file, copy, indexValidator, 'ReleaseIndex');
  return copy as ReleaseIndex;
}
