// Editing a Stack manifest on a person's behalf (`berth rollback`, `berth approve`): set
// spec.version and spec.images, or spec.approve, and nothing else. The manifest is the person's file, so the edit changes only
// the bytes of the values it sets, keeps every comment and every other byte, refuses when
// the file changed under it, and goes through the atomic writer so no one ever sees half a
// file.
//
// The yaml Document's toString() keeps comments but re-renders the whole file (comment
// spacing, indentation, CRLF, flow padding, folded text), so it is the fallback, not the
// way: the edit is spliced into the original text at the ranges the parser reports, and
// whatever is written is parsed back and compared with the intended result first.
import { chmod, chown, readFile, realpath, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { type Document, isMap, isScalar, type Pair, parseDocument, Scalar, stringify, type YAMLMap } from 'yaml';
import type { ResolvedStack } from '../api/types.js';
import { InvalidManifestError, parseYaml, validateStack } from '../api/validate.js';
import { writeFileAtomic } from '../util/atomic.js';

export interface TargetEdit {
  version: string;
  /** Service name -> image pinned by digest. Replaces spec.images as a whole; empty removes it. */
  images: Record<string, string>;
  /** spec.approve: set when the edit is itself a person's approval (a rollback in notify mode). */
  approve?: string;
}

export interface EditResult {
  file: string;
  /** False when the manifest already had these values; nothing was written then. */
  changed: boolean;
  /** spec.version and spec.images as they were before the edit. */
  before: { version?: string; images: Record<string, string> };
}

/** The file is not the text the caller (or this edit) based its decision on: someone else edited it. */
export class ConcurrentEditError extends Error {
  readonly file: string;
  constructor(file: string, since: string) {
    super(`${file} changed since ${since}; nothing was written. Look at what changed, then run the command again.`);
    this.name = 'ConcurrentEditError';
    this.file = file;
  }
}

/**
 * Sets spec.version and spec.images of the Stack in `file` (keeping comments, key order and
 * formatting of everything else), validates the result against the Stack schema, and writes
 * it atomically. `expectText`, when given, is the file content the caller based its decision
 * on: if the file changed since, refuse (ConcurrentEditError) rather than overwrite someone's
 * edit. `check`, when given, sees the edited Stack before anything is written and returns why
 * berth could not use it (a compose file without a service it pins, say), or undefined: a
 * manifest berth would only report as InvalidSpec is refused instead of written.
 */
export async function setStackTarget(
  file: string,
  edit: TargetEdit,
  opts: { expectText?: string; check?: (stack: ResolvedStack) => Promise<string | undefined> } = {},
): Promise<EditResult> {
  const text = await readManifestText(file);
  if (opts.expectText !== undefined && text !== opts.expectText) {
    throw new ConcurrentEditError(file, 'the caller read it');
  }
  // The file as it is must be a valid Stack: an edit on top of a broken file would be
  // blamed for problems it did not cause, and the person should see the real ones.
  const current = parseYaml(file, text);
  const stack = validateStack(file, current);
  const before = { version: stack.spec.version, images: { ...(stack.spec.images ?? {}) } };
  const approved = edit.approve === undefined || stack.spec.approve === edit.approve;
  if (before.version === edit.version && isDeepStrictEqual(before.images, edit.images) && approved) {
    return { file, changed: false, before };
  }

  const expected = withTarget(current, edit);
  let edited: ResolvedStack;
  try {
    edited = validateStack(file, expected);
  } catch (err) {
    if (!(err instanceof InvalidManifestError)) throw err;
    throw new InvalidManifestError(file, [
      { path: '', message: 'the new target would make the manifest invalid, so nothing was written' },
      ...err.problems,
    ]);
  }
  const unusable = opts.check === undefined ? undefined : await opts.check(edited);
  if (unusable !== undefined) {
    throw new InvalidManifestError(file, [{ path: '', message: `berth could not use the edited manifest, so nothing was written: ${unusable}` }]);
  }
  const out = render(file, text, edit, expected);
  await writeEdited(file, text, out);
  return { file, changed: true, before };
}

/** Replaces `text` (the file as read) with `out`, atomically, keeping the file's owner and mode. */
async function writeEdited(file: string, text: string, out: string): Promise<void> {
  // Write through a symlink to the file it names, so the link stays a link.
  const target = await realpath(file);
  const was = await stat(target);
  // Narrow the window in which a hand edit made since the read would be overwritten. It
  // cannot be closed: editors take no lock berth could respect.
  if ((await readManifestText(target)) !== text) throw new ConcurrentEditError(file, 'berth read it a moment ago');
  await writeFileAtomic(target, out, was.mode & 0o777);
  await keepOwnerAndMode(target, was.uid, was.gid, was.mode & 0o7777);
}

export interface ApproveEditResult {
  file: string;
  /** False when spec.approve already had this value; nothing was written then. */
  changed: boolean;
  /** spec.approve as it was before the edit. */
  before?: string;
}

/**
 * Sets spec.approve of the Stack in `file` (`berth approve`, the console's Apply update) and
 * nothing else, with the same guarantees as setStackTarget: every other byte kept, the result
 * validated and proven to parse to the intended value, written atomically, and refused
 * (ConcurrentEditError) when the file is no longer `expectText`.
 */
export async function setStackApprove(file: string, approve: string, opts: { expectText?: string } = {}): Promise<ApproveEditResult> {
  const text = await readManifestText(file);
  if (opts.expectText !== undefined && text !== opts.expectText) throw new ConcurrentEditError(file, 'the caller read it');
  const current = parseYaml(file, text);
  const stack = validateStack(file, current);
  const before = stack.spec.approve;
  if (before === approve) return { file, changed: false, ...(before !== undefined ? { before } : {}) };
  const expected = structuredClone(current) as { spec: Record<string, unknown> };
  expected.spec['approve'] = approve;
  try {
    validateStack(file, expected);
  } catch (err) {
    if (!(err instanceof InvalidManifestError)) throw err;
    throw new InvalidManifestError(file, [{ path: '', message: 'the approval would make the manifest invalid, so nothing was written' }, ...err.problems]);
  }
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const spliced = spliceApprove(text, parseDocument(text, { uniqueKeys: true }), approve, eol);
  let out: string;
  if (spliced !== undefined && parsesTo(file, spliced, expected)) out = spliced;
  else {
    const doc = parseDocument(text, { uniqueKeys: true });
    doc.setIn(['spec', 'approve'], approve);
    const rewritten = doc.toString({ lineWidth: 0 });
    out = eol === '\n' ? rewritten : rewritten.replace(/\n/g, eol);
    if (!parsesTo(file, out, expected)) {
      throw new Error(`${file}: setting spec.approve would change other fields too (an anchor they alias?); nothing was written. Edit the file by hand.`);
    }
  }
  await writeEdited(file, text, out);
  return { file, changed: true, ...(before !== undefined ? { before } : {}) };
}

/** spec.approve set in the original text: its value replaced, or a new line after spec.mode (else before the first field of spec). */
function spliceApprove(text: string, doc: Document, approve: string, eol: string): string | undefined {
  const spec = doc.get('spec', true);
  if (!isMap(spec) || spec.flow) return undefined;
  const oneLine = (node: unknown): node is Scalar & { range: [number, number, number] } =>
    isScalar(node) && !!node.range && !text.slice(node.range[0], node.range[1]).includes('\n');
  const existing = pairOf(spec, 'approve')?.value;
  if (existing !== undefined) {
    if (!oneLine(existing)) return undefined;
    return text.slice(0, existing.range[0]) + renderScalar(approve, existing.type) + text.slice(existing.range[1]);
  }
  const firstKey = spec.items[0]?.key;
  if (!isScalar(firstKey) || !firstKey.range) return undefined;
  const firstLine = text.lastIndexOf('\n', firstKey.range[0] - 1) + 1;
  const indent = text.slice(firstLine, firstKey.range[0]);
  if (!/^ *$/.test(indent)) return undefined;
  const version = pairOf(spec, 'version')?.value;
  const line = `${indent}approve: ${renderScalar(approve, isScalar(version) ? version.type : undefined)}${eol}`;
  const mode = pairOf(spec, 'mode')?.value;
  if (oneLine(mode)) {
    const nl = text.indexOf('\n', mode.range[1]);
    const at = nl === -1 ? text.length : nl + 1;
    return text.slice(0, at) + (nl === -1 ? eol : '') + line + text.slice(at);
  }
  return text.slice(0, firstLine) + line + text.slice(firstLine);
}

async function readManifestText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InvalidManifestError(file, [{ path: '', message: `cannot be read (${code ?? String(err)})` }]);
  }
}

