// Release notes are written by a vendor and arrive through a feed: Markdown, rendered with
// raw HTML disabled (tags show as text), only http(s)/mailto links, and every link opening
// without handing this page to the target. The strict CSP is a second line behind this.
import MarkdownIt from 'markdown-it';
import { trusted, type Html } from './html.js';

const md = new MarkdownIt({ html: false, linkify: true, typographer: false, breaks: false });

const SAFE_LINK = /^(https?:|mailto:|#)/i;
md.validateLink = (url: string): boolean => SAFE_LINK.test(url.trim());

const defaultLinkOpen = md.renderer.rules['link_open'] ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
md.renderer.rules['link_open'] = (tokens, idx, options, env, self) => {
  const token = tokens[idx];
  token?.attrSet('rel', 'noopener noreferrer nofollow');
  token?.attrSet('target', '_blank');
  return defaultLinkOpen(tokens, idx, options, env, self);
};
// Images would be fetched from wherever the vendor points (the CSP blocks them anyway): show the alt text.
md.renderer.rules['image'] = (tokens, idx) => md.utils.escapeHtml(tokens[idx]?.content ?? '');

export function renderNotes(markdown: string): Html {
  return trusted(md.render(markdown));
}
