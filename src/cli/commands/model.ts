/**
 * `ledge model register|import|list|show|alias|path`: the model registry. Named models with
 * numbered versions (a bundle directory or an .onnx file, kept in the content store) and
 * movable aliases; a model reference is a path, `name`, `name@3`, `name@alias` or a digest.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { type Digest, shortDigest } from '../../core/digest.js';
import { fsError, LedgeError } from '../../core/errors.js';
import type { ModelSummary, ModelVersion } from '../../metadata/model-registry.js';
import type { ModelInspection } from '../../ml/registry/model-files.js';
import type { RegisteredModel } from '../../ml/registry/register-model.js';
import type { CommandContext } from '../context.js';
import { count, formatBytes, thousands } from '../format.js';
import { formatValue, table } from '../table.js';

interface RegisterFlags {
  name?: string;
  metrics?: string;
  alias: string[];
  force?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** `--metrics FILE`: one JSON object, as a stage's metrics file. */
async function readMetricsFlag(ctx: CommandContext, file: string): Promise<Record<string, unknown>> {
  const { parseMetricsObject } = await import('../../pipeline/metrics.js');
  let text: string;
  try {
    text = fs.readFileSync(path.resolve(ctx.cwd, file), 'utf8');
  } catch (error) {
    throw fsError(error, file, '--metrics');
  }
  return parseMetricsObject(text, file);
}

function shape(value: { elemType: string; shape: (number | string | null)[] | null }): string {
  const dims = value.shape === null ? '' : ` [${value.shape.map((d) => (d === null ? '?' : d)).join(', ')}]`;
  return `${value.elemType}${dims}`;
}

/** What `ledge model import` shows of an ONNX file: opset, signature, size, operators. */
function inspectionLines(inspection: ModelInspection): string[] {
  const { onnx } = inspection;
  const opsets = onnx.opsetImports
    .map((o) =>
      o.domain === '' || o.domain === 'ai.onnx' ? `ai.onnx ${o.version}` : `${o.domain} ${o.version}`,
    )
    .join(', ');
  const producer = [onnx.producer.name, onnx.producer.version].filter((s) => s !== '').join(' ');
  const values = (list: typeof onnx.inputs) =>
    list.length === 0 ? '(none)' : list.map((v) => `${v.name}: ${shape(v)}`).join('; ');
  const operators = Object.entries(onnx.operators)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([op, n]) => (n === 1 ? op : `${op}×${n}`))
    .join(', ');
  return [
    `${inspection.shownAs}: valid ONNX model, ${formatBytes(onnx.sizeBytes)}${inspection.kind === 'bundle' ? ' (in a bundle)' : ''}`,
    ...table([
      [
        '  opset',
        `${opsets || '(none)'}; IR version ${onnx.irVersion}${producer ? `; producer ${producer}` : ''}`,
      ],
      ['  inputs', values(onnx.inputs)],
      ['  outputs', values(onnx.outputs)],
      ['  operators', `${operators || '(none)'} (${count(onnx.nodes, 'node')})`],
      ['  parameters', `${thousands(onnx.parameters)} in ${count(onnx.initializers, 'initializer')}`],
    ]),
  ];
}

function registeredLines(result: RegisteredModel): string[] {
  const { model } = result;
  const ref = `${model.name}@${model.version}`;
  const lines = result.created
    ? [`Registered ${ref} (${model.kind}, ${shortDigest(model.digest)}, ${formatBytes(model.size)})`]
    : [
        `${ref} already holds this model (${shortDigest(model.digest)}): nothing new registered; --force registers it again as a new version`,
      ];
  for (const { alias, previous } of result.aliases) {
    lines.push(`${model.name}@${alias} -> ${model.version}${aliasChange(previous, model.version)}`);
  }
  return lines;
}

function aliasChange(previous: number | undefined, now: number): string {
  if (previous === undefined) return '';
  return previous === now ? ' (unchanged)' : ` (was ${previous})`;
}

function metricsText(
  metrics: Record<string, unknown>,
  flatten: (v: Record<string, unknown>) => object,
): string {
  const flat = Object.entries(flatten(metrics));
  return flat.length === 0 ? '-' : flat.map(([k, v]) => `${k}=${formatValue(v)}`).join(' ');
}

function aliasesText(aliases: Record<string, number>): string {
  const entries = Object.entries(aliases);
  return entries.length === 0 ? '-' : entries.map(([a, v]) => `${a}=${v}`).join(' ');
}

