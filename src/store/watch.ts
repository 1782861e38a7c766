// Change notifications for the manifests folder and the compose files it points at. Only a
// trigger: the reconciler re-reads everything itself, so a lost or doubled event costs one
// pass, never correctness.
import { watch, type FSWatcher } from 'chokidar';
import { isManifestFile } from './manifests.js';
import { basename } from 'node:path';

export interface FileWatcher {
  /** Also watch these files (compose files of the stacks); idempotent. */
  track(files: Iterable<string>): void;
  close(): Promise<void>;
}

/**
 * `onError` hears what the watcher cannot do (the inotify limit, too many open files, a
 * path it cannot follow such as a symlink loop): without a listener such an error would end
 * berth. Events may be missed from then on, so the caller should rescan more often.
 */
export function watchManifests(dir: string, onChange: (file: string) => void, onError: (err: Error) => void): FileWatcher {
  const watcher: FSWatcher = watch(dir, {
    ignoreInitial: true,
    depth: 0,
    // Editors save by writing a temp file and renaming it; wait for the write to settle.
    awaitWriteFinish: { stabilityThreshold: 150, pollInterval: 50 },
  });
  const tracked = new Set<string>();
  const fire = (path: string) => {
    if (tracked.has(path) || isManifestFile(basename(path))) onChange(path);
  };
  watcher.on('add', fire).on('change', fire).on('unlink', fire).on('error', (err: unknown) => {
    onError(err instanceof Error ? err : new Error(String(err)));
  });
  return {
    track(files) {
      for (const f of files) {
        if (!tracked.has(f)) {
          tracked.add(f);
          watcher.add(f);
        }
      }
    },
    close: () => watcher.close(),
  };
}
