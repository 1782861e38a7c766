// Revisions an older berth rendered from its own reading of the compose YAML. Their content
// key was made from that reading, so after an upgrade every stack would look changed and be
// applied again, recreating every container (berth's revision label changes). Instead, the
// applied revision's own file is read by compose: when compose makes of it exactly what it
// makes of today's inputs (with the same pins), nothing changed, and the target keeps the
// applied revision's key. Asked once per change of the inputs, like any model.
//
// Only a file whose meaning is its own qualifies: one that interpolates variables or reads an
// env_file means whatever today's .env says, so comparing it with today's model would hide
// every later change of a variable. Such a stack is applied once more, as a revision that
// holds its values.
import type { ModelSource } from '../docker/compose-model.js';
import { readRegularFile } from '../util/files.js';
import { LABEL_INSTANCE } from '../api/labels.js';
import { stableHash } from '../plan/hash.js';
import { LABEL_REVISION, LABEL_STACK, type RevisionRecord, type Target } from '../plan/types.js';

/** What compose runs: without berth's labels (stack, revision, managing instance), and without top-level `x-` extensions (x-berth, anchors' homes), which run nothing. */
function comparable(model: Record<string, unknown>, pins: Record<string, string>): unknown {
  const services = (model['services'] ?? {}) as Record<string, Record<string, unknown>>;
  const out: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(services)) {
    const service = { ...def };
    const pin = pins[name];
    if (pin !== undefined) {
      service['image'] = pin;
      delete service['build'];
    }
    const labels = { ...((service['labels'] ?? {}) as Record<string, string>) };
    delete labels[LABEL_STACK];
    delete labels[LABEL_REVISION];
    delete labels[LABEL_INSTANCE];
    if (Object.keys(labels).length > 0) service['labels'] = labels;
    else delete service['labels'];
    out[name] = service;
  }
  const rest = Object.fromEntries(Object.entries(model).filter(([key]) => !key.startsWith('x-')));
  return { ...rest, services: out };
}

/**
 * The target, keyed as the applied revision when that revision predates compose-resolved
 * models and compose reads both the same; otherwise the target unchanged. A revision file
 * compose cannot read is simply not the same.
 */
export async function keepLegacyKey(
  models: ModelSource,
  target: Target,
  applied: RevisionRecord | undefined,
  revisionFile: string,
): Promise<Target> {
  if (applied === undefined || applied.resolved === true || applied.targetKey === target.key) return target;
  if (applied.version !== target.version || applied.project !== target.project || applied.projectDirectory !== target.projectDirectory) return target;
  if (stableHash(applied.images) !== stableHash(target.images)) return target;
  let legacy;
  try {
    const text = await readRegularFile(revisionFile);
    if (text.replaceAll('$$', '').includes('$') || /\benv_file\b/.test(text)) return target;
    legacy = await models.resolve(`${target.stack.metadata.name}\u0000revision ${applied.revision}`, {
      projectDirectory: applied.projectDirectory,
      files: [revisionFile],
      project: applied.project,
      ...(applied.profiles !== undefined ? { profiles: applied.profiles } : {}),
    });
  } catch {
    return target;
  }
  const same = stableHash(comparable(legacy.model, {})) === stableHash(comparable(target.compose, target.images));
  return same ? { ...target, key: applied.targetKey } : target;
}
