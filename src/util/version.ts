// berth's own version, for the User-Agent a vendor's feed sees and for `berth --version`
// should it exist. package.json sits three folders above the compiled file in both layouts
// berth runs from (the checkout's dist/src/util and the image's /opt/berth/dist/src/util).
import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function berthVersion(): string {
  if (cached === undefined) {
    try {
      const pkg: unknown = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
      const version = typeof pkg === 'object' && pkg !== null ? (pkg as Record<string, unknown>)['version'] : undefined;
      cached = typeof version === 'string' ? version : 'unknown';
    } catch {
      // A missing package.json must not stop a check-in; the vendor just sees an unknown version.
      cached = 'unknown';
    }
  }
  return cached;
}