/** The plain value of the manifest with the new target in place of the old. */
function withTarget(current: unknown, edit: TargetEdit): unknown {
  // validateStack accepted `current`, so it is an object whose spec is an object.
  const next = structuredClone(current) as { spec: Record<string, unknown> };
  next.spec['version'] = edit.version;
  if (edit.approve !== undefined) next.spec['approve'] = edit.approve;
  if (Object.keys(edit.images).length === 0) delete next.spec['images'];
  else next.spec['images'] = { ...edit.images };
  return next;
}

/** The new file text: spliced when the file's shape allows it, re-rendered otherwise, and in either case proven to parse to `expected`. */
function render(file: string, text: string, edit: TargetEdit, expected: unknown): string {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const spliced = splice(text, parseDocument(text, { uniqueKeys: true }), edit, eol);
  if (spliced !== undefined && parsesTo(file, spliced, expected)) return spliced;
  const rewritten = rewrite(parseDocument(text, { uniqueKeys: true }), edit, eol);
  if (parsesTo(file, rewritten, expected)) return rewritten;
  // Both ways changed more than the target: an anchor on spec.version or spec.images that
  // other fields alias is the one way known to get here.
  throw new Error(
    `${file}: setting spec.version and spec.images would change other fields too (an anchor they alias?); nothing was written. Edit the file by hand.`,
  );
}

