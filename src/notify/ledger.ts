// What each webhook of a stack has heard: <state>/<stack>/notify.yaml (0600, written whole).
//   webhooks:
//     <id>:              hash of the webhook's URL and format (the URL itself may hold a token)
//       target: https://hooks.example.com/***    for people: the URL as the logs show it
//       since: <time>    outcomes that finished before the webhook was added are not sent
//       delivered: [key, ...]   events the webhook answered 2xx to
// Written after every delivery, so a crash repeats at most the one delivery under way
// (at least once), and never one that was written down (never twice).
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { PRIVATE, writeFileAtomic } from '../util/atomic.js';
import { readIfExists } from '../util/files.js';
import type { StateStore } from '../store/state.js';

export interface WebhookLedger {
  target: string;
  since: string;
  delivered: string[];
}

export interface NotifyLedger {
  webhooks: Record<string, WebhookLedger>;
}

export const ledgerPath = (state: StateStore, stack: string): string => join(state.root, stack, 'notify.yaml');

function isLedgerEntry(v: unknown): v is WebhookLedger {
  if (v === null || typeof v !== 'object') return false;
  const e = v as Partial<WebhookLedger>;
  return typeof e.target === 'string' && typeof e.since === 'string' && Array.isArray(e.delivered) && e.delivered.every((k) => typeof k === 'string');
}

/**
 * The ledger on disk; missing reads as empty. A damaged one is an error: reading it as empty
 * would send every event again, so the caller says so and sends nothing until it is fixed.
 */
export async function readLedger(state: StateStore, stack: string): Promise<NotifyLedger> {
  const path = ledgerPath(state, stack);
  const text = await readIfExists(path);
  if (text === undefined) return { webhooks: {} };
  let value: unknown;
  try {
    value = parse(text);
  } catch (err) {
    throw new Error(`${path}: not valid YAML (${(err as Error).message.split('\n')[0] ?? ''}); delete it to have berth start it over (webhooks then hear the waiting states again)`);
  }
  const hooks = (value as { webhooks?: unknown } | null)?.webhooks;
  if (hooks === null || typeof hooks !== 'object' || !Object.values(hooks).every(isLedgerEntry)) {
    throw new Error(`${path}: not a berth notification ledger; delete it to have berth start it over (webhooks then hear the waiting states again)`);
  }
  return { webhooks: { ...(hooks as Record<string, WebhookLedger>) } };
}

export async function writeLedger(state: StateStore, stack: string, ledger: NotifyLedger): Promise<void> {
  await writeFileAtomic(ledgerPath(state, stack), stringify(ledger), PRIVATE.file, PRIVATE.dir);
}
