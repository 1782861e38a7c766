// Renders the compose file berth runs: the user's file with pinned images put in and every
// service labelled with the revision that last changed its definition. Carrying the label
// over for unchanged services matters: compose hashes labels into its config hash, so a
// fresh label on every service would recreate containers whose definition did not change.
// For the same reason a service adopted as a person ran it gets no label at all (adopt.ts).
import { stringify } from 'yaml';
import { LABEL_INSTANCE } from '../api/labels.js';
import { stableHash } from './hash.js';
import { runShape } from './runs.js';
import { serviceExpectations } from './services.js';
import { LABEL_REVISION, LABEL_STACK, type ExpectedService, type RevisionRecord, type Target } from './types.js';

export interface Rendered {
  composeText: string;
  services: ExpectedService[];
  /** The active profiles its services carry: compose up enables these, and so runs exactly the active services. */
  profiles: string[];
}

function labelsAsMap(labels: unknown): Record<string, string> {
  if (Array.isArray(labels)) {
    const out: Record<string, string> = {};
    for (const entry of labels) {
      const text = String(entry);
      const eq = text.indexOf('=');
      if (eq < 0) out[text] = '';
      else out[text.slice(0, eq)] = text.slice(eq + 1);
    }
    return out;
  }
  if (labels !== null && typeof labels === 'object') {
    return Object.fromEntries(Object.entries(labels as Record<string, unknown>).map(([k, v]) => [k, String(v ?? '')]));
  }
  return {};
}

/**
 * `instance` stamps every labelled service with the berth that manages the project. It is not
 * part of a service's definition hash: it changes only when another berth takes the project over.
 * `adopted` names services adopted as they run (see plan/adopt.ts), with compose's config hash of
 * them: those are rendered without berth's labels, and so stay in later revisions until their
 * definition changes.
 */
export function renderRevision(
  target: Target,
  revision: number,
  previous: ExpectedService[] = [],
  instance?: string,
  adopted: Readonly<Record<string, string>> = {},
): Rendered {
  return render(target, revision, previous, instance, adopted, false);
}

/**
 * The applied revision's services, whose labels (or adoption) carry over to the next revision
 * while their definition stays. Under another project every container is created anew, so
 * none of them stays unlabelled.
 */
export function carriedServices(applied: RevisionRecord | undefined, target: Target): ExpectedService[] {
  if (applied === undefined) return [];
  if (applied.project === target.project) return applied.services;
  return applied.services.map(({ configHash: _adopted, ...s }) => s);
}

/**
 * The target rendered without any of berth's labels: what compose is asked to hash to find
 * the services of a running install that can be adopted as they run (plan/adopt.ts).
 */
export function renderUnlabelled(target: Target): Rendered {
  return render(target, 0, [], undefined, {}, true);
}

function render(
  target: Target,
  revision: number,
  previous: ExpectedService[],
  instance: string | undefined,
  adopted: Readonly<Record<string, string>>,
  unlabelled: boolean,
): Rendered {
  const prior = new Map(previous.map((s) => [s.name, s]));
  const services: Record<string, Record<string, unknown>> = {};
  const expected: ExpectedService[] = [];
  const profiles = new Set<string>();
  const shapes = serviceExpectations(target.compose.services, target.profiles);
  const active = new Set(target.profiles ?? []);
  const all = active.has('*');
  for (const [name, def] of Object.entries(target.compose.services)) {
    const pinned = target.images[name];
    const service: Record<string, unknown> = { ...def };
    // Only what is active: `--profile` of an inactive profile would start its services too.
    if (shapes[name]!.active) for (const p of shapes[name]!.profiles) if (all || active.has(p)) profiles.add(p);
    if (pinned !== undefined) {
      service['image'] = pinned;
      // A pinned image is what runs; a build section would let `compose up` build something else.
      delete service['build'];
    }
    const definitionHash = stableHash(service);
    const before = prior.get(name);
    const unchanged = before !== undefined && before.definitionHash === definitionHash;
    const labelRevision = unchanged ? before.revision : revision;
    // Carried over while the definition stays; a changed service is recreated anyway, and labelled.
    const configHash = unchanged ? before.configHash : adopted[name];
    if (!unlabelled && configHash === undefined) {
      service['labels'] = {
        ...labelsAsMap(def['labels']),
        [LABEL_STACK]: target.stack.metadata.name,
        [LABEL_REVISION]: String(labelRevision),
        ...(instance !== undefined ? { [LABEL_INSTANCE]: instance } : {}),
      };
    }
    services[name] = service;
    expected.push({
      name,
      ...(pinned !== undefined ? { pinned } : {}),
      revision: labelRevision,
      ...(configHash !== undefined ? { configHash } : {}),
      definitionHash,
      ...runShape(shapes[name]!),
    });
  }
  const doc = {
    ...target.compose,
    'x-berth': { stack: target.stack.metadata.name, revision, version: target.version },
    services,
  };
  const header = `# Rendered by berth for stack ${target.stack.metadata.name}, revision ${revision} (version ${target.version}). Do not edit.\n`;
  return { composeText: header + stringify(doc, { aliasDuplicateObjects: false }), services: expected, profiles: [...profiles].sort() };
}
