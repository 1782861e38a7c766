// Debian's chromium driven by playwright-core: nothing here downloads a browser. A test
// that needs it fails (never skips) when it is missing, saying how to get it.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A fresh Chromium with a profile of its own (removed on close). */
export async function launchChromium(viewport = { width: 1280, height: 900 }): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: this test drives Debian's chromium. To get it: run \`bash scripts/setup-engine.sh\` as root (scripts/setup.d/20-chromium.sh installs it)`);
  }
  const profile = await mkdtemp(join(tmpdir(), 'berth-chromium-'));
  // A persistent context is playwright's way to pass a fresh --user-data-dir.
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport });
  return {
    context,
    close: async () => {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}
