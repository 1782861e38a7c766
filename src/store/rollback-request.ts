// A person's `berth rollback`, as berth's state remembers it between the command and the
// pass that applies it: <state>/<stack>/rollback-request.yaml. The manifest edit is what
// berth converges to (declarative, like any edit); this note only lets the revision that edit
// produces say it was a rollback, not an update. It is used once: by the next revision
// written for the stack, which takes it when its version and images are the ones asked for
// and drops it otherwise (the person changed the manifest again in between).
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parse, stringify } from 'yaml';
import type { RevisionRecord } from '../plan/types.js';
import { PRIVATE, writeFileAtomic } from '../util/atomic.js';
import { readIfExists } from '../util/files.js';
import type { StateStore } from './state.js';

export interface RollbackRequest {
  version: string;
  images: Record<string, string>;
  fromRevision?: number;
  toRevision: number;
  requested: string;
}

const pathOf = (state: StateStore, stack: string) => join(state.root, stack, 'rollback-request.yaml');

export async function writeRollbackRequest(state: StateStore, stack: string, request: RollbackRequest): Promise<void> {
  await writeFileAtomic(pathOf(state, stack), stringify(request), PRIVATE.file, PRIVATE.dir);
}

/** The pending request, if one is on disk and readable (it only labels; a damaged one is none). */
export async function readRollbackRequest(state: StateStore, stack: string): Promise<Partial<RollbackRequest> | undefined> {
  const text = await readIfExists(pathOf(state, stack)).catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    return (parse(text) ?? {}) as Partial<RollbackRequest>;
  } catch {
    return undefined;
  }
}

/** Withdraws a request whose manifest edit did not happen (refused, or nothing to change). */
export async function clearRollbackRequest(state: StateStore, stack: string): Promise<void> {
  await rm(pathOf(state, stack), { force: true });
}

/**
 * Writes revision `record` (StateStore.writeRevision), marked as a rollback when it is what
 * the pending request asked for. Once the revision is on disk the request is used up either
 * way; a damaged or unreadable one is ignored (it only labels a revision, it never decides
 * what runs).
 */
export async function writeRevisionWithCause(state: StateStore, record: RevisionRecord, composeText: string): Promise<void> {
  const path = pathOf(state, record.stack);
  const text = await readIfExists(path).catch(() => undefined);
  await state.writeRevision(text === undefined ? record : withCause(record, text), composeText);
  if (text !== undefined) await rm(path, { force: true }).catch(() => undefined);
}

function withCause(record: RevisionRecord, text: string): RevisionRecord {
  let request: Partial<RollbackRequest>;
  try {
    request = (parse(text) ?? {}) as Partial<RollbackRequest>;
  } catch {
    return record;
  }
  if (request.version !== record.version || !isDeepStrictEqual(request.images, record.images) || typeof request.toRevision !== 'number') return record;
  return {
    ...record,
    cause: {
      kind: 'rollback',
      ...(typeof request.fromRevision === 'number' ? { fromRevision: request.fromRevision } : {}),
      toRevision: request.toRevision,
      requested: String(request.requested),
    },
  };
}
