// Kubernetes-style CustomResourceDefinition manifests generated from the schemas, so tools
// that understand CRDs (editors, kubeconform, GitOps validators) check manifests with the
// exact rules berth applies. crds/ is generated; a test fails when it is stale.
import { stringify } from 'yaml';
import { API_GROUP, API_VERSION_NAME, releaseSchema, stackSchema, stackStatusSchema } from './schema.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/**
 * Rewrites JSON Schema into the structural OpenAPI v3 subset a CRD accepts: `const` becomes a
 * one-value enum, and keywords CRDs reject ($id, title, propertyNames) are dropped, as is
 * `additionalProperties: false`, which the API server refuses beside `properties` (it prunes
 * unknown fields instead).
 */
export function toStructural(schema: Json): Json {
  if (Array.isArray(schema)) return schema.map(toStructural);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: { [k: string]: Json } = {};
  for (const [key, value] of Object.entries(schema)) {
    // CRD schemas have no if/then; berth itself still enforces it (validate.ts).
    if (key === '$id' || key === 'title' || key === 'propertyNames' || key === 'if' || key === 'then') continue;
    if (key === 'additionalProperties' && value === false) continue;
    if (key === 'const') {
      out['type'] = typeof value === 'number' ? 'number' : typeof value === 'boolean' ? 'boolean' : 'string';
      out['enum'] = [value];
      continue;
    }
    if (key === 'enum' && !('type' in schema)) {
      out['type'] = 'string';
    }
    out[key] = toStructural(value);
  }
  return out;
}

interface CrdNames {
  kind: string;
  plural: string;
}

function crd(names: CrdNames, schema: Json): Json {
  const structural = toStructural(schema) as { [k: string]: Json };
  const properties = { ...(structural['properties'] as { [k: string]: Json }) };
  // The API server owns metadata's schema; a CRD may not constrain it beyond `type`.
  properties['metadata'] = { type: 'object' };
  const singular = names.kind.toLowerCase();
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${names.plural}.${API_GROUP}` },
    spec: {
      group: API_GROUP,
      scope: 'Namespaced',
      names: { kind: names.kind, listKind: `${names.kind}List`, plural: names.plural, singular },
      versions: [
        {
          name: API_VERSION_NAME,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { ...structural, properties } },
        },
      ],
    },
  };
}

/** File name under crds/ -> YAML text. */
export function renderCrds(): Map<string, string> {
  const header = '# Generated from src/api/schema.ts by `npm run crds`. Do not edit.\n';
  const files = new Map<string, string>();
  files.set('stack.yaml', header + stringify(crd({ kind: 'Stack', plural: 'stacks' }, stackSchema as unknown as Json)));
  files.set(
    'stackstatus.yaml',
    header + stringify(crd({ kind: 'StackStatus', plural: 'stackstatuses' }, stackStatusSchema as unknown as Json)),
  );
  files.set('release.yaml', header + stringify(crd({ kind: 'Release', plural: 'releases' }, releaseSchema as unknown as Json)));
  return files;
}
