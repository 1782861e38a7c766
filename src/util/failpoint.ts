// Failpoints for crash tests: when BERTH_FAILPOINTS names a point berth reaches, berth dies
// there with SIGKILL, exactly as a power cut or the OOM killer would end it, with no chance
// to clean up. Tests use them to stop berth at a precise step of an update and prove that
// a fresh berth finishes the job. Unset (always, outside tests) they cost one lookup.

const armed = new Set(
  (process.env['BERTH_FAILPOINTS'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== ''),
);

/** Names in use, e.g. `update:after-pull`; see the reconciler for the full list. */
export function failpoint(name: string): void {
  if (armed.size === 0 || !armed.has(name)) return;
  process.stderr.write(`berth: failpoint ${name} reached; killing this process (BERTH_FAILPOINTS)\n`);
  process.kill(process.pid, 'SIGKILL');
}
