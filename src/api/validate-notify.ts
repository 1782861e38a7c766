// berth's own notification defaults (`berth run --notify-config FILE`): the webhooks of every
// stack that does not name its own, with the same schema and messages as spec.notify.
import type { ValidateFunction } from 'ajv';
import { notifySchema } from './schema.js';
import type { NotifySpec } from './types.js';
import { ajv, InvalidManifestError, parseYaml, problemsOf } from './validate.js';

export const notifyConfigSchema = {
  type: 'object',
  required: ['notify'],
  additionalProperties: false,
  properties: { notify: notifySchema },
} as const;

let validator: ValidateFunction | undefined;

/** Parses and validates a notify config file's text (`notify: [webhook, ...]`), with defaults applied. */
export function parseNotifyConfig(file: string, text: string): NotifySpec {
  validator ??= ajv.compile(notifyConfigSchema);
  const value = parseYaml(file, text);
  if (value === null || value === undefined) {
    throw new InvalidManifestError(file, [{ path: '', message: 'the file is empty; expected `notify:` and a list of webhooks' }]);
  }
  if (!validator(value)) throw new InvalidManifestError(file, problemsOf(validator.errors));
  return (value as { notify: NotifySpec }).notify;
}
