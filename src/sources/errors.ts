// Why a check-in with a release feed was refused. Each reason becomes the reason of a
// status condition, so it is CamelCase and stable; the message says what happened, to which
// URL or release, and what a person can do about it.
import { redactText } from '../util/redact.js';

export type FeedRefusal =
  | 'FeedUnreachable'
  | 'FeedHttpError'
  | 'FeedTimeout'
  | 'FeedTooLarge'
  | 'FeedMalformed'
  | 'FeedInvalid'
  | 'UnknownSigningKey'
  | 'SignatureInvalid'
  | 'ChannelMismatch'
  | 'Downgrade'
  | 'PublicKeyInvalid';

export class FeedError extends Error {
  readonly reason: FeedRefusal;
  /** The HTTP status, for FeedHttpError. */
  readonly status?: number;
  constructor(reason: FeedRefusal, message: string, options: { cause?: unknown; status?: number } = {}) {
    // Messages quote feed URLs, and they travel to channel.yaml, status.yaml and the logs:
    // the credentials a URL may carry are cut here, where every feed error is made.
    super(redactText(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FeedError';
    this.reason = reason;
    if (options.status !== undefined) this.status = options.status;
  }
}

/**
 * A string from an untrusted source, fit to quote in a message: one line, printable, short.
 * Feed servers are not trusted, and their words end up in status files and terminals.
 */
export function quote(text: string, max = 200): string {
  // Control characters, terminal escapes among them, must not reach a terminal or a log line.
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}
