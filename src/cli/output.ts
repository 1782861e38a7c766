// `-o table|yaml|json`: one option, one printer, for every command that shows state.
import { Option } from 'commander';
import { stringify } from 'yaml';

export const OUTPUT_FORMATS = ['table', 'yaml', 'json'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function outputOption(): Option {
  return new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMATS).default('table');
}

/** Writes `value` as JSON or YAML on stdout; returns false for `table` (the caller prints its own). */
export function printStructured(format: OutputFormat, value: unknown): boolean {
  if (format === 'json') {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    return true;
  }
  if (format === 'yaml') {
    process.stdout.write(stringify(value, { aliasDuplicateObjects: false, lineWidth: 0 }));
    return true;
  }
  return false;
}
