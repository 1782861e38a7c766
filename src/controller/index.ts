// Which file holds which stack, as of the last scan of the manifests folder. Remembers the
// stack a file held, so a file that breaks is reported under that stack's name, and berth
// keeps acting on that stack's last valid desired state.
import { basename } from 'node:path';
import { InvalidManifestError } from '../api/validate.js';
import type { ManifestEntry } from '../store/manifests.js';

export type WorkKey = `stack:${string}` | `file:${string}`;

export const stackKey = (name: string): WorkKey => `stack:${name}`;
export const fileKey = (file: string): WorkKey => `file:${basename(file)}`;

export class ManifestIndex {
  private byName = new Map<string, ManifestEntry>();
  private unnamed = new Map<string, ManifestEntry>();
  private readonly heldBy = new Map<string, string>();
  private readonly projects = new Map<string, string>();

  /** Takes a new scan; returns every key whose state may have changed (old and new). */
  update(entries: readonly ManifestEntry[]): WorkKey[] {
    const keys = new Set<WorkKey>(this.keys());
    const byName = new Map<string, ManifestEntry>();
    const unnamed = new Map<string, ManifestEntry>();
    for (const entry of entries) {
      const name = entry.stack?.metadata.name ?? entry.declaredName ?? this.heldBy.get(entry.file);
      const owner = name === undefined ? undefined : byName.get(name);
      if (name === undefined) {
        unnamed.set(basename(entry.file), entry);
      } else if (owner !== undefined) {
        // Files are scanned in name order, so the same file wins every time.
        unnamed.set(basename(entry.file), {
          file: entry.file,
          error: new InvalidManifestError(entry.file, [
            { path: 'metadata.name', message: `stack "${name}" is already declared by ${owner.file}; give this one another name` },
          ]),
        });
      } else {
        byName.set(name, entry);
        this.heldBy.set(entry.file, name);
        if (entry.stack) this.projects.set(name, entry.stack.spec.compose.project ?? name);
      }
    }
    this.byName = byName;
    this.unnamed = unnamed;
    for (const k of this.keys()) keys.add(k);
    return [...keys];
  }

  keys(): WorkKey[] {
    return [...[...this.byName.keys()].map(stackKey), ...[...this.unnamed.values()].map((e) => fileKey(e.file))];
  }

  /** Names of every stack the folder declares. */
  stackNames(): string[] {
    return this.keys().flatMap((k) => (k.startsWith('stack:') ? [k.slice('stack:'.length)] : []));
  }

  fileOfStack(name: string): string | undefined {
    return this.byName.get(name)?.file;
  }

  unnamedEntry(fileName: string): ManifestEntry | undefined {
    return this.unnamed.get(fileName);
  }

  /** Stacks whose compose project is `project` (usually one). */
  stacksOfProject(project: string): string[] {
    return [...this.projects].filter(([name, p]) => p === project && this.byName.has(name)).map(([name]) => name);
  }
}
