// The console's pages, as pure functions of what model.ts loaded: no I/O, so the markup
// and its escaping are tested directly. Every value from a status, a manifest or a feed
// goes through html`` (escaped); only sanitised release notes are trusted markup.
import type { Condition, HistoryEntry, StackStatusBody } from '../../api/types.js';
import { html, type Html } from './html.js';
import { renderNotes } from './markdown.js';
import type { NextPass, OverviewRow, StackView } from './model.js';
import { ASSET_PATHS } from './assets.js';
import { changed, fold, type DiffLine } from '../../plan/text-diff.js';
import type { ComposeDiff } from '../../controller/diff.js';

export type Tone = 'ok' | 'warn' | 'bad' | 'busy' | 'info' | 'idle';

export interface PageContext {
  /** Signed in: the CSRF token its forms carry. Undefined: read-only, with a link to sign in. */
  csrf?: string;
  /** Whether a login exists to offer (false: pages are open and writes need it). */
  signedIn: boolean;
  now: Date;
  /** A one-line message after an action (already worded; escaped like everything else). */
  flash?: { tone: Tone; text: string };
}

export function ageText(since: string | undefined, now: Date): string {
  if (since === undefined) return '—';
  const t = Date.parse(since);
  if (Number.isNaN(t)) return '—';
  const s = Math.max(0, Math.floor((now.getTime() - t) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 172800) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** A time shown as an age that the page's script keeps current. */
function when(since: string | undefined, now: Date): Html {
  if (since === undefined) return html`<span class="muted">—</span>`;
  return html`<time datetime="${since}" data-age title="${since}">${ageText(since, now)}</time>`;
}

function durationText(from: string, to: string | undefined): string {
  if (to === undefined) return 'still running';
  const s = Math.max(0, Math.round((Date.parse(to) - Date.parse(from)) / 1000));
  if (Number.isNaN(s)) return '—';
  return s < 120 ? `${s}s` : `${Math.floor(s / 60)}m ${s % 60}s`;
}

const cond = (s: StackStatusBody, type: string): Condition | undefined => s.conditions.find((c) => c.type === type);

export interface Phase {
  tone: Tone;
  label: string;
  /** The state of the stack in one sentence, for a person who glances at the page. */
  sentence: string;
}

export function phaseOf(s: StackStatusBody): Phase {
  const ready = cond(s, 'Ready');
  const degraded = cond(s, 'Degraded');
  const waiting = cond(s, 'AwaitingApproval')?.status === 'True';
  const current = s.currentVersion ?? 'nothing yet';
  const avail = s.available?.version ?? (waiting ? s.targetVersion : undefined);
  if (s.operation !== undefined) {
    const op = s.operation;
    const verb = op.kind === 'rollback' ? 'Rolling back' : op.kind === 'repair' ? 'Repairing' : 'Updating';
    return { tone: 'busy', label: verb, sentence: `${verb} to ${s.targetVersion ?? `revision ${op.revision}`}: step ${op.step}.` };
  }
  if (s.quarantine?.rollbackFailed === true) {
    return { tone: 'bad', label: 'Failed', sentence: `Version ${s.quarantine.version} failed and so did the rollback; berth stopped acting on this stack.` };
  }
  if (degraded?.status === 'True') {
    const rolled = degraded.reason === 'RolledBack' && s.quarantine !== undefined;
    return {
      tone: 'bad',
      label: rolled ? 'Rolled back' : 'Degraded',
      sentence: rolled ? `Version ${s.quarantine!.version} failed (${s.quarantine!.reason}) and was rolled back; ${current} runs.` : `${degraded.reason}: ${degraded.message}`,
    };
  }
  // A pinned stack whose manifest moved on in notify mode is not Ready (what runs is not the
  // target), yet nothing is wrong: it runs, healthy, and a version waits for a person.
  if (waiting && avail !== undefined && ready?.status !== 'True' && cond(s, 'Healthy')?.status === 'True') {
    return { tone: 'info', label: 'Running', sentence: `Runs ${current}. Version ${avail} is available and waits for your approval.` };
  }
  if (ready?.status === 'True') {
    if (waiting && avail !== undefined) return { tone: 'info', label: 'Ready', sentence: `Runs ${current}. Version ${avail} is available and waits for your approval.` };
    if (avail !== undefined) return { tone: 'info', label: 'Ready', sentence: `Runs ${current}. Version ${avail} is available${s.available?.waitingFor ? `; it waits for ${s.available.waitingFor}` : ''}.` };
    return { tone: 'ok', label: 'Ready', sentence: `Runs ${current}, healthy and up to date.` };
  }
  if (ready === undefined || ready.status === 'Unknown') return { tone: 'idle', label: 'Unknown', sentence: ready?.message ?? 'berth has not judged this stack yet.' };
  return { tone: 'warn', label: 'Not ready', sentence: `${ready.reason}: ${ready.message}` };
}

/** A ready stack with an update waiting is still healthy: green, with the update shown beside it. */
const pillTone = (p: Phase): Tone => (p.tone === 'info' ? 'ok' : p.tone);

function pill(tone: Tone, label: string, title?: string): Html {
  return html`<span class="pill ${tone}"${title !== undefined ? html` title="${title}"` : ''}>${label}</span>`;
}

const FALSE_IS_GOOD = new Set(['Degraded', 'UpdateAvailable', 'AwaitingApproval', 'SpecInvalid']);

function condTone(c: Condition): Tone {
  // Conditions named for a problem or a pending thing are good when False.
  const good = FALSE_IS_GOOD.has(c.type) ? 'False' : 'True';
  if (c.type === 'Progressing') return c.status === 'True' ? 'busy' : c.reason === 'Complete' || c.reason === 'NoUpdate' ? 'ok' : 'bad';
  if (c.status === 'Unknown') return 'idle';
  if (c.status === good) return 'ok';
  if (c.type === 'UpdateAvailable' || c.type === 'AwaitingApproval') return 'info';
  return 'bad';
}

export function layout(title: string, ctx: PageContext, main: Html, live?: string): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · berth</title>
<link rel="stylesheet" href="${ASSET_PATHS.css}">
<script src="${ASSET_PATHS.js}" defer></script>
</head>
<body>
<header class="top">
  <a class="brand" href="/"><span class="logo" aria-hidden="true"></span>berth</a>
  <nav><a href="/">Stacks</a></nav>
  <div class="who">${
    ctx.signedIn
      ? html`<form method="post" action="/logout"><input type="hidden" name="csrf" value="${ctx.csrf ?? ''}"><button class="link">Sign out</button></form>`
      : html`<a href="/login">Sign in</a>`
  }</div>
</header>
<div class="live-state" id="live-state" hidden>Live updates paused; reconnecting…</div>
${ctx.flash !== undefined ? html`<div class="flash-bar"><p class="flash ${ctx.flash.tone}" role="status">${ctx.flash.text}</p></div>` : ''}
<main${live !== undefined ? html` data-live="${live}"` : ''}>
${main}
</main>
</body>
</html>
`;
}

export function loginPage(ctx: PageContext, opts: { error?: string; next?: string; tokenFile?: string }): Html {
  return layout(
    'Sign in',
    ctx,
    html`<section class="card narrow">
  <h1>Sign in to berth</h1>
  <p class="muted">Paste the console token. berth keeps it in <code>${opts.tokenFile ?? '<state>/http-token'}</code> (or reads <code>BERTH_HTTP_TOKEN</code>).</p>
  ${opts.error !== undefined ? html`<p class="flash bad" role="alert">${opts.error}</p>` : ''}
  <form method="post" action="/login" class="stack-form">
    <input type="hidden" name="next" value="${opts.next ?? '/'}">
    <label for="token">Token</label>
    <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
    <button class="primary" type="submit">Sign in</button>
  </form>
</section>`,
  );
}

export function overviewMain(rows: OverviewRow[], ctx: PageContext): Html {
  const body =
    rows.length === 0
      ? html`<p class="empty">No stacks yet. Put a Stack manifest in the manifests folder and berth picks it up.</p>`
      : html`<table class="stacks">
<thead><tr><th>Stack</th><th>Mode</th><th>Current</th><th>Available</th><th>Ready</th><th>Last check-in</th><th title="Since Ready last changed">Age</th></tr></thead>
<tbody>
${rows.map((r) => overviewRow(r, ctx.now))}
</tbody>
</table>`;
  return html`<div class="page-head"><h1>Stacks</h1><p class="muted">${rows.length} stack${rows.length === 1 ? '' : 's'} · updates live</p></div>
<section class="card flush">${body}</section>`;
}

function overviewRow(r: OverviewRow, now: Date): Html {
  if (r.file === true) {
    const why = r.status?.conditions.find((c) => c.type === 'SpecInvalid' || c.type === 'Ready');
    return html`<tr class="row-bad"><td><b>${r.name}</b><div class="muted small sentence">a manifest file berth cannot read as a Stack</div></td><td colspan="6">${pill('bad', 'Invalid')} <span class="muted small">${r.error ?? why?.message ?? ''}</span></td></tr>`;
  }
  if (r.status === undefined) {
    return html`<tr><td><a href="/stacks/${encodeURIComponent(r.name)}">${r.name}</a></td><td colspan="6">${pill('bad', 'Unreadable')} <span class="muted">${r.error ?? ''}</span></td></tr>`;
  }
  const s = r.status;
  const ready = cond(s, 'Ready');
  const phase = phaseOf(s);
  const waiting = cond(s, 'AwaitingApproval')?.status === 'True';
  const availVersion = s.available?.version ?? (waiting ? s.targetVersion : undefined);
  return html`<tr class="row-${phase.tone}">
<td><a class="stack-link" href="/stacks/${encodeURIComponent(r.name)}">${r.name}</a><div class="muted small sentence">${phase.sentence}</div></td>
<td>${pill('idle', s.mode ?? '—')}</td>
<td class="version">${s.currentVersion ?? '—'}</td>
<td>${s.operation !== undefined && s.targetVersion !== undefined && s.targetVersion !== s.currentVersion ? html`<span class="version">${s.targetVersion}</span> ${pill('busy', 'applying')}` : availVersion !== undefined ? html`<span class="version">${availVersion}</span> ${waiting ? pill('info', 'awaiting approval') : s.available?.waitingFor ? html`<span class="muted small">${s.available.waitingFor}</span>` : ''}` : html`<span class="muted">up to date</span>`}</td>
<td>${pill(pillTone(phase), phase.label)} <span class="reason">${ready?.reason ?? ''}</span></td>
<td>${when(s.lastCheckIn, now)}</td>
<td>${when(ready?.lastTransitionTime, now)}</td>
</tr>`;
}


function actionForm(name: string, action: string, ctx: PageContext, label: string, fields: Record<string, string>, cls = 'primary', confirm?: string): Html {
  return html`<form method="post" action="/stacks/${encodeURIComponent(name)}/${action}" class="inline"${confirm !== undefined ? html` data-confirm="${confirm}"` : ''}>
<input type="hidden" name="csrf" value="${ctx.csrf ?? ''}">
${Object.entries(fields).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`)}
<button class="${cls}" type="submit">${label}</button>
</form>`;
}

function signInToAct(name: string, what: string): Html {
  return html`<a class="button ghost" href="/login?next=/stacks/${encodeURIComponent(name)}">Sign in to ${what}</a>`;
}

export function stackMain(v: StackView, ctx: PageContext): Html {
  const s = v.status;
  const phase = phaseOf(s);
  return html`<div class="page-head">
  <p class="crumbs"><a href="/">Stacks</a> /</p>
  <h1>${v.name} ${pill(pillTone(phase), phase.label)} ${phase.tone === 'info' ? pill('info', 'update waiting') : ''} ${pill('idle', `mode ${s.mode ?? '—'}`)}</h1>
</div>
<section class="summary ${phase.tone}"><p>${phase.sentence}</p>
<dl class="facts">
  <div><dt>Current</dt><dd class="version">${s.currentVersion ?? '—'}</dd></div>
  <div><dt>Target</dt><dd class="version">${s.targetVersion ?? '—'}</dd></div>
  <div><dt>Revision</dt><dd>${s.revision ?? '—'}${s.lastGoodRevision !== undefined ? html` <span class="muted small">(last good ${s.lastGoodRevision})</span>` : ''}</dd></div>
  <div><dt>Last applied</dt><dd>${when(s.lastAppliedTime, ctx.now)}</dd></div>
  <div><dt>Last check-in</dt><dd>${when(s.lastCheckIn, ctx.now)}</dd></div>
</dl>
${s.lastError !== undefined ? html`<p class="error-line">${s.lastError}</p>` : ''}
${v.manifestError !== undefined ? html`<p class="error-line">The manifest cannot be used: ${v.manifestError}</p>` : ''}
${v.manifest?.spec.channel !== undefined && v.manifest.spec.version !== undefined ? html`<p class="muted small">Pinned to version ${v.manifest.spec.version}: while the manifest sets spec.version, the stack does not follow channel ${v.manifest.spec.channel.name}. Remove spec.version and spec.images to follow it again.</p>` : ''}
</section>
<div class="grid">
<div class="col">
${availableCard(v, ctx)}
${operationCard(s, ctx)}
${servicesCard(s)}
${nextPassCard(v.next)}
</div>
<div class="col">
${conditionsCard(s, ctx)}
${historyCard(v, ctx)}
</div>
</div>`;
}

function availableCard(v: StackView, ctx: PageContext): Html {
  const s = v.status;
  const waiting = cond(s, 'AwaitingApproval');
  const isWaiting = waiting?.status === 'True';
  const a = s.available;
  const channel = v.manifest?.spec.channel;
  const version = a?.version ?? (isWaiting ? s.targetVersion : undefined);
  const checkNow =
    channel !== undefined
      ? ctx.csrf !== undefined
        ? actionForm(v.name, 'check', ctx, 'Check for updates now', {}, 'secondary')
        : ''
      : '';
  const apply =
    isWaiting && version !== undefined
      ? ctx.csrf !== undefined
        ? actionForm(v.name, 'approve', ctx, `Apply update to ${version}`, { version }, 'primary')
        : signInToAct(v.name, 'apply this update')
      : '';
  if (version === undefined) {
    return html`<section class="card" id="available"><h2>Updates</h2>
<p class="muted">${channel !== undefined ? html`Nothing newer on channel <b>${channel.name}</b>.` : 'No update is waiting: the manifest names what runs.'}</p>
<div class="actions">${checkNow}${channel !== undefined && ctx.csrf === undefined ? signInToAct(v.name, 'check for updates') : ''}</div>
</section>`;
  }
  return html`<section class="card accent" id="available"><h2>Available: <span class="version" id="available-version">${version}</span>
${a?.change !== undefined ? pill(a.change === 'major' ? 'warn' : 'info', a.change) : ''}</h2>
<dl class="facts small">
  ${a !== undefined ? html`<div><dt>Channel</dt><dd>${a.channel}</dd></div>` : ''}
  ${a?.published !== undefined ? html`<div><dt>Published</dt><dd>${when(a.published, ctx.now)}</dd></div>` : ''}
  ${a !== undefined ? html`<div><dt>Images</dt><dd>${a.downloaded === true ? pill('ok', 'downloaded') : pill('idle', 'not downloaded yet')}</dd></div>` : ''}
</dl>
${isWaiting ? html`<p class="waits"><b>Waits for your approval.</b> ${waiting.message}</p>` : a?.waitingFor !== undefined ? html`<p class="waits"><b>Waits for</b> ${a.waitingFor}</p>` : ''}
${a?.notes !== undefined && a.notes.trim() !== '' ? html`<h3>Release notes</h3><div class="notes" id="release-notes">${renderNotes(a.notes)}</div>` : ''}
<div class="actions">${apply}${checkNow}</div>
</section>`;
}

function operationCard(s: StackStatusBody, ctx: PageContext): Html | string {
  const op = s.operation;
  if (op === undefined) return '';
  const steps = ['pull', 'writeRevision', 'composeUp', 'verify'] as const;
  const at = steps.indexOf(op.step);
  return html`<section class="card busy" id="operation"><h2>${op.kind === 'rollback' ? 'Rolling back' : op.kind === 'repair' ? 'Repairing' : 'Updating'} to revision ${op.revision}</h2>
<ol class="steps">${steps.map((st, i) => html`<li class="${i < at ? 'done' : i === at ? 'now' : ''}">${st === 'writeRevision' ? 'write revision' : st === 'composeUp' ? 'compose up' : st}</li>`)}</ol>
<p class="muted small">Started ${when(op.started, ctx.now)}${op.verifyDeadline !== undefined ? html` · health gate until <time datetime="${op.verifyDeadline}">${op.verifyDeadline}</time>` : ''}</p>
</section>`;
}

function shortDigest(image: string | undefined): Html {
  if (image === undefined) return html`<span class="muted">—</span>`;
  const at = image.indexOf('@');
  if (at < 0) return html`<code>${image}</code>`;
  return html`<code title="${image}">${image.slice(0, at)}@${image.slice(at + 1, at + 20)}…</code>`;
}

function healthTone(h: string, state: string): Tone {
  if (state !== 'running') return state === 'exited' ? 'bad' : 'warn';
  return h === 'healthy' || h === 'none' ? 'ok' : h === 'starting' ? 'busy' : 'bad';
}

function servicesCard(s: StackStatusBody): Html {
  return html`<section class="card" id="services"><h2>Services</h2>
${s.services.length === 0 ? html`<p class="muted">No services observed yet.</p>` : html`<table class="plain">
<thead><tr><th>Service</th><th>Image</th><th>Containers</th></tr></thead>
<tbody>${s.services.map(
    (svc) => html`<tr><td><b>${svc.name}</b>${svc.reason !== undefined ? html`<div class="muted small">${svc.reason}</div>` : ''}</td>
<td>${shortDigest(svc.desiredImage)}</td>
<td>${svc.containers.length === 0 ? html`<span class="muted">none</span>` : svc.containers.map(
      (c) => html`<div class="container">${pill(healthTone(c.health, c.state), c.state)} ${c.health !== 'none' ? pill(healthTone(c.health, c.state), c.health) : ''} <span class="muted small" title="${c.imageDigests?.join(', ') ?? c.imageId}">${c.name}${c.revision !== undefined ? ` · rev ${c.revision}` : ''}</span></div>`,
    )}</td></tr>`,
  )}</tbody></table>`}
</section>`;
}

function nextPassCard(next: NextPass | undefined): Html | string {
  if (next === undefined) return '';
  const changedImages = next.images.filter((i) => i.running !== i.next);
  return html`<section class="card" id="next-pass"><h2>What the next pass would change</h2>
${next.nextRevision !== undefined ? html`<p>berth would write revision <b>${next.nextRevision}</b>.</p>` : ''}
${next.note !== undefined ? html`<p class="muted small">${next.note}</p>` : ''}
${changedImages.length === 0 && (next.services ?? []).every((x) => x.change === 'keep') && !(next.compose !== undefined && changed(next.compose.lines)) ? html`<p class="muted">Nothing: what runs is what the manifest asks for.</p>` : ''}
${changedImages.length > 0 ? html`<table class="plain diff"><thead><tr><th>Service</th><th>Runs</th><th>Next</th></tr></thead><tbody>${changedImages.map(
    (i) => html`<tr><td>${i.service}</td><td class="del">${shortDigest(i.running)}</td><td class="add">${shortDigest(i.next)}</td></tr>`,
  )}</tbody></table>` : ''}
${next.services !== undefined && next.services.some((x) => x.change !== 'keep') ? html`<table class="plain"><thead><tr><th>Service</th><th>compose would</th></tr></thead><tbody>${next.services.map(
    (x) => html`<tr><td>${x.service}</td><td>${pill(x.change === 'keep' ? 'idle' : x.change === 'remove' ? 'bad' : 'warn', x.change)}</td></tr>`,
  )}</tbody></table>` : ''}
${next.compose !== undefined ? composeDiffPart(next.compose) : ''}
</section>`;
}

function diffLine(l: DiffLine): Html {
  const mark = l.op === 'add' ? '+' : l.op === 'del' ? '−' : ' ';
  return html`<div class="dl ${l.op}"><span class="ln">${l.old ?? ''}</span><span class="ln">${l.new ?? ''}</span><span class="mk">${mark}</span><code>${l.text}</code></div>`;
}

/** The compose file that runs against the next one, like `diff -u`: changes with context, unchanged runs folded (a click opens them). */
function composeDiffPart(d: ComposeDiff): Html {
  const added = d.lines.filter((l) => l.op === 'add').length;
  const removed = d.lines.filter((l) => l.op === 'del').length;
  return html`<h3>Compose file</h3>
<p class="small"><span class="muted">${d.from}</span> → <b>${d.to}</b>${changed(d.lines) ? html` · <span class="add-count">+${added}</span> <span class="del-count">−${removed}</span>` : ''}</p>
${changed(d.lines)
    ? html`<div class="textdiff" id="compose-diff"><div class="td-inner">${fold(d.lines).map((seg) =>
        seg.kind === 'shown'
          ? seg.lines.map(diffLine)
          : html`<details class="fold"><summary>${seg.lines.length} unchanged line${seg.lines.length === 1 ? '' : 's'}</summary>${seg.lines.map(diffLine)}</details>`,
      )}</div></div>`
    : html`<p class="muted">The compose file berth would run is the one that runs.</p>`}
<p class="muted small">Values of keys named like credentials (password, token, key, secret, auth…) and secrets berth knows are shown as ***, on both sides: a change to one does not show here.</p>`;
}

function conditionsCard(s: StackStatusBody, ctx: PageContext): Html {
  return html`<section class="card" id="conditions"><h2>Conditions</h2>
<ul class="conditions">${s.conditions.map(
    (c) => html`<li><div class="cond-head">${pill(condTone(c), c.status)} <b>${c.type}</b> <span class="reason">${c.reason}</span> <span class="muted small">${when(c.lastTransitionTime, ctx.now)}</span></div><p class="muted small">${c.message}</p></li>`,
  )}</ul>
</section>`;
}

function outcomeTone(e: HistoryEntry): Tone {
  return e.outcome === 'Healthy' ? 'ok' : e.outcome === 'Progressing' ? 'busy' : e.outcome === 'Superseded' ? 'idle' : 'bad';
}

function historyCard(v: StackView, ctx: PageContext): Html {
  const history = v.status.history ?? [];
  const rollback =
    v.rollback.length === 0
      ? html`<p class="muted small">No other revision that passed its health gate is kept to roll back to.</p>`
      : ctx.csrf !== undefined
        ? html`<form method="post" action="/stacks/${encodeURIComponent(v.name)}/rollback" class="inline rollback" data-confirm="Roll back: berth will set the manifest to the chosen revision's version and images.">
<input type="hidden" name="csrf" value="${ctx.csrf}">
<label for="rollback-to">Roll back to</label>
<select id="rollback-to" name="revision">${v.rollback.map((r) => html`<option value="${r.revision}">revision ${r.revision} · ${r.version}</option>`)}</select>
<button class="danger" type="submit">Roll back</button>
</form>`
        : signInToAct(v.name, 'roll back');
  return html`<section class="card" id="history"><h2>History</h2>
${history.length === 0 ? html`<p class="muted">berth has applied nothing yet.</p>` : html`<ol class="timeline">${history.map(
    (e) => html`<li class="${outcomeTone(e)}"><div class="tl-head">${pill(outcomeTone(e), e.outcome)} <b>${e.operation === 'rollback' || v.rollbackRevisions.includes(e.revision) ? 'Rollback' : 'Update'}</b> to <span class="version">${e.version}</span> <span class="muted small">revision ${e.revision}</span></div>
<div class="muted small">${when(e.started, ctx.now)} · took ${durationText(e.started, e.finished)}${e.reason !== undefined ? html` · <span class="reason">${e.reason}</span>` : ''}</div>
${e.message !== undefined ? html`<p class="small">${e.message}</p>` : ''}</li>`,
  )}</ol>`}
<div class="actions">${rollback}</div>
</section>`;
}

export function notFoundMain(name: string): Html {
  return html`<section class="card narrow"><h1>No stack “${name}”</h1><p>berth has no status for it. <a href="/">Back to all stacks</a>.</p></section>`;
}
