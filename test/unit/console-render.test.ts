// The console's pages render every status string as text: versions, reasons, messages and
// names come from manifests, vendors' feeds and the engine, and any of them may hold markup.
// Release notes are Markdown with raw HTML off and only web links.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StackStatusBody } from '../../src/api/types.js';
import { escapeHtml, html } from '../../src/web/console/html.js';
import { renderNotes } from '../../src/web/console/markdown.js';
import { diffLines } from '../../src/plan/text-diff.js';
import { layout, overviewMain, phaseOf, stackMain, type PageContext } from '../../src/web/console/views.js';

const EVIL = '<script>alert(1)</script>';
const NOW = new Date('2026-01-02T03:04:05Z');

function hostileStatus(): StackStatusBody {
  return {
    mode: 'notify',
    currentVersion: `1.0.0${EVIL}`,
    targetVersion: `2.0.0"><img src=x onerror=alert(2)>`,
    revision: 3,
    lastGoodRevision: 2,
    lastError: `compose failed: ${EVIL}`,
    lastCheckIn: '2026-01-02T03:00:00Z',
    available: {
      version: `2.0.0${EVIL}`,
      channel: `stable${EVIL}`,
      notes: `# Big release\n\n${EVIL}\n\n<b>raw</b> **bold** [click](javascript:alert(3)) [docs](https://example.com/docs)\n\n![img](https://evil.example/x.png)`,
      change: 'major',
      waitingFor: `approval ${EVIL}`,
    },
    history: [
      { revision: 3, version: `1.0.0${EVIL}`, operation: 'update', started: '2026-01-02T02:00:00Z', finished: '2026-01-02T02:00:42Z', outcome: 'Healthy', reason: `Passed${EVIL}`, message: `ok ${EVIL}` },
      { revision: 2, version: '0.9.0', operation: 'rollback', started: '2026-01-01T02:00:00Z', finished: '2026-01-01T02:01:00Z', outcome: 'RolledBack', reason: 'Unhealthy' },
    ],
    services: [
      {
        name: `web${EVIL}`,
        desiredImage: `registry.local/web${EVIL}@sha256:${'a'.repeat(64)}`,
        containers: [{ id: 'abc', name: `shop-web-1${EVIL}`, state: 'running', health: 'healthy', imageId: `sha256:${EVIL}` }],
      },
    ],
    conditions: [
      { type: 'Ready', status: 'True', reason: `Converged${EVIL}`, message: `runs ${EVIL}`, lastTransitionTime: '2026-01-02T01:00:00Z' },
      { type: 'AwaitingApproval', status: 'True', reason: 'ApprovalRequired', message: `set spec.approve to "2.0.0${EVIL}"`, lastTransitionTime: '2026-01-02T01:00:00Z' },
    ],
  };
}

const signedIn: PageContext = { signedIn: true, csrf: `csrf${EVIL}`, now: NOW, flash: { tone: 'bad', text: `refused ${EVIL}` } };

test('escapeHtml turns every character that can open markup or leave an attribute into an entity', () => {
  assert.equal(escapeHtml(`<a href="x" title='y'>&\``), '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&#96;');
  assert.equal(html`<p title="${'"><b>'}">${'<i>'}</p>`.text, '<p title="&quot;&gt;&lt;b&gt;">&lt;i&gt;</p>');
});

