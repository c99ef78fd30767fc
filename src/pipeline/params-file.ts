/**
 * Parameter values: the keys a stage lists under `params`, read from `params.yaml` (or another
 * named YAML or JSON file). Dotted keys reach into nested mappings (`train.epochs`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { isErrno, LedgeError } from '../core/errors.js';
import { parseYamlWith } from '../core/yaml-schema.js';
import type { Stage } from './pipeline-file.js';

/** Values by parameters file (workspace-relative), then by key. */
export type ParamValues = Record<string, Record<string, unknown>>;

const paramsDocument = z.record(z.string(), z.unknown(), {
  error: 'a parameters file must be a mapping of keys to values',
});

/** Reads parameters files once per instance (one pipeline evaluation). */
export class ParamsReader {
  private readonly files = new Map<string, Record<string, unknown>>();

  constructor(private readonly root: string) {}

  private document(file: string, stage: string): Record<string, unknown> {
    let doc = this.files.get(file);
    if (doc) return doc;
    let text: string;
    try {
      text = fs.readFileSync(path.join(this.root, file), 'utf8');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) {
        throw new LedgeError(
          'config',
          `stage '${stage}' reads parameters from ${file}, which does not exist`,
          {
            hint: `create ${file}, or fix the stage's params in ledge.yaml`,
          },
        );
      }
      throw new LedgeError('io', `cannot read ${file}: ${(error as Error).message}`);
    }
    doc = parseYamlWith({ text, file }, paramsDocument, { hint: 'fix the parameters file' });
    this.files.set(file, doc);
    return doc;
  }

  /** The values of every parameter `stage` lists; a missing key is an error naming file and key. */
  valuesFor(stage: Stage): ParamValues {
    const values: ParamValues = {};
    for (const [file, keys] of stage.params) {
      const doc = this.document(file, stage.name);
      const picked: Record<string, unknown> = {};
      for (const key of keys) {
        const value = lookup(doc, key);
        if (value === undefined) {
          throw new LedgeError('config', `${file}: no parameter '${key}' (read by stage '${stage.name}')`, {
            hint: `add ${key} to ${file}, or remove it from the stage's params in ledge.yaml`,
          });
        }
        picked[key] = value;
      }
      values[file] = picked;
    }
    return values;
  }
}

function lookup(doc: Record<string, unknown>, key: string): unknown {
  if (key in doc) return doc[key];
  let node: unknown = doc;
  for (const part of key.split('.')) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/**
 * Parameter values as one nested object, the shape `--where params.train.epochs = 5`
 * queries: `{train: {epochs: 5}}`. Keys from every file are merged.
 */
export function nestParams(values: ParamValues): Record<string, unknown> {
  const nested: Record<string, unknown> = {};
  for (const picked of Object.values(values)) {
    for (const [key, value] of Object.entries(picked)) {
      const parts = key.split('.');
      let node = nested;
      for (const part of parts.slice(0, -1)) {
        const next = node[part];
        if (next === null || typeof next !== 'object' || Array.isArray(next)) node[part] = {};
        node = node[part] as Record<string, unknown>;
      }
      node[parts[parts.length - 1]!] = value;
    }
  }
  return nested;
}
