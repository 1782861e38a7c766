// The local Debian base image (berth-test/debian:<suite>) for tests whose images need real
// Debian packages (nginx, PostgreSQL, berth itself): made by scripts/build-base-image.sh with
// debootstrap the first time, reused afterwards. No base image can be pulled here.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describeError } from './engine.js';

const execFileAsync = promisify(execFile);

/** The repository root (this file runs as dist/test/support/base-image.js). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const memo = new Map<string, Promise<string>>();

/**
 * The image reference of the Debian base image for `suite` (default trixie: Node.js 20,
 * docker-cli and the compose plugin are packaged there). Builds it when absent or stale;
 * fails with the script's own message (e.g. how to install debootstrap) when it cannot.
 */
export function debianBaseImage(suite = 'trixie'): Promise<string> {
  let ref = memo.get(suite);
  if (ref === undefined) {
    ref = execFileAsync('bash', [join(REPO_ROOT, 'scripts', 'build-base-image.sh'), suite], { timeout: 15 * 60_000 }).then(
      ({ stdout }) => stdout.trim().split('\n').at(-1) ?? '',
      (err: unknown) => {
        memo.delete(suite);
        throw new Error(`could not make the Debian ${suite} base image: ${describeError(err)}`, { cause: err });
      },
    );
    memo.set(suite, ref);
  }
  return ref;
}