test('a stack page shows a version, reason, message, service or container name holding <script> as text', () => {
  const main = stackMain({ name: 'shop', status: hostileStatus(), rollback: [{ revision: 2, version: `0.9.0${EVIL}` }], rollbackRevisions: [], next: { images: [{ service: `web${EVIL}`, running: `a${EVIL}`, next: `b${EVIL}` }], note: `note ${EVIL}` } }, signedIn);
  const page = layout(`shop${EVIL}`, signedIn, main).text.replace(/<script src="\/static\/console\.[0-9a-f]+\.js" defer><\/script>/, '');
  assert.doesNotMatch(page, /<script/i, 'no script element from status strings');
  assert.doesNotMatch(page, /<img/i, 'no element smuggled out of an attribute');
  assert.match(page, /1\.0\.0&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.match(page, /Converged&lt;script&gt;/);
  assert.match(page, /refused &lt;script&gt;/, 'the flash message is escaped too');
  assert.match(page, /value="csrf&lt;script&gt;/);
});

test('the overview shows hostile status strings as text', () => {
  const page = overviewMain(
    [
      { name: 'shop', status: hostileStatus() },
      { name: 'broken', error: `cannot read ${EVIL}` },
      { name: `bad${EVIL}.yaml`, file: true, status: { services: [], conditions: [{ type: 'SpecInvalid', status: 'True', reason: 'InvalidSpec', message: `line 1: ${EVIL}`, lastTransitionTime: '2026-01-01T00:00:00Z' }] } },
    ],
    signedIn,
  ).text;
  assert.match(page, /bad&lt;script&gt;alert\(1\)&lt;\/script&gt;\.yaml[\s\S]*Invalid[\s\S]*line 1: &lt;script&gt;/, 'a manifest that never named its stack is listed too');
  assert.doesNotMatch(page, /<script/i);
  assert.match(page, /2\.0\.0&lt;script&gt;/);
  assert.match(page, /cannot read &lt;script&gt;/);
});

test('release notes: Markdown renders, raw HTML shows as text, only web links, no remote images', () => {
  const notes = renderNotes(hostileStatus().available!.notes!).text;
  assert.match(notes, /<h1>Big release<\/h1>/);
  assert.match(notes, /<strong>bold<\/strong>/);
  assert.doesNotMatch(notes, /<script|<b>|<img/i);
  assert.match(notes, /&lt;script&gt;/);
  assert.doesNotMatch(notes, /href="javascript:/i);
  assert.match(notes, /<a href="https:\/\/example\.com\/docs" rel="noopener noreferrer nofollow" target="_blank">docs<\/a>/);
});

test('the page loads its style and script from files and has no inline script or style', () => {
  const page = layout('shop', signedIn, html`<p>x</p>`, '/events?stack=shop').text;
  assert.match(page, /<link rel="stylesheet" href="\/static\/console\.[0-9a-f]{12}\.css">/);
  assert.match(page, /<script src="\/static\/console\.[0-9a-f]{12}\.js" defer><\/script>/);
  assert.doesNotMatch(page, /<style|\sstyle=|<script>|\son[a-z]+=/i);
});

test('without a session the page offers sign-in instead of forms', () => {
  const page = stackMain({ name: 'shop', status: hostileStatus(), rollback: [{ revision: 2, version: '0.9.0' }], rollbackRevisions: [] }, { signedIn: false, now: NOW }).text;
  assert.doesNotMatch(page, /<form/);
  assert.match(page, /Sign in to apply this update/);
  assert.match(page, /Sign in to roll back/);
});

test('a signed-in page offers Apply update for the version that waits, and Roll back to a kept revision', () => {
  const s = hostileStatus();
  s.available!.version = '2.0.0';
  const page = stackMain({ name: 'shop', status: s, rollback: [{ revision: 2, version: '0.9.0' }], rollbackRevisions: [] }, { signedIn: true, csrf: 'c', now: NOW }).text;
  assert.match(page, /action="\/stacks\/shop\/approve"[\s\S]*name="version" value="2\.0\.0"[\s\S]*Apply update to 2\.0\.0/);
  assert.match(page, /action="\/stacks\/shop\/rollback"[\s\S]*<option value="2">revision 2 · 0\.9\.0<\/option>/);
});

test('the one-sentence summary says what a person must know first', () => {
  const s = hostileStatus();
  s.currentVersion = '1.0.0';
  s.available!.version = '2.0.0';
  assert.deepEqual(phaseOf(s), { tone: 'info', label: 'Ready', sentence: 'Runs 1.0.0. Version 2.0.0 is available and waits for your approval.' });
  s.operation = { id: 'x', kind: 'update', revision: 4, targetKey: 'k', desiredKey: 'k', step: 'verify', started: '2026-01-02T03:00:00Z', stepStarted: '2026-01-02T03:00:00Z' };
  s.targetVersion = '2.0.0';
  assert.equal(phaseOf(s).sentence, 'Updating to 2.0.0: step verify.');
});

test('the compose file diff shows every line as text, added and removed lines marked, long unchanged runs folded', () => {
  const running = ['services:', '  web:', `    image: shop@sha256:old`, ...Array.from({ length: 12 }, (_, i) => `    # unchanged ${i}`), `    command: echo ${EVIL}`];
  const next = ['services:', '  web:', `    image: shop@sha256:new${EVIL}`, ...running.slice(3)];
  const view = {
    name: 'shop',
    status: hostileStatus(),
    rollback: [],
    rollbackRevisions: [],
    next: { images: [], compose: { from: `revision 3 (runs)${EVIL}`, to: 'revision 4 (next pass)', lines: diffLines(running, next) } },
  };
  const page = stackMain(view, signedIn).text;
  assert.doesNotMatch(page, /<script/i);
  const diff = /<div class="textdiff" id="compose-diff"><div class="td-inner">([\s\S]*?)<\/div><\/div>\n<p/.exec(page)?.[1] ?? '';
  assert.match(diff, /<div class="dl del"><span class="ln">3<\/span><span class="ln"><\/span><span class="mk">−<\/span><code>    image: shop@sha256:old<\/code><\/div>/);
  assert.match(diff, /<div class="dl add"><span class="ln"><\/span><span class="ln">3<\/span><span class="mk">\+<\/span><code>    image: shop@sha256:new&lt;script&gt;alert\(1\)&lt;\/script&gt;<\/code><\/div>/);
  assert.match(diff, /<details class="fold"><summary>10 unchanged lines<\/summary>/, 'the run beyond 3 lines of context is folded');
  assert.match(diff, /<code>    command: echo &lt;script&gt;/, 'a folded line is text too');
  assert.match(page, /revision 3 \(runs\)&lt;script&gt;/);
  assert.match(page, /shown as \*\*\*/, 'the page says values are redacted');
  assert.doesNotMatch(page, /Nothing: what runs is what the manifest asks for/);

  const same = stackMain({ ...view, next: { images: [], compose: { from: 'revision 4 (runs)', to: 'revision 4 (runs; no new revision is due)', lines: diffLines(next, next) } } }, signedIn).text;
  assert.match(same, /The compose file berth would run is the one that runs\./);
  assert.doesNotMatch(same, /compose-diff/);
});
