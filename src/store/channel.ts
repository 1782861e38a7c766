// What berth keeps of a stack's release channel, beside its status:
//   <state>/<stack>/channel.yaml   the last accepted feed answer, and how the last check-in went
//   <state>/<stack>/report.yaml    which finished update was last reported to the feed
//   <state>/_instance-id           this host's identity towards vendors' feeds (outside the
//                                  stack namespace: stack names are DNS labels, never `_…`)
// The check-in writes channel.yaml; the reconcile pass only reads it, and verifies every
// release in it again, so a hand-edited file cannot smuggle a release past the key.
import { randomUUID } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { PRIVATE, writeFileAtomic } from '../util/atomic.js';
import { redactUrl } from '../util/redact.js';
import { readIfExists } from '../util/files.js';
import type { StateStore } from './state.js';

export interface ChannelRefusal {
  reason: string;
  message: string;
  at: string;
}

export interface ChannelState {
  url: string;
  channel: string;
  /** When a check-in was last accepted. */
  lastCheckIn?: string;
  lastAttempt?: string;
  /** Check-ins refused or failed in a row. */
  failures: number;
  refused?: ChannelRefusal;
  /** The report URL the accepted index named. */
  report?: string;
  /** The releases of the last accepted index, as served (signed). */
  releases: unknown[];
}

export interface ReportState {
  /** `<revision>@<started>` of the last update whose outcome reached the feed. */
  lastReported?: string;
}

async function readYaml(path: string): Promise<unknown> {
  const text = await readIfExists(path);
  return text === undefined ? undefined : parse(text);
}

/** Where a stack's channel state is kept (messages name it too). */
export const channelFile = (state: StateStore, stack: string) => join(state.root, stack, 'channel.yaml');
const reportPath = (state: StateStore, stack: string) => join(state.root, stack, 'report.yaml');

/** The stored channel state; a damaged file reads as none (the next check-in rewrites it). */
export async function readChannelState(state: StateStore, stack: string): Promise<ChannelState | undefined> {
  let value: unknown;
  try {
    value = await readYaml(channelFile(state, stack));
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const v = value as Partial<ChannelState>;
  if (typeof v.url !== 'string' || typeof v.channel !== 'string' || !Array.isArray(v.releases)) return undefined;
  return { failures: 0, ...v } as ChannelState;
}

/**
 * Whether the stored state is of the feed at `url`. The URL is stored without its credentials,
 * so a new password or token for the same feed keeps what was accepted from it.
 */
export function sameFeedUrl(stored: string, url: string): boolean {
  return redactUrl(stored) === redactUrl(url);
}

export async function writeChannelState(state: StateStore, stack: string, given: ChannelState): Promise<void> {
  // The feed URL may hold `user:password@` or `?token=`: they stay in the manifest only.
  const value: ChannelState = { ...given, url: redactUrl(given.url) };
  await writeFileAtomic(channelFile(state, stack), stringify(value, { aliasDuplicateObjects: false }), PRIVATE.file, PRIVATE.dir);
}

export async function readReportState(state: StateStore, stack: string): Promise<ReportState> {
  const value = await readYaml(reportPath(state, stack)).catch(() => undefined);
  return value !== null && typeof value === 'object' ? (value as ReportState) : {};
}

export async function writeReportState(state: StateStore, stack: string, value: ReportState): Promise<void> {
  await writeFileAtomic(reportPath(state, stack), stringify(value), PRIVATE.file, PRIVATE.dir);
}

const INSTANCE_ID_FILE = '_instance-id';

/** The id a file holds, or undefined when it is missing, not an id, or (legacy name) a stack's folder. */
async function readInstanceIdFile(file: string): Promise<string | undefined> {
  try {
    const id = (await readFile(file, 'utf8')).trim();
    return /^[A-Za-z0-9-]{8,64}$/.test(id) ? id : undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // EISDIR/ENOTDIR: the legacy name is a stack's folder now, not an identity.
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/** This host's identity as stored, without making one (for commands that write nothing). */
export async function storedInstanceId(state: StateStore): Promise<string | undefined> {
  return readInstanceIdFile(join(state.root, INSTANCE_ID_FILE));
}

/** This host's identity, made once per state folder; vendors see it on every check-in. */
export async function instanceId(state: StateStore): Promise<string> {
  const path = join(state.root, INSTANCE_ID_FILE);
  // Before 0.2 the identity was `<state>/instance-id`, which is also the folder of a stack
  // named `instance-id`. It moves (write the new file, then drop the old), keeping the same
  // id for vendors; a crash between the two leaves both, and the next start finishes it.
  const legacy = join(state.root, 'instance-id');
  const current = await readInstanceIdFile(path);
  const old = await readInstanceIdFile(legacy);
  const id = current ?? old ?? randomUUID();
  if (current === undefined) await writeFileAtomic(path, `${id}\n`, PRIVATE.file, PRIVATE.dir);
  if (old !== undefined) await rm(legacy, { force: true });
  return id;
}
