// Credentials out of everything berth writes or logs. A feed URL may carry `user:password@`
// or `?token=`; error messages quote URLs, and they end up in channel.yaml, status.yaml, the
// console and the logs, which are read by more people than the manifest is. One module, so
// every place redacts the same things the same way.
import type { LoggerOptions } from 'pino';

export const REDACTED = '***';

/** The words that make a name a credential's: token, api_key, X-Amz-Signature, password, sig... */
const SECRET_WORDS = 'token|key|secret|passw|pwd|sig|auth|credential|session';
/** Query parameters and headers whose value is a credential (a Cookie header too). */
const SECRET_NAME = new RegExp(`${SECRET_WORDS}|cookie`, 'i');

/** Whether a query parameter or header of this name carries a credential. */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/**
 * The URL with its userinfo and the values of credential query parameters replaced by ***.
 * Text that is not a URL is returned as it is (it holds no URL credentials to find).
 */
export function redactUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return text;
  }
  let changed = false;
  if (url.username !== '' || url.password !== '') {
    url.username = REDACTED;
    url.password = '';
    changed = true;
  }
  for (const name of [...new Set(url.searchParams.keys())]) {
    if (isSecretName(name)) {
      url.searchParams.set(name, REDACTED);
      changed = true;
    }
  }
  // Only a URL that held something is re-serialised: the rest keep their exact spelling.
  return changed ? url.href.replaceAll(encodeURIComponent(REDACTED), REDACTED) : text;
}

const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi;
// Outside a whole URL: `token=...` in a query fragment, `Authorization: Bearer ...`, `user:pw@host`.
const PARAM_IN_TEXT = new RegExp(`([?&;]|\\b)([A-Za-z0-9_.-]*(?:${SECRET_WORDS})[A-Za-z0-9_.-]*)=([^&\\s"'<>;,]+)`, 'gi');
const AUTH_HEADER_IN_TEXT = /\b((?:proxy-)?authorization|cookie|x-api-key)(["']?\s*[:=]\s*["']?)(?:(basic|bearer|token|digest)\s+)?([^\s"',;]+)/gi;

// A PEM private key (PKCS#8, RSA, EC, OpenSSH, encrypted): the whole block goes, armour included,
// so not even a truncated key is left in a log line. `[^]*?` spans the base64 lines lazily.
const PEM_PRIVATE_KEY = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[^]*?(?:-----END \1PRIVATE KEY-----|$)/g;

// Secret values berth learned at run time (a webhook's HMAC secret, the console's token, a
// registry password): they may turn up anywhere, under any name, so they are found by value.
// Shorter values are not registered: replacing every `abc` in a log would hide more than it protects.
const MIN_SECRET_LENGTH = 6;
const knownSecrets = new Set<string>();
let knownPattern: RegExp | undefined;

/**
 * Makes redactText (and so every log line) replace this value wherever it appears. For
 * secrets that come from files or the environment rather than a field named like a secret.
 * Values shorter than 6 characters are ignored (see MIN_SECRET_LENGTH).
 */
export function registerSecret(value: string | undefined): void {
  if (value === undefined) return;
  const v = value.trim();
  if (v.length < MIN_SECRET_LENGTH || knownSecrets.has(v)) return;
  knownSecrets.add(v);
  // Longest first, so a secret that contains another is replaced whole.
  const escaped = [...knownSecrets].sort((a, b) => b.length - a.length).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  knownPattern = new RegExp(escaped.join('|'), 'g');
}

/** Environment variables whose value is a credential by their name (BERTH_HTTP_TOKEN, REGISTRY_PASSWORD, ...). */
const SECRET_ENV = /(^|_)(TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|PRIVATE_?KEY|CREDENTIALS?)($|_)/i;

/** Registers the values of this environment's credential variables (by name), for value-based redaction. */
export function registerEnvSecrets(env: NodeJS.ProcessEnv): void {
  for (const [name, value] of Object.entries(env)) if (SECRET_ENV.test(name)) registerSecret(value);
}

/**
 * Any text with the credentials in its URLs, query fragments and Authorization headers, PEM
 * private keys, and every registered secret value replaced by ***.
 */
export function redactText(text: string): string {
  const known = knownPattern === undefined ? text : text.replace(knownPattern, REDACTED);
  return known
    .replace(PEM_PRIVATE_KEY, REDACTED)
    .replace(URL_IN_TEXT, (url) => {
      // A URL ends a sentence now and then: keep trailing punctuation out of the parse.
      const m = /^(.*?)([.,;:)\]]*)$/.exec(url);
      return m === null ? redactUrl(url) : `${redactUrl(m[1]!)}${m[2]!}`;
    })
    .replace(PARAM_IN_TEXT, (_all, lead: string, name: string, value: string) => (value === REDACTED ? `${lead}${name}=${value}` : `${lead}${name}=${REDACTED}`))
    .replace(AUTH_HEADER_IN_TEXT, (_all, name: string, sep: string, scheme: string | undefined) => `${name}${sep}${scheme !== undefined ? `${scheme} ` : ''}${REDACTED}`);
}

/** Header values with credentials replaced (Authorization, Cookie, X-Api-Key, ...), for logging a request. */
export function redactHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | string[] | undefined> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, isSecretName(k) ? REDACTED : v]));
}

