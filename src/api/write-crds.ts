// `npm run crds`: regenerates crds/ from the schemas.
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderCrds } from './crd.js';
import { writeFileAtomic } from '../util/atomic.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
for (const [name, text] of renderCrds()) {
  await writeFileAtomic(join(root, 'crds', name), text);
  process.stdout.write(`wrote crds/${name}\n`);
}
