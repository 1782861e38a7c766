// Renders the compose file berth runs: the user's file with pinned images put in and every
// service labelled with the revision that last changed its definition. Carrying the label
// over for unchanged services matters: compose hashes labels into its config hash, so a
// fresh label on every service would recreate containers whose definition did not change.
import { stringify } from 'yaml';
import { LABEL_INSTANCE } from '../api/labels.js';
import { stableHash } from './hash.js';
import { runShape } from './runs.js';
import { serviceExpectations } from './services.js';
import { LABEL_REVISION, LABEL_STACK, type ExpectedService, type Target } from './types.js';

export interface Rendered {
  composeText: string;
  services: ExpectedService[];
  /** Profiles its services carry: compose's model holds only active services, so all of them are enabled. */
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
 * `instance` stamps every service with the berth that manages the project. It is not part of
 * a service's definition hash: it changes only when another berth takes the project over.
 */
export function renderRevision(target: Target, revision: number, previous: ExpectedService[] = [], instance?: string): Rendered {
  const prior = new Map(previous.map((s) => [s.name, s]));
  const services: Record<string, Record<string, unknown>> = {};
  const expected: ExpectedService[] = [];
  const profiles = new Set<string>();
  const shapes = serviceExpectations(target.compose.services, target.profiles);
  for (const [name, def] of Object.entries(target.compose.services)) {
    const pinned = target.images[name];
    const service: Record<string, unknown> = { ...def };
    for (const p of shapes[name]!.profiles) profiles.add(p);
    if (pinned !== undefined) {
      service['image'] = pinned;
      // A pinned image is what runs; a build section would let `compose up` build something else.
      delete service['build'];
    }
    const definitionHash = stableHash(service);
    const before = prior.get(name);
    const labelRevision = before !== undefined && before.definitionHash === definitionHash ? before.revision : revision;
    service['labels'] = {
      ...labelsAsMap(def['labels']),
      [LABEL_STACK]: target.stack.metadata.name,
      [LABEL_REVISION]: String(labelRevision),
      ...(instance !== undefined ? { [LABEL_INSTANCE]: instance } : {}),
    };
    services[name] = service;
    expected.push({
      name,
      ...(pinned !== undefined ? { pinned } : {}),
      revision: labelRevision,
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