/**
 * Properties an error's class defines as getters (a DOMException's name, message and code).
 * Built-in ones read internal slots that only the real error has, so on a copy they throw.
 */
function inheritedGetters(err: Error): Map<string, boolean> {
  const keys = new Map<string, boolean>();
  for (let proto = Object.getPrototypeOf(err) as object | null; proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const [key, desc] of Object.entries(Object.getOwnPropertyDescriptors(proto))) {
      if (desc.get !== undefined && !keys.has(key)) keys.set(key, desc.enumerable === true);
    }
  }
  return keys;
}

/** A copy of an Error with its message, stack, cause and fields redacted, keeping its class for the log's `type`. */
function redactError(err: Error, seen: WeakSet<object>): Error {
  const copy = Object.create(Object.getPrototypeOf(err) as object) as Error;
  const keys = new Map<string, boolean>(inheritedGetters(err));
  for (const key of Object.getOwnPropertyNames(err)) keys.set(key, Object.prototype.propertyIsEnumerable.call(err, key));
  for (const [key, enumerable] of keys) {
    let value: unknown;
    try {
      // Read on the real error, where a built-in getter works; the copy gets a plain value.
      value = (err as unknown as Record<string, unknown>)[key];
    } catch {
      continue;
    }
    Object.defineProperty(copy, key, { value: redactValue(value, seen, key), enumerable, writable: true, configurable: true });
  }
  return copy;
}

// Log fields whose whole value is a credential. Narrower than SECRET_NAME: a field named
// `publicKey` or `keyPath` is no secret, and its value is still searched for URLs.
// Docker's auth config names its credentials password, auth (base64 user:password), identitytoken, registrytoken.
const SECRET_FIELD =
  /^(authorization|proxy-authorization|cookie|set-cookie|x-api-key|password|passwd|passphrase|secret|token|access_token|api_?key|private_?key|(client|webhook|hmac)_?secret|auth|identitytoken|registrytoken|registry_?password)$/i;

function redactValue(value: unknown, seen: WeakSet<object>, key?: string): unknown {
  if (typeof value === 'string') return key !== undefined && SECRET_FIELD.test(key) ? REDACTED : redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return value;
  seen.add(value);
  if (value instanceof Error) return redactError(value, seen);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, seen));
  const proto = Object.getPrototypeOf(value) as unknown;
  // Class instances other than errors (a Date, a Buffer) are left to the logger.
  if (proto !== Object.prototype && proto !== null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactValue(v, seen, k)]));
}

/** A deep copy of a log record's fields with every credential replaced. */
export function redactDeep<T>(value: T): T {
  return redactValue(value, new WeakSet()) as T;
}

/**
 * pino options that redact every log line: the fields (at any depth, errors included) and
 * the message. pino's own `redact` only knows fixed paths, and credentials hide inside
 * strings (an error message quoting a URL), so this works on values.
 */
export const redactingLogOptions: Pick<LoggerOptions, 'formatters' | 'hooks'> = {
  formatters: {
    log: (fields) => redactDeep(fields),
  },
  hooks: {
    logMethod(args, method) {
      const clean = args.map((a: unknown) => (typeof a === 'string' ? redactText(a) : a));
      // pino's method signature is overloaded; the arguments go through unchanged in number and kind.
      return method.apply(this, clean as Parameters<typeof method>);
    },
  },
};

// `key: value` in YAML (the key may be quoted) and `- KEY=value` in a list (compose's list form of environment).
const YAML_ENTRY = /^(\s*)(-\s+)?(["']?)([^\s"':=#][^"':=#]*?)\3(\s*:\s+|=)(.*)$/;

/**
 * A compose file (YAML, as berth renders it) with the values of credential-named keys
 * (POSTGRES_PASSWORD, api_key, an auth label: any key with a word of SECRET_WORDS) replaced
 * by ***, and everything redactText finds (registered secrets, URL credentials, private keys).
 * Line by line, so two redacted files still diff line for line; a redacted value's
 * continuation lines are dropped. A key with no value of its own (`secrets:` over a mapping)
 * keeps its children, whose own keys are judged in turn.
 */
export function redactComposeText(text: string): string {
  const out: string[] = [];
  let skipDeeperThan: number | undefined;
  for (const line of redactText(text).split('\n')) {
    const indent = /^\s*/.exec(line)![0].length;
    if (skipDeeperThan !== undefined) {
      if (line.trim() === '' || indent > skipDeeperThan) continue;
      skipDeeperThan = undefined;
    }
    const m = YAML_ENTRY.exec(line);
    if (m === null || !isSecretName(m[4]!) || m[6]!.trim() === '' || m[6]!.trim() === REDACTED || m[6]!.trim().startsWith('#')) {
      out.push(line);
      continue;
    }
    const [, lead, dash = '', quote, key, sep] = m as unknown as [string, string, string | undefined, string, string, string];
    out.push(`${lead}${dash}${quote}${key}${quote}${sep}${REDACTED}`);
    // A key with a value of its own has no children: deeper lines are that value going on
    // (a block scalar, a long string the YAML writer folded, a quoted string left open).
    skipDeeperThan = lead.length;
  }
  return out.join('\n');
}
