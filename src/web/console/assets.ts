// The console's stylesheet and script, served as files (the CSP allows nothing inline).
// Kept as strings in the build so `berth run` needs no asset folder beside dist/; the URL
// carries a hash of the content so browsers may cache them for good.
import { createHash } from 'node:crypto';

const CSS = `
:root{--bg:#f5f6f8;--card:#fff;--ink:#1c2330;--muted:#667085;--line:#e4e7ec;--accent:#2f5bea;
--ok:#12805c;--ok-bg:#e7f6ef;--warn:#a15c07;--warn-bg:#fdf3e1;--bad:#c0262d;--bad-bg:#fdecec;
--busy:#2f5bea;--busy-bg:#e9efff;--info:#6941c6;--info-bg:#f2edff;--idle:#475467;--idle-bg:#f0f2f5;
--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace}
*{box-sizing:border-box}
html{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--ink);background:var(--bg)}
body{margin:0}
a{color:var(--accent);text-decoration:none}a:hover{text-decoration:underline}
code{font-family:var(--mono);font-size:.85em;background:var(--idle-bg);padding:.05em .35em;border-radius:4px}
h1{font-size:1.55rem;margin:.2rem 0;display:flex;align-items:center;gap:.5rem;flex-wrap:wrap}
h2{font-size:1.05rem;margin:0 0 .75rem;display:flex;align-items:center;gap:.5rem}
h3{font-size:.9rem;margin:1rem 0 .4rem;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.top{display:flex;align-items:center;gap:1.5rem;padding:.7rem 2rem;background:#111827;color:#fff}
.top a{color:#e5e7eb}.brand{font-weight:700;font-size:1.1rem;display:flex;align-items:center;gap:.5rem;color:#fff!important}
.logo{width:22px;height:22px;border-radius:6px;background:linear-gradient(135deg,#4f7cff,#22c39a);display:inline-block}
.top nav{flex:1}.who form{margin:0}
button.link{background:none;border:0;color:#e5e7eb;cursor:pointer;font:inherit;padding:0}
main{max-width:1180px;margin:0 auto;padding:1.5rem 2rem 3rem}
.page-head{margin-bottom:1rem}.crumbs{margin:0;color:var(--muted)}
.muted{color:var(--muted)}.small{font-size:.85rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:1.1rem 1.25rem;margin-bottom:1rem;box-shadow:0 1px 2px rgba(16,24,40,.04)}
.card.flush{padding:0;overflow:hidden}.card.narrow{max-width:460px;margin:3rem auto}
.card.accent{border-left:4px solid var(--info)}.card.busy{border-left:4px solid var(--busy)}
.grid{display:grid;grid-template-columns:minmax(0,1.35fr) minmax(0,1fr);gap:1rem}
@media (max-width:900px){.grid{grid-template-columns:1fr}main{padding:1rem}}
table{width:100%;border-collapse:collapse}
th{white-space:nowrap;text-align:left;font-size:.78rem;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);font-weight:600;padding:.6rem .9rem;border-bottom:1px solid var(--line);background:#fafbfc}
td{padding:.65rem .9rem;border-bottom:1px solid var(--line);vertical-align:top}
tr:last-child td{border-bottom:0}
td time{white-space:nowrap}
table.plain th{background:none;padding:.4rem .5rem}table.plain td{padding:.5rem}
.stack-link{font-weight:600}.sentence{max-width:22rem;margin-top:.1rem}
.version{font-family:var(--mono);font-weight:600}
.reason{font-family:var(--mono);font-size:.8rem;color:var(--muted)}
.pill{display:inline-block;font-size:.75rem;font-weight:600;padding:.12rem .55rem;border-radius:999px;white-space:nowrap;vertical-align:middle;letter-spacing:.01em}
.pill.ok{color:var(--ok);background:var(--ok-bg)}.pill.warn{color:var(--warn);background:var(--warn-bg)}
.pill.bad{color:var(--bad);background:var(--bad-bg)}.pill.busy{color:var(--busy);background:var(--busy-bg)}
.pill.info{color:var(--info);background:var(--info-bg)}.pill.idle{color:var(--idle);background:var(--idle-bg)}
.summary{border-radius:12px;padding:1rem 1.25rem;margin-bottom:1rem;border:1px solid var(--line);background:var(--card)}
.summary>p{font-size:1.1rem;margin:0 0 .6rem;font-weight:500}
.summary.ok{border-left:6px solid var(--ok)}.summary.warn{border-left:6px solid var(--warn)}.summary.bad{border-left:6px solid var(--bad)}
.summary.busy{border-left:6px solid var(--busy)}.summary.info{border-left:6px solid var(--info)}.summary.idle{border-left:6px solid var(--idle)}
.facts{display:flex;flex-wrap:wrap;gap:.5rem 2rem;margin:0}.facts div{min-width:6rem}
.facts dt{font-size:.75rem;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}.facts dd{margin:0}
.error-line{color:var(--bad);font-size:.9rem;margin:.6rem 0 0}
.waits{background:var(--info-bg);border-radius:8px;padding:.6rem .8rem;font-size:.9rem}
.notes{border:1px solid var(--line);border-radius:8px;padding:.2rem 1rem;background:#fcfcfd;max-height:22rem;overflow:auto}
.notes h1,.notes h2,.notes h3{font-size:1rem;text-transform:none;letter-spacing:0;color:var(--ink)}
.actions{display:flex;flex-wrap:wrap;gap:.6rem;align-items:center;margin-top:.9rem}
form.inline{display:inline-flex;gap:.5rem;align-items:center;margin:0}
button,.button{font:inherit;font-weight:600;border-radius:8px;padding:.5rem 1rem;border:1px solid transparent;cursor:pointer;display:inline-block}
button.primary{background:var(--accent);color:#fff}button.primary:hover{background:#2448c4}
button.secondary{background:#fff;border-color:var(--line);color:var(--ink)}button.secondary:hover{background:var(--idle-bg)}
button.danger{background:#fff;border-color:#f3b5b7;color:var(--bad)}button.danger:hover{background:var(--bad-bg)}
.button.ghost{border:1px dashed var(--line);color:var(--muted)}
select,input[type=password]{font:inherit;padding:.45rem .6rem;border:1px solid var(--line);border-radius:8px;background:#fff}
.stack-form{display:flex;flex-direction:column;gap:.6rem}
.flash{border-radius:8px;padding:.6rem .9rem;margin:0 0 1rem}
.flash-bar{max-width:1180px;margin:0 auto;padding:1rem 2rem 0}.flash-bar .flash{margin:0}
.flash.ok{background:var(--ok-bg);color:var(--ok)}.flash.bad{background:var(--bad-bg);color:var(--bad)}.flash.info{background:var(--info-bg);color:var(--info)}
.conditions{list-style:none;margin:0;padding:0}.conditions li{padding:.5rem 0;border-bottom:1px solid var(--line)}.conditions li:last-child{border:0}
.conditions p{margin:.2rem 0 0}
.timeline{list-style:none;margin:0;padding:0 0 0 1.1rem;border-left:2px solid var(--line)}
.timeline li{position:relative;padding:.2rem 0 .9rem .6rem}
.timeline li:before{content:"";position:absolute;left:-1.55rem;top:.55rem;width:12px;height:12px;border-radius:50%;background:var(--idle);border:2px solid #fff;box-shadow:0 0 0 1px var(--line)}
.timeline li.ok:before{background:var(--ok)}.timeline li.bad:before{background:var(--bad)}.timeline li.busy:before{background:var(--busy)}
.timeline p{margin:.2rem 0 0}
.steps{display:flex;list-style:none;padding:0;margin:.2rem 0 .6rem;gap:.4rem;flex-wrap:wrap}
.steps li{padding:.25rem .7rem;border-radius:999px;background:var(--idle-bg);color:var(--muted);font-size:.85rem}
.steps li.done{background:var(--ok-bg);color:var(--ok)}.steps li.now{background:var(--busy);color:#fff}
.container{margin-bottom:.25rem}
td.del code{background:var(--bad-bg)}td.add code{background:var(--ok-bg)}
.textdiff{font-family:var(--mono);font-size:.8rem;border:1px solid var(--line);border-radius:8px;overflow:auto;max-height:32rem;background:#fcfcfd}
.td-inner{display:inline-block;min-width:100%}
.dl{display:grid;grid-template-columns:2.8rem 2.8rem 1.2rem 1fr;white-space:pre;line-height:1.45}
.dl code{background:none;padding:0;font-size:inherit;border-radius:0}
.dl .ln{color:var(--muted);text-align:right;padding-right:.5rem;user-select:none;border-right:1px solid var(--line)}
.dl .mk{text-align:center;user-select:none}
.dl.add{background:var(--ok-bg)}.dl.add .mk,.dl.add code{color:var(--ok)}
.dl.del{background:var(--bad-bg)}.dl.del .mk,.dl.del code{color:var(--bad)}
.fold summary{cursor:pointer;color:var(--muted);background:var(--idle-bg);padding:.15rem .8rem;font-family:system-ui,sans-serif;font-size:.8rem;list-style:none}
.fold summary:before{content:"⋯ "}.fold[open] summary:before{content:"▾ "}
.add-count{color:var(--ok);font-weight:600}.del-count{color:var(--bad);font-weight:600}
.empty{padding:2rem;text-align:center;color:var(--muted)}
.live-state{position:fixed;bottom:1rem;right:1rem;background:var(--warn-bg);color:var(--warn);padding:.4rem .8rem;border-radius:8px;font-size:.85rem}
`;

