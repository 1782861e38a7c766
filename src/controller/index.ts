// Which file holds which stack, as of the last scan of the manifests folder. Remembers the
// stack a file held, so a file that breaks is reported under that stack's name, and berth
// keeps acting on that stack's last valid desired state.
import { basename } from 'node:path';
import { InvalidManifestError } from '../api/validate.js';
import type { ManifestEntry } from '../store/manifests.js';
import { projectHolders, type ProjectClaim } from '../plan/project-claims.js';

export type WorkKey = `stack:${string}` | `file:${string}`;

export const stackKey = (name: string): WorkKey => `stack:${name}`;
export const fileKey = (file: string): WorkKey => `file:${basename(file)}`;

/** Which file the stack's status says held the name when berth last ran (undefined: none known). */
export type HolderOnDisk = (name: string) => Promise<string | undefined>;

/** The project a stack's applied revision runs under, as its status recorded it (undefined: none). */
export type RunningProjectOnDisk = (name: string) => Promise<string | undefined>;

export class ManifestIndex {
  private byName = new Map<string, ManifestEntry>();
  private unnamed = new Map<string, ManifestEntry>();
  /** The stack each file held at the last scan; only files of that scan, so it never outgrows the folder. */
  private heldBy = new Map<string, string>();
  private projects = new Map<string, string>();
  /** The project each stack resolved to (see plan/project-claims.ts), and who holds each project. */
  private claims = new Map<string, ProjectClaim>();
  private holders = new Map<string, string>();
  /** Stacks whose status was read for a claim already: each is read once per run, not every rescan. */
  private seeded = new Set<string>();

  /**
   * Takes a new scan; returns every key whose state may have changed (old and new). When
   * two files declare one name, the one that held it before keeps it (as of this run, else
   * as the stack's status recorded it), so a copy dropped beside a manifest never takes the
   * running stack over, whatever its file name. Only with no holder known does name order decide.
   */
  async update(entries: readonly ManifestEntry[], holderOnDisk: HolderOnDisk, runningOnDisk?: RunningProjectOnDisk): Promise<WorkKey[]> {
    const keys = new Set<WorkKey>(this.keys());
    const claims = new Map<string, ManifestEntry[]>();
    const unnamed = new Map<string, ManifestEntry>();
    for (const entry of entries) {
      const name = entry.stack?.metadata.name ?? entry.declaredName ?? this.heldBy.get(entry.file);
      if (name === undefined) unnamed.set(basename(entry.file), entry);
      else claims.set(name, [...(claims.get(name) ?? []), entry]);
    }
    const byName = new Map<string, ManifestEntry>();
    const heldBy = new Map<string, string>();
    const projects = new Map<string, string>();
    for (const [name, claimants] of claims) {
      const before = this.byName.get(name)?.file ?? (claimants.length > 1 ? await holderOnDisk(name) : undefined);
      // Files are scanned in name order, so without a known holder the same file wins every time.
      const holder = claimants.find((e) => e.file === before) ?? (claimants[0] as ManifestEntry);
      byName.set(name, holder);
      heldBy.set(holder.file, name);
      const claimed = this.claims.get(name)?.project;
      if (claimed !== undefined) projects.set(name, claimed);
      else if (holder.stack) projects.set(name, holder.stack.spec.compose.project ?? name);
      else if (this.projects.has(name)) projects.set(name, this.projects.get(name) as string);
      for (const other of claimants) {
        if (other === holder) continue;
        unnamed.set(basename(other.file), {
          file: other.file,
          error: new InvalidManifestError(other.file, [
            { path: 'metadata.name', message: `stack "${name}" is already declared by ${holder.file}; give this one another name` },
          ]),
        });
      }
    }
    this.byName = byName;
    this.unnamed = unnamed;
    this.heldBy = heldBy;
    this.projects = projects;
    await this.seedClaims(runningOnDisk);
    for (const k of this.keys()) keys.add(k);
    return [...keys];
  }

  /**
   * Claims of stacks this run has not resolved yet, from what their status says runs: a stack
   * whose containers run under a project keeps it even against one whose pass happens first.
   */
  private async seedClaims(runningOnDisk: RunningProjectOnDisk | undefined): Promise<void> {
    for (const name of this.seeded) if (!this.byName.has(name)) this.seeded.delete(name);
    for (const name of [...this.claims.keys()]) {
      const file = this.byName.get(name)?.file;
      if (file === undefined) this.claims.delete(name);
      else if (this.claims.get(name)?.manifest !== file) this.claims.set(name, { ...(this.claims.get(name) as ProjectClaim), manifest: file });
    }
    if (runningOnDisk !== undefined) {
      for (const [name, entry] of this.byName) {
        if (this.claims.has(name) || this.seeded.has(name)) continue;
        this.seeded.add(name);
        const project = await runningOnDisk(name);
        if (project === undefined) continue;
        this.claims.set(name, { stack: name, manifest: entry.file, project, running: true });
        this.projects.set(name, project);
      }
    }
    this.rehold();
  }

  private rehold(): void {
    this.holders = new Map([...projectHolders(this.claims.values(), this.holders)].map(([p, c]) => [p, c.stack]));
  }

  /**
   * Records the project a stack's pass resolved; returns the claim of the other stack that
   * holds that project, if one does (this stack must then not run under it).
   */
  claimProject(claim: ProjectClaim): ProjectClaim | undefined {
    this.claims.set(claim.stack, claim);
    if (this.byName.has(claim.stack)) this.projects.set(claim.stack, claim.project);
    this.rehold();
    const holder = this.holders.get(claim.project);
    return holder !== undefined && holder !== claim.stack ? this.claims.get(holder) : undefined;
  }

  /** How many files the index remembers a stack name for (for leak tests). */
  filesRemembered(): number {
    return this.heldBy.size;
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