function parsesTo(file: string, text: string, expected: unknown): boolean {
  try {
    return isDeepStrictEqual(parseYaml(file, text), expected);
  } catch {
    return false;
  }
}

/** Re-renders the whole document: keeps comments and values, not the exact formatting. */
function rewrite(doc: Document, edit: TargetEdit, eol: string): string {
  doc.setIn(['spec', 'version'], edit.version);
  if (edit.approve !== undefined) doc.setIn(['spec', 'approve'], edit.approve);
  const entries = Object.entries(edit.images);
  const images = doc.getIn(['spec', 'images'], true);
  if (entries.length === 0) {
    doc.deleteIn(['spec', 'images']);
  } else if (isMap(images)) {
    // Updating the map in place keeps the comments of the entries that stay.
    for (const pair of [...images.items]) {
      const name = isScalar(pair.key) ? String(pair.key.value) : undefined;
      if (name === undefined || !(name in edit.images)) images.delete(pair.key);
    }
    for (const [name, image] of entries) images.set(name, image);
  } else {
    doc.setIn(['spec', 'images'], doc.createNode(edit.images));
  }
  const out = doc.toString({ lineWidth: 0 });
  return eol === '\n' ? out : out.replace(/\n/g, eol);
}

interface Replacement {
  start: number;
  end: number;
  text: string;
}

/**
 * The edit as replacements of the original text at the parser's ranges, or undefined when
 * the file has a shape this does not handle (a flow-style spec, a multi-line version, an
 * alias where a value should be), which `rewrite` then handles.
 */
