// The line diff behind `berth diff` and the console's compose-file card: the fewest removed and
// added lines, the unified format `diff -u` writes, and long unchanged runs folded away.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffLines, fold, splitLines, unified, type DiffLine } from '../../src/plan/text-diff.js';

/** A diff as one string per line: ' x', '-x', '+x'. */
const marks = (lines: DiffLine[]) => lines.map((l) => `${l.op === 'same' ? ' ' : l.op === 'del' ? '-' : '+'}${l.text}`);

const cases: Array<[string, string[], string[], string[]]> = [
  ['two empty texts', [], [], []],
  ['everything added to an empty text', [], ['a', 'b'], ['+a', '+b']],
  ['everything removed', ['a', 'b'], [], ['-a', '-b']],
  ['equal texts', ['a', 'b'], ['a', 'b'], [' a', ' b']],
  ['one line changed in the middle', ['a', 'b', 'c'], ['a', 'x', 'c'], [' a', '-b', '+x', ' c']],
  ['a line inserted', ['a', 'c'], ['a', 'b', 'c'], [' a', '+b', ' c']],
  ['a line removed at the start', ['a', 'b', 'c'], ['b', 'c'], ['-a', ' b', ' c']],
  ['a line appended', ['a'], ['a', 'b'], [' a', '+b']],
  ['a moved line: the fewest edits keep the longest common run', ['a', 'b', 'c', 'd'], ['b', 'c', 'd', 'a'], ['-a', ' b', ' c', ' d', '+a']],
  ['nothing in common', ['a', 'b'], ['c', 'd'], ['-a', '-b', '+c', '+d']],
  ['Myers\' own example (ABCABBA to CBABAC): 5 edits', [...'ABCABBA'], [...'CBABAC'], ['-A', '-B', ' C', '+B', ' A', ' B', '-B', ' A', '+C']],
];
for (const [what, a, b, want] of cases) {
  test(`diffLines: ${what}`, () => assert.deepEqual(marks(diffLines(a, b)), want));
}

test('diffLines numbers each line in the text it comes from', () => {
  assert.deepEqual(diffLines(['a', 'b'], ['a', 'x', 'b']), [
    { op: 'same', text: 'a', old: 1, new: 1 },
    { op: 'add', text: 'x', new: 2 },
    { op: 'same', text: 'b', old: 2, new: 3 },
  ]);
});

test('diffLines finds the fewest edits for random texts (checked against an LCS table)', () => {
  let seed = 7;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
  for (let round = 0; round < 200; round++) {
    const a = Array.from({ length: rand(12) }, () => 'abc'[rand(3)]!);
    const b = Array.from({ length: rand(12) }, () => 'abc'[rand(3)]!);
    const d = diffLines(a, b);
    assert.deepEqual(d.filter((l) => l.op !== 'add').map((l) => l.text), a, 'the old side reads back');
    assert.deepEqual(d.filter((l) => l.op !== 'del').map((l) => l.text), b, 'the new side reads back');
    const lcs = Array.from({ length: a.length + 1 }, () => Array<number>(b.length + 1).fill(0));
    for (let i = a.length - 1; i >= 0; i--) for (let j = b.length - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    assert.equal(d.filter((l) => l.op === 'same').length, lcs[0]![0], `${a.join('')} -> ${b.join('')}`);
  }
});

test('splitLines: a final newline ends the last line, CRLF counts as one break', () => {
  assert.deepEqual(splitLines(''), []);
  assert.deepEqual(splitLines('a\nb\n'), ['a', 'b']);
  assert.deepEqual(splitLines('a\r\nb'), ['a', 'b']);
  assert.deepEqual(splitLines('a\n\n'), ['a', '']);
});

const file = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1}`);

test('fold shows each change with 3 lines of context and folds the unchanged runs around and between', () => {
  const a = file(20);
  const b = [...a];
  b[1] = 'changed 2';
  b[15] = 'changed 16';
  const segs = fold(diffLines(a, b));
  assert.deepEqual(segs.map((s) => [s.kind, s.lines.length]), [['shown', 6], ['folded', 7], ['shown', 8], ['folded', 1]]);
  assert.equal(segs[1]!.lines[0]!.text, 'line 6');
});

test('fold of equal texts folds them whole', () => {
  assert.deepEqual(fold(diffLines(file(5), file(5))).map((s) => s.kind), ['folded']);
});

test('unified writes what diff -u writes', () => {
  const a = file(10);
  const b = [...a.slice(0, 4), 'new 5', ...a.slice(5), 'line 11'];
  assert.equal(
    unified(diffLines(a, b), 'revision 1 (runs)', 'revision 2 (next pass)'),
    ['--- revision 1 (runs)', '+++ revision 2 (next pass)', '@@ -2,9 +2,10 @@', ' line 2', ' line 3', ' line 4', '-line 5', '+new 5', ' line 6', ' line 7', ' line 8', ' line 9', ' line 10', '+line 11', ''].join('\n'),
  );
  assert.equal(unified(diffLines([], ['a']), 'nothing', 'next'), '--- nothing\n+++ next\n@@ -0,0 +1,1 @@\n+a\n');
  assert.equal(unified(diffLines(['a'], ['a']), 'x', 'y'), '', 'no difference, no output');
});

test('unified numbers a later hunk by the lines before it on each side', () => {
  const a = file(30);
  const b = ['inserted', ...a.slice(0, 25), 'changed 26', ...a.slice(26)];
  assert.match(unified(diffLines(a, b), 'a', 'b'), /@@ -1,3 \+1,4 @@[\s\S]*@@ -23,7 \+24,7 @@/);
});

test('two large unrelated texts are still diffed (whole, past the edit limit) without running out of memory', () => {
  const a = Array.from({ length: 3000 }, (_, i) => `a${i}`);
  const b = Array.from({ length: 3000 }, (_, i) => `b${i}`);
  const d = diffLines(a, b);
  assert.equal(d.filter((l) => l.op === 'del').length, 3000);
  assert.equal(d.filter((l) => l.op === 'add').length, 3000);
});
