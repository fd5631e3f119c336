/**
 * `npm run docs:write`: rewrites every generated doc file and block (src/docs/generated.ts) and
 * names the ones that changed. Run it after changing a schema description, the transition table,
 * an error code or a command; the docs tests fail until it has run.
 */
import { fileURLToPath } from 'node:url';
import { writeGenerated } from './generated.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const changed = await writeGenerated(root);
process.stdout.write(changed.length ? `rewrote ${changed.join(', ')}\n` : 'generated docs are up to date\n');
