// Image references as the engine files them. A pin may name Docker Hub in full
// (`docker.io/library/nginx@sha256:…`) while the engine lists the same image's repo digest in
// the familiar short form (`nginx@sha256:…`); compared as written, the image looks missing
// and is pulled again on every repair and prefetch. Pure, so plan and docker share it.

const HUB = 'docker.io';
const HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/**
 * The canonical repository of a reference without its tag or digest: the registry host
 * (lower-cased; Docker Hub's aliases become docker.io) and the path, with Docker Hub's
 * official images under `library/`. A first component names a registry only when it has a
 * dot or a port, or is `localhost`: the rule the engine itself applies.
 */
export function normalizeRepo(repo: string): string {
  const slash = repo.indexOf('/');
  const first = slash < 0 ? '' : repo.slice(0, slash);
  const isHost = first !== '' && (first.includes('.') || first.includes(':') || first === 'localhost');
  let host = isHost ? first.toLowerCase() : HUB;
  let path = isHost ? repo.slice(slash + 1) : repo;
  if (HUB_ALIASES.has(host)) host = HUB;
  if (host === HUB && !path.includes('/')) path = `library/${path}`;
  return `${host}/${path}`;
}

/** `repo@digest` with the repository made canonical; a ref without a digest is returned as is. */
export function normalizeDigestRef(ref: string): string {
  const at = ref.lastIndexOf('@');
  if (at < 0) return ref;
  return `${normalizeRepo(stripTag(ref.slice(0, at)))}${ref.slice(at)}`;
}

/** `repo:tag@digest` pins the digest; the tag says nothing more. */
function stripTag(repo: string): string {
  const colon = repo.lastIndexOf(':');
  return colon > repo.lastIndexOf('/') ? repo.slice(0, colon) : repo;
}

/** The pinned refs (each once, as written) whose repo@digest is not among the engine's repo digests. */
export function missingRefs(present: readonly string[], refs: readonly string[]): string[] {
  const have = new Set(present.map(normalizeDigestRef));
  return [...new Set(refs)].filter((ref) => !have.has(normalizeDigestRef(ref)));
}