function splice(text: string, doc: Document, edit: TargetEdit, eol: string): string | undefined {
  const lineStart = (pos: number) => text.lastIndexOf('\n', pos - 1) + 1;
  // Just past the newline that ends the line holding `pos`.
  const lineEnd = (pos: number) => {
    const i = text.indexOf('\n', pos);
    return i === -1 ? text.length : i + 1;
  };
  // The spaces before a key that starts its line, or undefined when something else is there.
  const indentOf = (pos: number) => {
    const s = text.slice(lineStart(pos), pos);
    return /^ *$/.test(s) ? s : undefined;
  };
  const singleLine = (node: unknown): node is Scalar & { range: [number, number, number] } =>
    isScalar(node) && !!node.range && !text.slice(node.range[0], node.range[1]).includes('\n');
  // The whole lines of a pair: its key's line through the line its value ends on.
  const linesOf = (pair: Pair): [number, number] | undefined => {
    const key = isScalar(pair.key) ? pair.key.range : undefined;
    if (!key || indentOf(key[0]) === undefined) return undefined;
    const valueEnd = isScalar(pair.value) || isMap(pair.value) ? (pair.value.range?.[2] ?? key[1]) : undefined;
    if (valueEnd === undefined) return undefined;
    return [lineStart(key[0]), lineEnd(Math.max(valueEnd - 1, key[1]))];
  };
  // A new value in place of the old one; an inline comment after it keeps its column (as
  // far as the spaces before it allow), so a hand-aligned block of comments stays aligned.
  const value = (range: [number, number, number], type: Scalar.Type | undefined, next: string): Replacement => {
    const newText = renderScalar(next, type);
    const gap = /^( +)#/.exec(text.slice(range[1], lineEnd(range[1])));
    if (gap === null) return { start: range[0], end: range[1], text: newText };
    const width = range[1] - range[0];
    const pad = Math.max(1, gap[1]!.length + width - newText.length);
    return { start: range[0], end: range[1] + gap[1]!.length, text: newText + ' '.repeat(pad) };
  };
  // Appending after the last line of a file that does not end in a newline needs one first.
  const lineBreakAt = (pos: number) => (pos === text.length && !text.endsWith('\n') ? eol : '');

  const spec = doc.get('spec', true);
  if (!isMap(spec) || spec.flow) return undefined;
  const versionPair = pairOf(spec, 'version');
  const version = versionPair?.value;
  const firstKey = spec.items[0]?.key;
  const specIndent = isScalar(firstKey) && firstKey.range ? indentOf(firstKey.range[0]) : undefined;
  if (specIndent === undefined) return undefined;

  const edits: Replacement[] = [];
  // New lines that belong right after spec.version, in this order: version (when the stack
  // had none), approve, images. One insertion, so they cannot land in each other's order.
  const afterVersion: string[] = [];
  let afterVersionAt: number;
  if (versionPair !== undefined) {
    if (!singleLine(version)) return undefined;
    if (version.value !== edit.version) edits.push(value(version.range, version.type, edit.version));
    afterVersionAt = lineEnd(Math.max(version.range[2] - 1, version.range[1]));
  } else {
    // A stack that follows its channel has no spec.version: the new line goes before
    // spec.channel (or after the last field), so everything the person wrote stays as it was.
    const channelPair = pairOf(spec, 'channel');
    const lastPair = spec.items[spec.items.length - 1];
    const at = channelPair !== undefined ? linesOf(channelPair)?.[0] : lastPair !== undefined ? linesOf(lastPair)?.[1] : undefined;
    if (at === undefined) return undefined;
    afterVersionAt = at;
    afterVersion.push(`${specIndent}version: ${renderScalar(edit.version, undefined)}${eol}`);
  }
  const quoting = isScalar(version) ? version.type : undefined;
  if (edit.approve !== undefined) {
    const approvePair = pairOf(spec, 'approve');
    const approve = approvePair?.value;
    if (approvePair !== undefined) {
      if (!singleLine(approve)) return undefined;
      if (approve.value !== edit.approve) edits.push(value(approve.range, approve.type, edit.approve));
    } else {
      // Right after spec.version, in its quoting, so the two read together.
      afterVersion.push(`${specIndent}approve: ${renderScalar(edit.approve, quoting)}${eol}`);
    }
  }

  const entries = Object.entries(edit.images);
  const imagesPair = pairOf(spec, 'images');
  const images = imagesPair?.value;
  if (imagesPair && entries.length === 0) {
    const lines = linesOf(imagesPair);
    if (!lines) return undefined;
    edits.push({ start: lines[0], end: lines[1], text: '' });
  } else if (isMap(images) && !images.flow && images.items.length > 0) {
    // Entry by entry, so the comments beside the services that stay, stay.
    const first = images.items[0]?.key;
    const entryIndent = isScalar(first) && first.range ? indentOf(first.range[0]) : undefined;
    if (entryIndent === undefined) return undefined;
    const kept = new Set<string>();
    let end = 0;
    for (const pair of images.items) {
      const lines = linesOf(pair);
      if (!lines || !isScalar(pair.key)) return undefined;
      end = lines[1];
      const name = String(pair.key.value);
      const image = edit.images[name];
      if (image === undefined) {
        edits.push({ start: lines[0], end: lines[1], text: '' });
        continue;
      }
      kept.add(name);
      if (!singleLine(pair.value)) return undefined;
      if (pair.value.value !== image) {
        edits.push(value(pair.value.range, pair.value.type, image));
      }
    }
    const added = entries.filter(([name]) => !kept.has(name));
    if (added.length > 0) {
      edits.push({ start: end, end, text: lineBreakAt(end) + added.map(([n, i]) => entryLine(entryIndent, n, i, eol)).join('') });
    }
  } else if (entries.length > 0) {
    // No block of entries to edit (absent, `{}`, flow style): write a fresh block in the
    // file's own indentation, where the old key was or right after spec.version.
    const compose = pairOf(spec, 'compose')?.value;
    const nested = isMap(compose) && !compose.flow && isScalar(compose.items[0]?.key) ? compose.items[0].key.range : undefined;
    const step = nested ? (indentOf(nested[0])?.length ?? 0) - specIndent.length : 0;
    const entryIndent = specIndent + ' '.repeat(step > 0 ? step : 2);
    const block = `${specIndent}images:${eol}${entries.map(([n, i]) => entryLine(entryIndent, n, i, eol)).join('')}`;
    const lines = imagesPair ? linesOf(imagesPair) : undefined;
    if (imagesPair && !lines) return undefined;
    if (lines) edits.push({ start: lines[0], end: lines[1], text: lineBreakAt(lines[0]) + block });
    else afterVersion.push(block);
  }
  if (afterVersion.length > 0) {
    edits.push({ start: afterVersionAt, end: afterVersionAt, text: lineBreakAt(afterVersionAt) + afterVersion.join('') });
  }

  // Back to front, so each range still points at the original bytes.
  edits.sort((a, b) => b.start - a.start || b.end - a.end);
  let out = text;
  let limit = text.length;
  for (const e of edits) {
    if (e.end > limit) return undefined;
    out = out.slice(0, e.start) + e.text + out.slice(e.end);
    limit = e.start;
  }
  return out;
}

