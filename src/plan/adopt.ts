// Adopting a running install: the first revision over containers a person started with
// `docker compose up`. berth's labels are part of a service's definition, so compose hashes
// them into its config hash and would recreate every container once, only because berth
// took over. Instead, a service whose containers all carry the config hash compose gives
// the service as berth renders it without its labels is adopted as it runs: rendered without
// berth's labels (compose keeps its containers) and known by that hash from then on. Every
// other service is rendered with berth's labels, as its containers are recreated anyway, so
// what berth creates always carries its stamp (see ownership.ts). Pure.
import type { Observed } from './types.js';

/**
 * The services to adopt as they run, with the config hash their containers carry.
 * `unlabelledHashes` is compose's hash of each service rendered without berth's labels.
 */
export function adoptedServices(unlabelledHashes: Readonly<Record<string, string>>, observed: Observed): Record<string, string> {
  const byService = new Map<string, Observed['containers']>();
  for (const c of observed.containers) byService.set(c.service, [...(byService.get(c.service) ?? []), c]);
  const out: Record<string, string> = {};
  for (const [service, hash] of Object.entries(unlabelledHashes)) {
    const containers = byService.get(service) ?? [];
    // A container berth stamped is berth's own: it never runs an unlabelled definition.
    if (containers.length > 0 && containers.every((c) => c.configHash === hash && c.instance === undefined && c.revision === undefined)) {
      out[service] = hash;
    }
  }
  return out;
}
