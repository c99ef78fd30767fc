#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with Node's test runner, in parallel.
// Pass file paths or name fragments to run a subset: `node scripts/test.js remote s3`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const testDir = path.join(root, 'dist', 'test');
const filters = process.argv.slice(2);

function collect(dir) {
  const found = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...collect(full));
    else if (entry.name.endsWith('.test.js')) found.push(full);
  }
  return found;
}

if (!fs.existsSync(testDir)) {
  console.error('ledge tests: dist/test is missing; run `npm run build` first');
  process.exit(1);
}
const files = collect(testDir)
  .filter((file) => filters.length === 0 || filters.some((f) => file.includes(f)))
  .sort();
if (files.length === 0) {
  console.error(`ledge tests: no test file matches ${filters.join(' ')}`);
  process.exit(1);
}
const concurrency = process.env.LEDGE_TEST_CONCURRENCY ?? '4';
const result = spawnSync(
  process.execPath,
  ['--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { stdio: 'inherit', env: { ...process.env, LEDGE_TEST: '1' } },
);
process.exit(result.status ?? 1);
