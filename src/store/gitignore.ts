/** Keeps tracked data out of git: adds `/name` to the `.gitignore` next to it. */
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomicSync } from '../core/atomic-fs.js';
import { isErrno } from '../core/errors.js';

/** Escapes gitignore pattern characters in a literal file name. */
function literalPattern(name: string): string {
  return `/${name.replace(/([\\*?[\]!# ])/g, '\\$1')}`;
}

/** Returns true when the entry was added, false when already present. */
export function ensureIgnored(absDataPath: string): boolean {
  const dir = path.dirname(absDataPath);
  const file = path.join(dir, '.gitignore');
  const pattern = literalPattern(path.basename(absDataPath));
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if (!isErrno(error, 'ENOENT')) throw error;
  }
  if (text.split(/\r?\n/).includes(pattern)) return false;
  const separator = text === '' || text.endsWith('\n') ? '' : '\n';
  writeFileAtomicSync(file, `${text}${separator}${pattern}\n`);
  return true;
}
