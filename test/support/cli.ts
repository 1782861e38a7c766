// The `berth` command run as a separate process, the way a person or a cron job runs it.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built CLI entry point (this file runs as dist/test/support/cli.js). */
export const BERTH = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

/** Runs `berth <args>` in `cwd` with warnings-only logs; resolves with its exit code and output. */
export function berth(args: string[], cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BERTH, ...args], { cwd, env: { ...process.env, BERTH_LOG_LEVEL: 'warn' } }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}
