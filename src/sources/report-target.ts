// Where berth may send reports of how updates went. A report tells its receiver this host's
// identity and its version history, so the place it goes must come from someone berth trusts:
// the Stack (spec.channel.reportUrl, written by the person who runs berth), or the feed's
// index only when it names the feed's own origin over https. The index is not signed as a
// whole, so a mirror or proxy could otherwise send reports anywhere it likes.

export interface ReportTargetInput {
  /** spec.channel.reportUrl: trusted as written. */
  reportUrl?: string;
  /** The `report` URL the last accepted index named: trusted only on the feed's own origin. */
  offered?: string;
  /** spec.channel.url: the feed's base URL. */
  feedUrl: string;
}

export type ReportTarget =
  | { url: string; from: 'stack' | 'feed' }
  /** No report is sent; `refused` says why, when the index named a URL berth will not use. */
  | { url?: undefined; refused?: string };

/** Loopback hosts may be served over plain http: nothing leaves the machine (tests, a local proxy). */
function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

function parse(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

/** Decides where a report goes, if anywhere. Pure: the same input gives the same answer. */
export function reportTarget(input: ReportTargetInput): ReportTarget {
  if (input.reportUrl !== undefined) return { url: input.reportUrl, from: 'stack' };
  if (input.offered === undefined) return {};
  const offered = parse(input.offered);
  const feed = parse(input.feedUrl);
  const fix = 'to send reports elsewhere, set spec.channel.reportUrl in the Stack';
  if (offered === undefined) return { refused: `the index names a report URL that is not a URL; ${fix}` };
  if (feed === undefined) return { refused: `the feed URL (spec.channel.url) is not a URL; fix it in the Stack` };
  if (offered.protocol !== 'https:' && !(offered.protocol === 'http:' && isLoopback(offered.hostname))) {
    return { refused: `the index names a report URL over ${offered.protocol.replace(/:$/, '')}, not https (plain http only on loopback); ${fix}` };
  }
  if (offered.origin !== feed.origin) {
    return { refused: `the index names a report URL on ${offered.origin}, not on the feed's own origin ${feed.origin}; ${fix}` };
  }
  return { url: offered.href, from: 'feed' };
}
