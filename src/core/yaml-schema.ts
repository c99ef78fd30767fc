/**
 * Parses YAML text and validates it against a zod schema, turning any problem into one
 * LedgeError that names the file, the line and the key.
 */
import { isMap, isNode, isScalar, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { type ErrorCode, LedgeError } from './errors.js';

export interface YamlSource {
  text: string;
  /** Path shown in messages, relative to the workspace where possible. */
  file: string;
}

function lineOf(lineCounter: LineCounter, offset: number | undefined): number | undefined {
  return offset === undefined ? undefined : lineCounter.linePos(offset).line;
}

export function parseYamlWith<S extends z.ZodType>(
  source: YamlSource,
  schema: S,
  options: { code?: ErrorCode; hint?: string } = {},
): z.infer<S> {
  const code = options.code ?? 'config';
  const lineCounter = new LineCounter();
  const doc = parseDocument(source.text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const firstError = doc.errors[0];
  if (firstError) {
    const line = lineOf(lineCounter, firstError.pos[0]) ?? 1;
    const reason = firstError.message.split('\n')[0] ?? 'invalid YAML';
    throw new LedgeError(code, `${source.file}:${line}: invalid YAML: ${reason}`, { hint: options.hint });
  }
  const data = doc.toJS() ?? {};
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const keyPath = issue.path.map(String);
  // Point at the deepest node that exists: the key itself, or its parent for a missing key.
  let line: number | undefined;
  if (issue.code === 'unrecognized_keys') {
    // Point at the first unknown key itself, not at the start of the mapping holding it.
    const map = keyPath.length > 0 ? doc.getIn(keyPath, true) : doc.contents;
    const pair = isMap(map)
      ? map.items.find((item) => isScalar(item.key) && String(item.key.value) === issue.keys[0])
      : undefined;
    if (pair && isNode(pair.key)) line = lineOf(lineCounter, pair.key.range?.[0]);
  }
  for (let depth = keyPath.length; depth >= 0 && line === undefined; depth--) {
    const node = doc.getIn(keyPath.slice(0, depth), true);
    if (isNode(node)) line = lineOf(lineCounter, node.range?.[0]);
  }
  const key = keyPath.length > 0 ? keyPath.join('.') : '(document)';
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
  }
  throw new LedgeError(code, `${source.file}:${line ?? 1}: ${key}: ${message}`, { hint: options.hint });
}
