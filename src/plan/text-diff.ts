// A line-based diff (Myers' O(ND) algorithm) and its unified form, for showing how the compose
// file berth would run differs from the one that runs (`berth diff`, the console's stack
// page). Pure: texts in, lines out. No npm diff package is installed, and this is small.

export type LineOp = 'same' | 'del' | 'add';

export interface DiffLine {
  op: LineOp;
  text: string;
  /** 1-based line number in the old text (same and del lines). */
  old?: number;
  /** 1-based line number in the new text (same and add lines). */
  new?: number;
}

/**
 * Past this many edits the middle of the two texts is shown as removed and added whole:
 * Myers keeps one row per edit, and two unrelated large files would need quadratic memory.
 */
const MAX_EDITS = 2000;

/** The lines of a text; a final newline ends the last line rather than starting an empty one. */
export function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Every line of `a` and `b` in order, each marked same, del (only in a) or add (only in b); the fewest del and add. */
export function diffLines(a: readonly string[], b: readonly string[]): DiffLine[] {
  // Common ends are matched first: most edits of a compose file touch a few lines in the middle.
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const ops: LineOp[] = [];
  for (let i = 0; i < start; i++) ops.push('same');
  ops.push(...middle(a.slice(start, endA), b.slice(start, endB)));
  for (let i = endA; i < a.length; i++) ops.push('same');

  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  for (const op of ops) {
    if (op === 'same') out.push({ op, text: a[i]!, old: ++i, new: ++j });
    else if (op === 'del') out.push({ op, text: a[i]!, old: ++i });
    else out.push({ op, text: b[j]!, new: ++j });
  }
  return out;
}

/** Myers' greedy shortest edit script, as ops in order. */
function middle(a: readonly string[], b: readonly string[]): LineOp[] {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return [...Array<LineOp>(n).fill('del'), ...Array<LineOp>(m).fill('add')];
  const max = Math.min(n + m, MAX_EDITS);
  const off = max + 1;
  // v[off + k]: the furthest x reached on diagonal k (y = x - k) with the current number of edits.
  const v = new Int32Array(2 * max + 3);
  // trace[d]: v on diagonals -d-1..d+1 before edit d was taken, to walk back along.
  const trace: Int32Array[] = [];
  for (let d = 0; d <= max; d++) {
    trace.push(v.slice(off - d - 1, off + d + 2));
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[off + k - 1]! < v[off + k + 1]!) ? v[off + k + 1]! : v[off + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[off + k] = x;
      if (x >= n && y >= m) return backtrack(trace, n, m);
    }
  }
  return [...Array<LineOp>(n).fill('del'), ...Array<LineOp>(m).fill('add')];
}

function backtrack(trace: Int32Array[], n: number, m: number): LineOp[] {
  const ops: LineOp[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d >= 0; d--) {
    const row = trace[d]!;
    const at = (k: number) => row[k + d + 1]!;
    const k = x - y;
    const prevK = k === -d || (k !== d && at(k - 1) < at(k + 1)) ? k + 1 : k - 1;
    const prevX = at(prevK);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      ops.push('same');
      x--;
      y--;
    }
    if (d > 0) ops.push(x === prevX ? 'add' : 'del');
    x = prevX;
    y = prevY;
  }
  return ops.reverse();
}

/** A run of lines shown (changes with their context), or a run of unchanged lines folded away. */
export type Segment = { kind: 'shown'; lines: DiffLine[] } | { kind: 'folded'; lines: DiffLine[] };

/**
 * The diff cut into shown runs (each change with up to `context` unchanged lines either side)
 * and the unchanged runs between them, folded. With no change at all, everything is folded.
 */
export function fold(lines: readonly DiffLine[], context = 3): Segment[] {
  const keep = lines.map(() => false);
  lines.forEach((l, i) => {
    if (l.op === 'same') return;
    for (let j = Math.max(0, i - context); j <= Math.min(lines.length - 1, i + context); j++) keep[j] = true;
  });
  const out: Segment[] = [];
  lines.forEach((l, i) => {
    const kind = keep[i] ? 'shown' : 'folded';
    const last = out[out.length - 1];
    if (last !== undefined && last.kind === kind) last.lines.push(l);
    else out.push({ kind, lines: [l] });
  });
  return out;
}

/** Whether the two texts differ at all. */
export function changed(lines: readonly DiffLine[]): boolean {
  return lines.some((l) => l.op !== 'same');
}

/** The diff in unified format (`diff -u`), headed by the two names; '' when nothing differs. */
export function unified(lines: readonly DiffLine[], from: string, to: string, context = 3): string {
  if (!changed(lines)) return '';
  let out = `--- ${from}\n+++ ${to}\n`;
  let oldSeen = 0;
  let newSeen = 0;
  for (const seg of fold(lines, context)) {
    const olds = seg.lines.filter((l) => l.op !== 'add').length;
    const news = seg.lines.filter((l) => l.op !== 'del').length;
    if (seg.kind === 'shown') {
      // diff -u names the line before an empty range, so "-0,0" for an empty old file.
      out += `@@ -${olds === 0 ? oldSeen : oldSeen + 1},${olds} +${news === 0 ? newSeen : newSeen + 1},${news} @@\n`;
      for (const l of seg.lines) out += `${l.op === 'same' ? ' ' : l.op === 'del' ? '-' : '+'}${l.text}\n`;
    }
    oldSeen += olds;
    newSeen += news;
  }
  return out;
}
