/**
 * `ledge.yaml`: the pipeline's stages. Parsed and validated here, with errors that name the
 * file, line and key; the same zod schema produces the published JSON Schema
 * (`schemas/ledge.schema.json`) for editor completion.
 *
 *     stages:
 *       train:
 *         desc: Train the sentiment model
 *         cmd: node train.js            # any shell command (or a list, run in order)
 *         wdir: .                        # paths below are relative to it
 *         deps: [data/prepared, train.js]
 *         params: [train.epochs, train.lr, {other.yaml: [seed]}]
 *         outs: [model/]
 *         metrics: [metrics/train.json]
 *         env: {OMP_NUM_THREADS: "1"}
 */
import path from 'node:path';
import { z } from 'zod';
import { LedgeError } from '../core/errors.js';
import { parseYamlWith } from '../core/yaml-schema.js';

const relativePath = z
  .string()
  .min(1)
  .refine((p) => !path.isAbsolute(p), 'must be a path relative to the stage directory');

const paramsEntry = z.union(
  [
    z.string().min(1).describe('a key of params.yaml, dotted for nested keys (train.epochs)'),
    z
      .record(z.string().min(1), z.array(z.string().min(1)))
      .describe('keys of another parameters file: {other.yaml: [key, …]}'),
  ],
  { error: 'must be a key of params.yaml (train.epochs) or {file.yaml: [keys]}' },
);

export const stageSchema = z
  .object({
    desc: z.string().optional().describe('what the stage does'),
    cmd: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)], {
        error:
          'must be a shell command (a string; quote it if YAML reads it as a number or boolean) or a list of them',
      })
      .describe('shell command(s) run from wdir; any language or framework'),
    wdir: relativePath
      .optional()
      .describe('working directory, relative to ledge.yaml (default: its directory)'),
    deps: z.array(relativePath).optional().describe('files and directories the stage reads'),
    params: z.array(paramsEntry).optional().describe('parameter keys the stage reads'),
    outs: z
      .array(relativePath)
      .optional()
      .describe('files and directories the stage writes, stored in the cache'),
    metrics: z.array(relativePath).optional().describe('JSON metrics files the stage writes'),
    env: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string())
      .optional()
      .describe('extra environment'),
  })
  .strict();

export const pipelineSchema = z
  .object({
    stages: z
      .record(
        z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'stage names use letters, digits, _ . -'),
        stageSchema,
      )
      .describe('the stages, by name'),
  })
  .strict();

/** The pipeline file, at the workspace root. */
export const PIPELINE_FILE = 'ledge.yaml';

export type StageSpec = z.infer<typeof stageSchema>;

/** A stage with every path resolved to a workspace-relative POSIX path. */
export interface Stage {
  name: string;
  desc: string | undefined;
  commands: string[];
  /** Workspace-relative working directory ('' for the workspace root). */
  wdir: string;
  deps: string[];
  /** Parameter keys by workspace-relative parameters file. */
  params: Map<string, string[]>;
  outs: string[];
  metrics: string[];
  env: Record<string, string>;
}

export interface Pipeline {
  /** Workspace-relative path of the ledge.yaml. */
  file: string;
  stages: Stage[];
}

/** Joins and normalises POSIX paths; refuses paths that leave the workspace. */
function resolveIn(base: string, rel: string, where: string): string {
  const joined = path.posix
    .normalize(path.posix.join(base || '.', rel.replace(/\\/g, '/')))
    .replace(/\/+$/, '');
  if (joined === '..' || joined.startsWith('../')) {
    throw new LedgeError('config', `${where}: '${rel}' is outside the workspace`, {
      hint: 'stage paths must stay inside the workspace',
    });
  }
  return joined === '.' ? '' : joined;
}

/** Parses `ledge.yaml` text; `file` is its workspace-relative path. */
export function parsePipeline(text: string, file: string): Pipeline {
  const spec = parseYamlWith({ text, file }, pipelineSchema, {
    hint: 'see docs/pipelines.md; editors can use schemas/ledge.schema.json',
  });
  const base = path.posix.dirname(file) === '.' ? '' : path.posix.dirname(file);
  const stages: Stage[] = Object.entries(spec.stages).map(([name, s]) => {
    const where = `${file}: stages.${name}`;
    const wdir = resolveIn(base, s.wdir ?? '.', `${where}.wdir`);
    const params = new Map<string, string[]>();
    for (const entry of s.params ?? []) {
      const pairs = typeof entry === 'string' ? [['params.yaml', [entry]] as const] : Object.entries(entry);
      for (const [paramsFile, keys] of pairs) {
        const resolved = resolveIn(wdir, paramsFile, `${where}.params`);
        params.set(resolved, [...(params.get(resolved) ?? []), ...keys]);
      }
    }
    return {
      name,
      desc: s.desc,
      commands: typeof s.cmd === 'string' ? [s.cmd] : s.cmd,
      wdir,
      deps: (s.deps ?? []).map((p) => resolveIn(wdir, p, `${where}.deps`)),
      params,
      outs: (s.outs ?? []).map((p) => resolveIn(wdir, p, `${where}.outs`)),
      metrics: (s.metrics ?? []).map((p) => resolveIn(wdir, p, `${where}.metrics`)),
      env: s.env ?? {},
    };
  });
  return { file, stages };
}

/** The JSON Schema of ledge.yaml, as published in schemas/ledge.schema.json. */
export function pipelineJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(pipelineSchema),
    $id: 'https://ledge.dev/schemas/ledge.schema.json',
    title: 'ledge pipeline (ledge.yaml)',
  };
}
