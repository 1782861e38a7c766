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