function pairOf(map: YAMLMap, key: string): Pair | undefined {
  return map.items.find((p) => isScalar(p.key) && p.key.value === key);
}

function entryLine(indent: string, name: string, image: string, eol: string): string {
  return `${indent}${renderScalar(name, Scalar.PLAIN)}: ${renderScalar(image, Scalar.PLAIN)}${eol}`;
}

/** A one-line YAML scalar for `value`, in the quoting style the old value had when that style can carry it. */
function renderScalar(value: string, type: Scalar.Type | undefined): string {
  const json = JSON.stringify(value); // JSON's escapes are a subset of YAML's double-quoted ones.
  const oneLine = !/[\u0000-\u001f\u007f]/.test(value);
  if (type === Scalar.QUOTE_DOUBLE || !oneLine) return json;
  if (type === Scalar.QUOTE_SINGLE) return `'${value.replace(/'/g, "''")}'`;
  // Plain if the yaml library says plain reads back as the same string (`1.10` would not).
  const plain = stringify(value, { lineWidth: 0 }).replace(/\n$/, '');
  return plain.includes('\n') || /^[|>]/.test(plain) ? json : plain;
}

/**
 * The rename leaves a file owned by berth's user with the mode the umask allowed. Put the
 * person's owner and mode back, so their file stays theirs. Ownership needs root; without it
 * the file keeps berth's user, which is the best an unprivileged writer can do.
 */
async function keepOwnerAndMode(path: string, uid: number, gid: number, mode: number): Promise<void> {
  const now = await stat(path);
  if (now.uid !== uid || now.gid !== gid) {
    await chown(path, uid, gid).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPERM') throw err;
    });
  }
  // After chown, which clears set-id bits.
  if (((await stat(path)).mode & 0o7777) !== mode) await chmod(path, mode);
}

/**
 * The root of the git work tree containing `path` (a folder with `.git` as a dir or a file,
 * walking up to /), or undefined. Symlinks are resolved first: what matters is where the
 * bytes an edit would change live.
 */
export async function findGitCheckout(path: string): Promise<string | undefined> {
  let dir = await realpath(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return resolve(path);
    throw err;
  });
  for (;;) {
    if (await hasGitMarker(dir)) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

async function hasGitMarker(dir: string): Promise<boolean> {
  const marker = join(dir, '.git');
  try {
    const s = await stat(marker);
    // A folder in a plain clone; a file (`gitdir: ...`) in a worktree or a submodule.
    return s.isDirectory() || s.isFile();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ENOTDIR: `dir` is the file itself, on the first step up from a manifest.
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    // Guessing "not in git" here could let berth edit a file git owns.
    throw new Error(`cannot tell whether ${dir} is a git checkout: ${marker} gave ${code ?? String(err)}; check the folder's permissions`);
  }
}
