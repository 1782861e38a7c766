// What a webhook receives, per format. Pure: the same event, secret and time give the same bytes.
//   json     berth's event document; with a secret, X-Berth-Signature: t=<unix s>,v1=<hex
//            HMAC-SHA256 of "<t>.<body>">, so a receiver checks who sent it and, by t, when
//            (a captured request replayed later fails the receiver's age check).
//   slack    {"text": ...}: Slack's incoming webhooks, Mattermost, Rocket.Chat, Teams' connectors.
//   discord  {"content": ...}: Discord's webhooks (at most 2000 characters).
//   ntfy     the line as text/plain; Title, Tags and Priority headers; the secret as a Bearer token.
import { createHash, createHmac } from 'node:crypto';
import type { NotifyFormat } from '../api/types.js';
import { API_VERSION } from '../api/schema.js';
import type { StackEvent } from './events.js';

export const SIGNATURE_HEADER = 'x-berth-signature';
export const EVENT_HEADER = 'x-berth-event';
export const DELIVERY_HEADER = 'x-berth-delivery';

/**
 * The document a json webhook receives: the event's public fields (a receiver's contract, so
 * picked one by one: a field added to StackEvent for berth's own use does not leak into it).
 */
export type NotificationDocument = {
  apiVersion: typeof API_VERSION;
  kind: 'Notification';
  /** Stable per event: a receiver that sees an id twice (at-least-once delivery) drops the copy. */
  id: string;
  instance: string;
} & Pick<StackEvent, 'event' | 'stack' | 'version' | 'revision' | 'failedVersion' | 'reason' | 'message' | 'at' | 'text'>;

export interface OutgoingRequest {
  body: string;
  headers: Record<string, string>;
}

/** The event's delivery id: the same for every attempt, on every berth that shares the state folder. */
export function eventId(instance: string, e: StackEvent): string {
  return createHash('sha256').update(`${instance}\0${e.stack}\0${e.key}`).digest('hex').slice(0, 32);
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. */
export function signature(secret: string, body: string, now: Date): string {
  const t = Math.floor(now.getTime() / 1000);
  const mac = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  return `t=${t},v1=${mac}`;
}

const NTFY_TAGS: Record<StackEvent['event'], string> = {
  updateAvailable: 'package',
  awaitingApproval: 'hourglass',
  applied: 'white_check_mark',
  failed: 'x',
  rolledBack: 'rewind',
};

const TITLES: Record<StackEvent['event'], string> = {
  updateAvailable: 'update available',
  awaitingApproval: 'awaiting approval',
  applied: 'update applied',
  failed: 'update failed',
  rolledBack: 'rolled back',
};

/** HTTP header values are Latin-1 at best: anything else becomes '?' rather than a refused request. */
function headerSafe(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 250);
}

export function buildRequest(format: NotifyFormat, e: StackEvent, opts: { instance: string; secret?: string; now: Date; userAgent: string }): OutgoingRequest {
  const id = eventId(opts.instance, e);
  const common = { 'user-agent': opts.userAgent, [EVENT_HEADER]: e.event, [DELIVERY_HEADER]: id };
  switch (format) {
    case 'slack':
      return { body: JSON.stringify({ text: e.text }), headers: { ...common, 'content-type': 'application/json' } };
    case 'discord':
      return { body: JSON.stringify({ content: e.text.length > 2000 ? `${e.text.slice(0, 1999)}…` : e.text }), headers: { ...common, 'content-type': 'application/json' } };
    case 'ntfy':
      return {
        body: e.text,
        headers: {
          ...common,
          'content-type': 'text/plain; charset=utf-8',
          title: headerSafe(`berth: ${e.stack} ${TITLES[e.event]} (${e.version})`),
          tags: NTFY_TAGS[e.event],
          ...(e.event === 'failed' ? { priority: 'high' } : {}),
          ...(opts.secret !== undefined ? { authorization: `Bearer ${opts.secret}` } : {}),
        },
      };
    case 'json': {
      const doc: NotificationDocument = {
        apiVersion: API_VERSION,
        kind: 'Notification',
        id,
        event: e.event,
        instance: opts.instance,
        stack: e.stack,
        version: e.version,
        ...(e.revision !== undefined ? { revision: e.revision } : {}),
        ...(e.failedVersion !== undefined ? { failedVersion: e.failedVersion } : {}),
        ...(e.reason !== undefined ? { reason: e.reason } : {}),
        ...(e.message !== undefined ? { message: e.message } : {}),
        at: e.at,
        text: e.text,
      };
      const body = JSON.stringify(doc);
      return {
        body,
        headers: {
          ...common,
          'content-type': 'application/json',
          ...(opts.secret !== undefined ? { [SIGNATURE_HEADER]: signature(opts.secret, body, opts.now) } : {}),
        },
      };
    }
  }
}