// Live updates: the server pushes the page's <main> again whenever a status changes; ages
// ("12s ago") are kept current here so the server need not push every second.
const JS = `
(function () {
  'use strict';
  function fmt(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + 's ago';
    if (s < 3600) return Math.floor(s / 60) + 'm ago';
    if (s < 172800) return Math.floor(s / 3600) + 'h ago';
    return Math.floor(s / 86400) + 'd ago';
  }
  function ages() {
    var ts = document.querySelectorAll('time[data-age]');
    for (var i = 0; i < ts.length; i++) {
      var t = Date.parse(ts[i].getAttribute('datetime'));
      if (!isNaN(t)) ts[i].textContent = fmt(Date.now() - t);
    }
  }
  document.addEventListener('submit', function (e) {
    var msg = e.target && e.target.getAttribute && e.target.getAttribute('data-confirm');
    if (msg && !window.confirm(msg)) e.preventDefault();
  });
  document.addEventListener('DOMContentLoaded', function () {
    ages();
    setInterval(ages, 5000);
    var main = document.querySelector('main[data-live]');
    var badge = document.getElementById('live-state');
    if (!main || !window.EventSource) return;
    var es = new EventSource(main.getAttribute('data-live'));
    es.addEventListener('main', function (e) {
      main.innerHTML = e.data;
      ages();
      document.documentElement.setAttribute('data-updated', String(Date.now()));
    });
    es.addEventListener('open', function () { if (badge) badge.hidden = true; });
    es.addEventListener('error', function () { if (badge) badge.hidden = false; });
  });
})();
`;

const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 12);

export const ASSETS = {
  css: { path: `/static/console.${hash(CSS)}.css`, type: 'text/css; charset=utf-8', body: CSS },
  js: { path: `/static/console.${hash(JS)}.js`, type: 'text/javascript; charset=utf-8', body: JS },
} as const;

export const ASSET_PATHS = { css: ASSETS.css.path, js: ASSETS.js.path } as const;
