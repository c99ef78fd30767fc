/** ledge's version, from its package.json (one place to bump it). */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// dist/src/core/version.js → the package root.

export const VERSION: string = (require('../../../package.json') as { version: string }).version;
