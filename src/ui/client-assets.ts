/**
 * The browser code: the ES modules tsc compiles from src/ui/client/ into the package (no
 * bundler), read once at start and served from memory under /assets/client/. Only those files
 * are served; a request names one of them or gets a 404.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LedgeError } from '../core/errors.js';

/** Where the compiled browser modules are: next to this module, in client/. */
export const CLIENT_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'client');

/** `main.js`, `pages/runs.js` … → their text. */
export function loadClientModules(dir: string = CLIENT_DIR): Map<string, string> {
  const modules = new Map<string, string>();
  const walk = (at: string, prefix: string) => {
    for (const entry of fs.readdirSync(at, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(path.join(at, entry.name), `${prefix}${entry.name}/`);
      else if (entry.name.endsWith('.js')) {
        // The source map comment would send a developer's browser looking for .map files.
        const text = fs
          .readFileSync(path.join(at, entry.name), 'utf8')
          .replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n');
        modules.set(`${prefix}${entry.name}`, text);
      }
    }
  };
  try {
    walk(dir, '');
  } catch (error) {
    throw new LedgeError('io', `the dashboard's browser code is missing from ${dir}`, {
      hint: 'build ledge first (npm run build)',
      cause: error,
    });
  }
  if (!modules.has('main.js')) {
    throw new LedgeError('io', `the dashboard's browser code is missing from ${dir} (no main.js)`, {
      hint: 'build ledge first (npm run build)',
    });
  }
  return modules;
}
