// Resolves a valid Stack and its parsed compose file into the concrete Target berth converges
// to. Pure: the caller read the files.
import type { ResolvedStack } from '../api/types.js';
import { stableHash } from './hash.js';
import type { ComposeDocument, Target } from './types.js';

/** The Stack is valid on its own but does not fit its compose file. */
export class TargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetError';
  }
}

export function asComposeDocument(composeFile: string, value: unknown): ComposeDocument {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TargetError(`${composeFile}: expected a compose file (a mapping with \`services\`)`);
  }
  const services = (value as Record<string, unknown>)['services'];
  if (services === null || typeof services !== 'object' || Array.isArray(services)) {
    throw new TargetError(`${composeFile}: has no \`services\` mapping; berth needs at least one service`);
  }
  for (const [name, def] of Object.entries(services as Record<string, unknown>)) {
    if (def === null || typeof def !== 'object' || Array.isArray(def)) {
      throw new TargetError(`${composeFile}: services.${name} must be a mapping`);
    }
  }
  return value as ComposeDocument;
}

export interface TargetSource {
  stack: ResolvedStack;
  manifest: string;
  composeFile: string;
  compose: ComposeDocument;
}

export function resolveTarget(src: TargetSource): Target {
  const { stack, compose } = src;
  const images = stack.spec.images ?? {};
  const unknown = Object.keys(images).filter((s) => !(s in compose.services));
  if (unknown.length > 0) {
    throw new TargetError(
      `${src.manifest}: spec.images names ${unknown.map((s) => `"${s}"`).join(', ')}, which ${src.composeFile} does not define` +
        ` (its services: ${Object.keys(compose.services).join(', ')})`,
    );
  }
  const project = stack.spec.compose.project ?? stack.metadata.name;
  const projectDirectory = dirnameOf(src.composeFile);
  const version = stack.spec.version ?? '';
  return {
    stack,
    manifest: src.manifest,
    version,
    images,
    project,
    projectDirectory,
    compose,
    key: stableHash({ version, images, compose, project, projectDirectory }),
    generation: stableHash({ spec: stack.spec, compose }),
  };
}

// node:path is pure string work, but keeping plan/ free of node: I/O modules is easier to
// check at a glance; compose files are POSIX paths on the hosts berth runs on.
function dirnameOf(path: string): string {
  const i = path.lastIndexOf('/');
  if (i < 0) return '.';
  if (i === 0) return '/';
  return path.slice(0, i);
}