/** `name@alias` as typed on the command line. */
function splitAliasRef(text: string): { name: string; alias: string } {
  const at = text.indexOf('@');
  if (at <= 0 || at === text.length - 1) {
    throw new LedgeError('usage', `'${text}' is not NAME@ALIAS`, {
      hint: 'e.g. `ledge model alias imdb-sentiment@production 3`',
    });
  }
  return { name: text.slice(0, at), alias: text.slice(at + 1) };
}

/**
 * The pipeline stage execution running this command, when it runs inside a stage of this
 * workspace (`ledge run` sets LEDGE_EXECUTION_ID and LEDGE_WORKSPACE): the model version then
 * records what produced it. A stage of another workspace, whose ids mean nothing here, gives none.
 */
function stageExecutionOf(root: string): number | undefined {
  const id = Number(process.env.LEDGE_EXECUTION_ID);
  const workspace = process.env.LEDGE_WORKSPACE;
  if (!Number.isSafeInteger(id) || id < 1 || workspace === undefined) return undefined;
  return path.resolve(workspace) === path.resolve(root) ? id : undefined;
}

export function registerModelCommands(program: Command, context: () => CommandContext): void {
  const model = program
    .command('model')
    .description('register models (bundles or .onnx files), version them, and name versions with aliases');

  const register = async (ctx: CommandContext, file: string, flags: RegisterFlags, kind?: 'onnx') => {
    if (!flags.name) {
      throw new LedgeError('usage', 'the model needs a name: --name NAME', {
        hint: 'e.g. --name imdb-sentiment; a new name starts at version 1',
      });
    }
    const name = flags.name;
    const metrics = flags.metrics === undefined ? undefined : await readMetricsFlag(ctx, flags.metrics);
    const { registerModel } = await import('../../ml/registry/register-model.js');
    const command = kind === 'onnx' ? 'model import' : 'model register';
    return ctx.withLockedStore(command, async (store) => {
      const metadata = await ctx.openMetadata(store);
      try {
        return await registerModel(store, metadata, {
          path: file,
          cwd: ctx.cwd,
          name,
          metrics,
          aliases: flags.alias,
          force: flags.force,
          kind,
          executionId: stageExecutionOf(store.ws.root),
        });
      } finally {
        await metadata.close();
      }
    });
  };

  const registeredJson = (result: RegisteredModel) => ({
    ...result.model,
    created: result.created,
    aliasesSet: result.aliases,
  });

  model
    .command('register')
    .description('store a model bundle directory or .onnx file and register it as the next version of NAME')
    .argument('<path>', 'a bundle directory (inside the workspace) or an .onnx file')
    .option('--name <name>', 'model name, e.g. imdb-sentiment (required)')
    .option('-m, --metrics <file>', "JSON metrics to record (default: a bundle's model-card.json metrics)")
    .option('-a, --alias <alias>', 'point this alias at the registered version (repeatable)', collect, [])
    .option('-f, --force', 'register a new version even if this content already is a version of NAME')
    .option('--json', 'print the registered version as JSON')
    .action(async (file: string, flags: RegisterFlags) => {
      const ctx = context();
      const result = await register(ctx, file, flags);
      if (flags.json) return ctx.json(registeredJson(result));
      for (const line of registeredLines(result)) ctx.say(line);
    });

  model
    .command('import')
    .description('bring your own model: inspect an .onnx file from any framework, then register it')
    .argument('<file>', 'an .onnx file')
    .option('--name <name>', 'model name, e.g. my-detector (required unless --dry-run)')
    .option('-m, --metrics <file>', 'JSON metrics to record with it')
    .option('-a, --alias <alias>', 'point this alias at the registered version (repeatable)', collect, [])
    .option('-f, --force', 'register a new version even if this content already is a version of NAME')
    .option('-n, --dry-run', 'only inspect the file: register nothing')
    .option('--json', 'print the inspection (and the registered version) as JSON')
    .action(async (file: string, flags: RegisterFlags) => {
      const ctx = context();
      if (flags.dryRun) {
        const { inspectModelPath } = await import('../../ml/registry/register-model.js');
        const inspection = inspectModelPath(file, ctx.cwd, 'onnx');
        if (flags.json) return ctx.json({ inspection: inspection.onnx });
        for (const line of inspectionLines(inspection)) ctx.say(line);
        return;
      }
      const result = await register(ctx, file, flags, 'onnx');
      if (flags.json) return ctx.json({ inspection: result.inspection.onnx, ...registeredJson(result) });
      for (const line of [...inspectionLines(result.inspection), ...registeredLines(result)]) ctx.say(line);
    });

  model
    .command('list')
    .description('list registered models: latest version, number of versions, aliases')
    .option('--json', 'print the result as JSON')
    .action(async (flags: { json?: boolean }) => {
      const ctx = context();
      const { listModels } = await import('../../metadata/model-registry.js');
      const metadata = await ctx.openMetadata();
      let models: ModelSummary[];
      try {
        models = await listModels(metadata.db);
      } finally {
        await metadata.close();
      }
      if (flags.json) return ctx.json(models);
      if (models.length === 0) {
        ctx.say('No models registered; `ledge model register PATH --name NAME` adds one.');
        return;
      }
      const rows = models.map((m) => [
        m.name,
        String(m.latest.version),
        String(m.versions),
        aliasesText(m.aliases),
        m.latest.kind,
        formatBytes(m.latest.size),
        shortDigest(m.latest.digest),
        m.latest.createdAt,
      ]);
      for (const line of table([
        ['name', 'latest', 'versions', 'aliases', 'kind', 'size', 'digest', 'registered'],
        ...rows,
      ]))
        ctx.say(line);
    });

  model
    .command('show')
    .description('show a model version (default: the latest) and every version of its model')
    .argument('<ref>', 'NAME, NAME@VERSION, NAME@ALIAS or sha256:…')
    .option('--json', 'print the result as JSON')
    .action(async (ref: string, flags: { json?: boolean }) => {
      const ctx = context();
      const [registry, { getExecution }, { flatten }] = await Promise.all([
        import('../../metadata/model-registry.js'),
        import('../../metadata/execution-queries.js'),
        import('../../pipeline/metrics.js'),
      ]);
      const metadata = await ctx.openMetadata();
      let shown: ModelVersion;
      let versions: ModelVersion[];
      let aliases: Record<string, number>;
      let execution: Awaited<ReturnType<typeof getExecution>> | undefined;
      try {
        shown = await registry.resolveModelRef(metadata.db, ref);
        versions = await registry.modelVersions(metadata.db, shown.name);
        aliases = await registry.modelAliases(metadata.db, shown.name);
        execution =
          shown.executionId === null
            ? undefined
            : await getExecution(metadata.db, shown.executionId).catch(() => undefined);
      } finally {
        await metadata.close();
      }
      const producedBy = execution
        ? {
            id: execution.id,
            type: execution.type,
            name: execution.name,
            status: execution.status,
            runId: execution.parent_id,
            startedAt: execution.started_at,
            gitCommit: execution.git_commit,
          }
        : null;
      if (flags.json) return ctx.json({ ...shown, producedBy, modelAliases: aliases, versions });
      const p = shown.properties;
      ctx.say(
        `${shown.name}@${shown.version} (${shown.kind})${shown.aliases.length > 0 ? `  aliases: ${shown.aliases.join(', ')}` : ''}`,
      );
      const facts: string[][] = [
        ['  digest', shown.digest],
        [
          '  size',
          `${formatBytes(shown.size)}${typeof p.files === 'number' ? ` (${count(p.files, 'file')})` : ''}`,
        ],
        ['  registered', shown.createdAt],
      ];
      if (producedBy) {
        const run = producedBy.runId === null ? '' : ` of run ${producedBy.runId}`;
        facts.push([
          '  produced by',
          `${producedBy.type} execution ${producedBy.id} (${producedBy.name}, ${producedBy.status})${run}; ledge runs show ${producedBy.id}`,
        ]);
      } else if (shown.executionId !== null) {
        facts.push(['  produced by', `execution ${shown.executionId} (no longer recorded)`]);
      }
      if (typeof p.source === 'string') facts.push(['  source', p.source]);
      if (typeof p.opset === 'number') facts.push(['  opset', String(p.opset)]);
      const signature = (list: unknown) =>
        Array.isArray(list)
          ? list
              .map(
                (v: { name?: string; elemType?: string; shape?: (number | string | null)[] | null }) =>
                  `${v.name}: ${shape({ elemType: v.elemType ?? '?', shape: v.shape ?? null })}`,
              )
              .join('; ')
          : undefined;
      const inputs = signature(p.inputs);
      const outputs = signature(p.outputs);
      if (inputs !== undefined) facts.push(['  inputs', inputs || '(none)']);
      if (outputs !== undefined) facts.push(['  outputs', outputs || '(none)']);
      if (p.operators && typeof p.operators === 'object') {
        facts.push(['  operators', Object.keys(p.operators).sort().join(', ') || '(none)']);
      }
      if (Array.isArray(p.labels)) facts.push(['  labels', p.labels.join(', ')]);
      facts.push(['  metrics', metricsText(shown.metrics, flatten)]);
      for (const line of table(facts)) ctx.say(line);
      ctx.say(`versions of ${shown.name} (aliases: ${aliasesText(aliases)}):`);
      const rows = versions.map((v) => [
        `  ${v.version === shown.version ? '*' : ' '} ${v.version}`,
        v.kind,
        formatBytes(v.size),
        shortDigest(v.digest as Digest),
        v.createdAt,
        v.aliases.join(', '),
      ]);
      for (const line of table(rows)) ctx.say(line);
    });

  model
    .command('alias')
    .description('point NAME@ALIAS at a version (e.g. imdb-sentiment@production 3), or remove it')
    .argument('<name@alias>', 'the model and alias, e.g. imdb-sentiment@production')
    .argument('[version]', 'a version number, or another alias of the model (e.g. staging, latest)')
    .option('-d, --delete', 'remove the alias')
    .option('--json', 'print the result as JSON')
    .action(
      async (target: string, version: string | undefined, flags: { delete?: boolean; json?: boolean }) => {
        const ctx = context();
        const { name, alias } = splitAliasRef(target);
        const registry = await import('../../metadata/model-registry.js');
        registry.checkModelName(name);
        if (flags.delete) {
          if (version !== undefined) {
            throw new LedgeError('usage', `--delete takes no version (got '${version}')`, {
              hint: `\`ledge model alias --delete ${target}\``,
            });
          }
        } else {
          registry.checkAlias(alias);
          if (version === undefined) {
            throw new LedgeError(
              'usage',
              `\`ledge model alias ${target}\` needs the version to point it at`,
              {
                hint: `e.g. \`ledge model alias ${target} 3\`; see \`ledge model show ${name}\``,
              },
            );
          }
        }
        const metadata = await ctx.openMetadata();
        try {
          if (flags.delete) {
            const removed = await registry.deleteAlias(metadata.db, name, alias);
            if (flags.json) return ctx.json({ name, alias, version: null, previous: removed });
            ctx.say(`Removed ${name}@${alias} (was ${removed})`);
            return;
          }
          const to = await registry.resolveModelRef(metadata.db, `${name}@${version}`);
          const { previous } = await registry.setAlias(metadata.db, name, alias, to.version);
          if (flags.json) return ctx.json({ name, alias, version: to.version, previous: previous ?? null });
          ctx.say(`${name}@${alias} -> ${to.version}${aliasChange(previous, to.version)}`);
        } finally {
          await metadata.close();
        }
      },
    );

  model
    .command('path')
    .description('print the local path of a model, materialising a registered one under .ledge/models/')
    .argument('<ref>', 'NAME, NAME@VERSION, NAME@ALIAS, sha256:…, or a bundle directory / .onnx file')
    .option('--json', 'print the path, kind, name, version and digest as JSON')
    .action(async (ref: string, flags: { json?: boolean }) => {
      const ctx = context();
      const { resolveModelPath } = await import('../../ml/registry/resolve-model.js');
      // No workspace lock: stages call this while `ledge run` holds it. Materialising takes a
      // lock of its own per model.
      const resolved = await ctx.withStore(async (store) => {
        const metadata = await ctx.openMetadata(store);
        try {
          return await resolveModelPath(store, metadata, ref, { cwd: ctx.cwd });
        } finally {
          await metadata.close();
        }
      });
      if (flags.json) return ctx.json(resolved);
      process.stdout.write(`${resolved.path}\n`);
    });

  model
    .command('pack')
    .description('write a model bundle directory as one reproducible archive file (.ledgemodel)')
    .argument('<bundle>', 'model bundle directory')
    .option('-o, --out <file>', 'archive to write (default: <bundle>.ledgemodel)')
    .action(async (bundle: string, flags: { out?: string }) => {
      const ctx = context();
      const { packBundle, BUNDLE_ARCHIVE_SUFFIX } = await import('../../runtime/model/bundle-archive.js');
      const out = flags.out ?? `${bundle.replace(/[\\/]+$/, '')}${BUNDLE_ARCHIVE_SUFFIX}`;
      await packBundle(bundle, out);
      ctx.say(`${out} (${formatBytes(fs.statSync(out).size)}); predict, evaluate and serve take it as it is`);
    });
}
