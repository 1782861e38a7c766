// Change notifications for the manifests folder and the compose files it points at. Only a
// trigger: the reconciler re-reads everything itself, so a lost or doubled event costs one
// pass, never correctness.
import { watch, type FSWatcher } from 'chokidar';
import { isManifestFile } from './manifests.js';
import { basename, dirname, resolve } from 'node:path';

export interface FileWatcher {
  /** Also watch these files (compose files of the stacks); idempotent. */
  track(files: Iterable<string>): void;
  /** The files tracked now (deleted ones are forgotten). */
  trackedFiles(): string[];
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
  const root = resolve(dir);
  const notify = (path: string, wasTracked: boolean) => {
    if (wasTracked || isManifestFile(basename(path))) onChange(path);
  };
  const fire = (path: string) => notify(path, tracked.has(path));
  watcher.on('add', fire).on('change', fire).on('unlink', (path: string) => {
    // Forgotten, or every compose file a long-running berth ever saw stays watched. The
    // event still triggers a pass of its stack, and that pass tracks the file again if
    // the stack still names it (the reconciler returns the file even when it is missing).
    const wasTracked = tracked.delete(path);
    // A file right in the folder stays covered by the folder's own watch; chokidar's
    // unwatch would ignore that name from then on, manifests included.
    if (wasTracked && resolve(dirname(path)) !== root) watcher.unwatch(path);
    notify(path, wasTracked);
  }).on('error', (err: unknown) => {
    onError(err instanceof Error ? err : new Error(String(err)));
  });
  // A pass that was running when berth stopped still hands over its compose files; chokidar
  // would watch them on a closed watcher, and those handles kept berth from exiting.
  let closed = false;
  return {
    track(files) {
      if (closed) return;
      for (const f of files) {
        if (!tracked.has(f)) {
          tracked.add(f);
          watcher.add(f);
        }
      }
    },
    trackedFiles: () => [...tracked],
    close: () => {
      closed = true;
      return watcher.close();
    },
  };
}
