// berth's own notification defaults: a YAML file (`berth run --notify-config FILE`, or
// BERTH_NOTIFY_CONFIG) with `notify:` and the same webhook list as spec.notify. Read again
// whenever a stack without its own spec.notify is considered (a small file; parsed only when
// its text changed), so an edit takes effect without a restart, like a manifest's.
import { dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { NotifySpec } from '../api/types.js';
import { parseNotifyConfig } from '../api/validate-notify.js';
import { readRegularFile } from '../util/files.js';
import type { NotifyDefaults } from './notifier.js';

/**
 * The defaults in `file`, checked once now: a file that is missing or invalid at start is an
 * error (a typo in a flag should not pass for "no notifications"). Later problems (the file
 * edited into something invalid) are logged once, and stacks without spec.notify go without
 * notifications until it is fixed.
 */
export async function openNotifyDefaults(file: string, log: Logger): Promise<NotifyDefaults> {
  const path = resolve(file);
  try {
    parseNotifyConfig(path, await readRegularFile(path));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(code !== undefined ? `cannot read the notification defaults ${path} (${code}): check --notify-config / BERTH_NOTIFY_CONFIG` : (err as Error).message, { cause: err });
  }
  return notifyDefaultsFromFile(path, log);
}

export function notifyDefaultsFromFile(file: string, log: Logger): NotifyDefaults {
  const path = resolve(file);
  let cached: { text: string; webhooks: NotifySpec } | undefined;
  let told: string | undefined;
  return {
    async webhooks() {
      let text: string;
      try {
        text = await readRegularFile(path);
        if (cached?.text !== text) cached = { text, webhooks: parseNotifyConfig(path, text) };
        told = undefined;
        return { webhooks: cached.webhooks, baseDir: dirname(path) };
      } catch (err) {
        const message = (err as Error).message;
        if (told !== message) {
          told = message;
          log.error({ err, file: path }, `cannot use the notification defaults in ${path}; stacks without spec.notify are not notified until it is fixed`);
        }
        return undefined;
      }
    },
  };
}
