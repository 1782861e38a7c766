// The one byte form of a value that a signature covers. A signer and a verifier that parse
// the same document must build the same bytes from it, whatever key order, indentation or
// syntax (JSON or YAML) the document was written in; so object keys are sorted, nothing
// is indented, and any value JSON cannot carry faithfully is refused instead of being
// quietly dropped or changed (JSON.stringify turns NaN into null and skips functions).

function fail(path: string, what: string): never {
  throw new TypeError(`canonicalJson: ${path || 'the value'} ${what}; only JSON values (null, booleans, finite numbers, strings, arrays, plain objects) can be signed`);
}

function isPlainObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function encode(value: unknown, path: string, open: Set<object>): string {
  switch (typeof value) {
    case 'string':
      // JSON.stringify escapes lone surrogates since ES2019, so the output is always valid UTF-8.
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) fail(path, `is ${String(value)}`);
      return JSON.stringify(value);
    case 'object': {
      if (value === null) return 'null';
      if (open.has(value)) fail(path, 'refers back to itself');
      open.add(value);
      try {
        if (Array.isArray(value)) {
          return `[${value.map((item: unknown, i) => {
            // JSON.stringify would write null here; a signer must not sign what it did not mean.
            if (item === undefined) fail(`${path}[${i}]`, 'is undefined');
            return encode(item, `${path}[${i}]`, open);
          }).join(',')}]`;
        }
        if (!isPlainObject(value)) fail(path, `is a ${value.constructor?.name ?? 'non-plain object'}`);
        const record = value as Record<string, unknown>;
        // Default sort compares UTF-16 code units, which is what the format promises.
        const keys = Object.keys(record).sort();
        const parts: string[] = [];
        for (const key of keys) {
          const item = record[key];
          // An absent optional field is often present as undefined in code; it is not part
          // of the document (it would vanish in any serialisation), so it is not signed either.
          if (item === undefined) continue;
          parts.push(`${JSON.stringify(key)}:${encode(item, path ? `${path}.${key}` : key, open)}`);
        }
        return `{${parts.join(',')}}`;
      } finally {
        open.delete(value);
      }
    }
    default:
      return fail(path, `is a ${typeof value}`);
  }
}

/** Deterministic JSON: sorted keys, no whitespace; throws on anything JSON cannot carry exactly. */
export function canonicalJson(value: unknown): string {
  return encode(value, '', new Set());
}
