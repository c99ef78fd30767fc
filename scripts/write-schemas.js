#!/usr/bin/env node
// Regenerates schemas/ledge.schema.json from the zod schema in src/pipeline/pipeline-file.ts
// (run after `npm run build`). A test fails when the committed file is out of date.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { pipelineJsonSchema } = await import(path.join(repo, 'dist/src/pipeline/pipeline-file.js'));
fs.writeFileSync(
  path.join(repo, 'schemas/ledge.schema.json'),
  `${JSON.stringify(pipelineJsonSchema(), null, 2)}\n`,
);
console.log('wrote schemas/ledge.schema.json');
