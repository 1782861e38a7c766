// compose's config hash of each service of a compose file, as `compose up` would stamp it on
// the containers it creates (`com.docker.compose.config-hash`): asked of compose itself
// (`config --hash '*'`), never computed by berth. The file is given on stdin, so a rendered
// file (which can hold secrets) is not written anywhere to be hashed.
import { parseServiceHashes } from '../plan/recreate.js';
import type { ComposeCli } from './compose.js';

export interface HashInputs {
  project: string;
  projectDirectory: string;
  /** A compose file's text (a rendered revision). */
  composeText: string;
  profiles?: readonly string[];
}

export async function serviceConfigHashes(compose: Pick<ComposeCli, 'run'>, inputs: HashInputs, timeoutMs = 60_000): Promise<Map<string, string>> {
  const args = [
    '-p',
    inputs.project,
    '--project-directory',
    inputs.projectDirectory,
    '-f',
    '-',
    ...(inputs.profiles ?? []).flatMap((p) => ['--profile', p]),
    'config',
    '--hash',
    '*',
  ];
  const { stdout } = await compose.run(args, { timeoutMs, input: inputs.composeText });
  return parseServiceHashes(stdout);
}
