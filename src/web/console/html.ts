// HTML that escapes by construction: every value interpolated into `html\`...\`` is escaped
// unless it is itself Html (made by this tag or by trusted(), used only for markup berth
// produced, such as sanitised Markdown). Status strings come from manifests, feeds and the
// engine, so a version or a reason may hold markup: it must always render as text.

export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => ESCAPES[c] as string);
}

type Part = Html | string | number | boolean | undefined | null | readonly Part[];

function render(part: Part): string {
  if (part === undefined || part === null || part === false || part === true) return '';
  if (part instanceof Html) return part.text;
  if (Array.isArray(part)) return (part as readonly Part[]).map(render).join('');
  return escapeHtml(String(part));
}

export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += render(v) + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

/** Markup berth made itself and already made safe (sanitised Markdown); never user text. */
export function trusted(markup: string): Html {
  return new Html(markup);
}
