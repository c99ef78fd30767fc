/**
 * `ledge deploy <model>`, `deploy status|history|rollback|stop`: put a registered model (or a
 * bundle) on a deploy target behind a stable endpoint, gated by its recorded metrics, with
 * every deployment recorded (docs/deploy.md). The command resolves the model reference into a
 * local bundle here; src/deploy does the rest.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { digestHex } from '../../core/digest.js';
import { LedgeError } from '../../core/errors.js';
import type { GateConfig } from '../../deploy/deploy-config.js';
import type { Candidate, DeployerOptions, DeployReport } from '../../deploy/deployer.js';
import type { DeployOutcome, ModelToDeploy, ServingInstance, TargetStatus } from '../../deploy/target.js';
import type { Deployment } from '../../metadata/deployments.js';
import type { MetadataStore } from '../../metadata/metadata-store.js';
import type { Store } from '../../store/store.js';
import type { CommandContext } from '../context.js';
import { table } from '../table.js';

interface TargetFlags {
  target?: string;
  json?: boolean;
}

interface DeployFlags extends TargetFlags {
  force?: boolean;
  cause?: string;
}

/** `[node, bin/ledge.js, 'serve']`: the ledge running now, as `ledgeShimDir` finds it for stages. */
function serveCommand(): string[] {
  const running = process.argv[1];
  const bin =
    running && fs.existsSync(running) && fs.statSync(running).isFile()
      ? running
      : fileURLToPath(new URL('../../../../bin/ledge.js', import.meta.url));
  return [process.execPath, bin, 'serve'];
}

interface OpenedTarget {
  store: Store;
  metadata: MetadataStore;
  deployer: DeployerOptions;
  gate: GateConfig;
  close(): Promise<void>;
}

/** The workspace, its metadata store, and the target (default: the configured default). */
async function openTarget(ctx: CommandContext, name: string | undefined): Promise<OpenedTarget> {
  const [config, targets] = await Promise.all([
    import('../../deploy/deploy-config.js'),
    import('../../deploy/open-target.js'),
  ]);
  const store = await ctx.openStore();
  try {
    const chosen = config.targetConfig(config.readDeployConfig(store.ws.ledgeDir, store.ws.root), name);
    const database = ctx.metadataTarget(store);
    const env = {
      workspace: store.ws.root,
      deployDir: path.join(store.ws.ledgeDir, 'deploy'),
      serveCommand: serveCommand(),
      database,
    };
    const target = await targets.openTarget(chosen.name, chosen.config, env);
    const metadata = await ctx.openMetadata(store);
    return {
      store,
      metadata,
      gate: chosen.config.gate ?? config.DEFAULT_GATE,
      deployer: {
        db: metadata.db,
        target,
        lockFile: targets.targetLockFile(env, chosen.name),
        onWait: (holder) =>
          ctx.note(
            `waiting for another deployment on '${chosen.name}' (pid ${holder.pid}: ${holder.command})`,
          ),
      },
      async close() {
        await metadata.close();
        store.close();
      },
    };
  } catch (error) {
    store.close();
    throw error;
  }
}

async function withTarget<T>(
  ctx: CommandContext,
  name: string | undefined,
  fn: (opened: OpenedTarget) => Promise<T>,
): Promise<T> {
  const opened = await openTarget(ctx, name);
  try {
    return await fn(opened);
  } finally {
    await opened.close();
  }
}

function readCard(bundle: string): { name?: unknown; metrics?: unknown } | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(bundle, 'model-card.json'), 'utf8')) as {
      name?: unknown;
      metrics?: unknown;
    };
  } catch {
    return undefined;
  }
}

/** A model reference as a local bundle, with what the registry (or its model card) says of it. */
async function candidateFor(
  ctx: CommandContext,
  store: Store,
  metadata: MetadataStore,
  ref: string,
): Promise<Candidate> {
  const [{ resolveModelPath }, registry] = await Promise.all([
    import('../../ml/registry/resolve-model.js'),
    import('../../metadata/model-registry.js'),
  ]);
  const resolved = await resolveModelPath(store, metadata, ref, { cwd: ctx.cwd });
  if (resolved.kind !== 'bundle') {
    throw new LedgeError('usage', `${ref} is a bare .onnx model, not a model bundle`, {
      hint: 'the local target serves bundles written by `ledge train` (preprocessing, labels, vocabulary)',
    });
  }
  const card = readCard(resolved.path);
  const registered =
    resolved.name !== undefined && resolved.version !== undefined
      ? await registry.getModelVersion(metadata.db, resolved.name, resolved.version)
      : undefined;
  const cardMetrics =
    card?.metrics && typeof card.metrics === 'object' ? (card.metrics as Record<string, unknown>) : {};
  const name =
    registered?.name ??
    (typeof card?.name === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(card.name)
      ? card.name
      : 'model');
  return {
    name,
    // A bundle outside the registry is served under its digest's first 12 hex digits.
    version: registered ? String(registered.version) : digestHex(resolved.digest).slice(0, 12),
    digest: resolved.digest,
    path: resolved.path,
    label: registered ? `${registered.name}@${registered.version}` : ref,
    registryVersion: registered?.version ?? null,
    modelVersionId: registered?.id ?? null,
    runExecutionId: registered?.executionId ?? null,
    metrics: registered && Object.keys(registered.metrics).length > 0 ? registered.metrics : cardMetrics,
  };
}

/** Whether `ref` names an image (`registry/repo:tag`) rather than a model or a bundle path. */
async function isImageReference(ctx: CommandContext, ref: string): Promise<boolean> {
  if (fs.existsSync(path.resolve(ctx.cwd, ref))) return false;
  const { looksLikeImageReference } = await import('../../deploy/engine/engine-image.js');
  return looksLikeImageReference(ref);
}

/**
 * An image reference as a candidate (targets that run images): the model its labels name,
 * with the registry's record of it (metrics for the gate, the run) when it is registered.
 */
async function imageCandidate(opened: OpenedTarget, ref: string): Promise<Candidate> {
  const target = opened.deployer.target;
  if (!target.describeImage) {
    const { DeployError } = await import('../../deploy/deploy-errors.js');
    throw new DeployError(
      'not-supported',
      `target '${target.name}' (kind ${target.kind}) runs model bundles, not images such as ${ref}`,
      {
        hint: 'deploy images to a target of kind: engine (docs/deploy.md), or deploy a model reference here',
      },
    );
  }
  const image = await target.describeImage(ref);
  const registry = await import('../../metadata/model-registry.js');
  let registered: Awaited<ReturnType<typeof registry.getModelVersion>> | undefined;
  if (image.modelDigest?.startsWith('sha256:')) {
    registered = await registry.findModelVersionByDigest(
      opened.metadata.db,
      image.modelDigest as `sha256:${string}`,
    );
  }
  if (!registered && image.name && image.version && /^\d+$/.test(image.version)) {
    registered = await registry
      .getModelVersion(opened.metadata.db, image.name, Number(image.version))
      .catch(() => undefined);
    if (registered && image.modelDigest && registered.digest !== image.modelDigest) registered = undefined;
  }
  const repository = ref.split('@')[0]!.replace(/:[^/:]*$/, '');
  const name = image.name ?? registered?.name ?? repository.slice(repository.lastIndexOf('/') + 1);
  const version =
    image.version ??
    (registered ? String(registered.version) : digestHex(image.digest as `sha256:${string}`).slice(0, 12));
  return {
    name,
    version,
    digest: image.modelDigest ?? registered?.digest ?? image.digest,
    path: ref,
    image: ref,
    label: registered ? `${registered.name}@${registered.version} (${ref})` : ref,
    registryVersion: registered?.version ?? null,
    modelVersionId: registered?.id ?? null,
    runExecutionId: registered?.executionId ?? null,
    metrics: registered?.metrics ?? {},
  };
}

/** The image an earlier deployment ran, when its target runs images (recorded by the engine target). */
function deployedImage(deployment: Deployment): string | undefined {
  const image = deployment.properties.image as { pinned?: unknown; reference?: unknown } | undefined;
  if (!image || typeof image !== 'object') return undefined;
  return typeof image.pinned === 'string' ? image.pinned : deployment.location;
}

/** Finds an earlier deployment's bundle again (rollback): from the registry, else its path; or its image. */
async function locator(ctx: CommandContext, opened: OpenedTarget) {
  const { resolveModelPath } = await import('../../ml/registry/resolve-model.js');
  return async (deployment: Deployment): Promise<ModelToDeploy> => {
    const served = deployment.properties.servedVersion;
    const image = deployedImage(deployment);
    if (image) {
      return {
        name: deployment.modelName,
        version: typeof served === 'string' ? served : String(deployment.modelVersion ?? '?'),
        digest: deployment.modelDigest,
        path: image,
        image,
      };
    }
    const ref =
      deployment.modelVersion !== null
        ? `${deployment.modelName}@${deployment.modelVersion}`
        : deployment.location;
    const resolved = await resolveModelPath(opened.store, opened.metadata, ref, { cwd: ctx.cwd });
    if (resolved.digest !== deployment.modelDigest) {
      throw new LedgeError(
        'file-changed',
        `cannot roll back to deployment ${deployment.id}: ${ref} is not the model it deployed any more (${resolved.digest}, was ${deployment.modelDigest})`,
        { hint: 'deploy the model you want with `ledge deploy MODEL`' },
      );
    }
    return {
      name: deployment.modelName,
      version:
        typeof served === 'string'
          ? served
          : String(deployment.modelVersion ?? digestHex(resolved.digest).slice(0, 12)),
      digest: resolved.digest,
      path: resolved.path,
    };
  };
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function servingText(s: ServingInstance | null): string {
  return s
    ? `${s.name}@${s.version}${s.deploymentId === null ? '' : ` (deployment ${s.deploymentId})`}`
    : '-';
}

function stepLines(outcome: DeployOutcome): string[] {
  return table(
    outcome.steps.map((s) => [`  ${s.step}`, s.ok ? 'ok' : 'FAILED', seconds(s.ms), s.detail ?? '']),
  );
}

function gateLine(report: DeployReport): string | undefined {
  const gate = report.gate;
  if (!gate) return undefined;
  if ('skipped' in gate) return `quality gate skipped (--force): ${gate.skipped}`;
  if (!gate.passed) return `quality gate overridden (--force): ${gate.message}`;
  return `quality gate passed: ${gate.message}`;
}

function reportJson(report: DeployReport) {
  return {
    deployment: report.deployment,
    ok: report.outcome.ok,
    url: report.outcome.url,
    steps: report.outcome.steps,
    reason: report.outcome.reason ?? null,
    serving: report.outcome.serving,
    replaced: report.replaced ?? null,
    restored: report.restored ?? null,
    gate: report.gate,
    facts: report.outcome.facts ?? null,
  };
}

/** Prints a deploy's or rollback's report; a failed one becomes the command's error. */
async function finish(ctx: CommandContext, report: DeployReport, json: boolean | undefined): Promise<void> {
  const { deploymentLabel } = await import('../../deploy/deployer.js');
  const { deployment, outcome } = report;
  const label = deploymentLabel(deployment);
  if (json) {
    ctx.json(reportJson(report));
    if (!outcome.ok) process.exitCode = 1;
    return;
  }
  const gate = gateLine(report);
  if (gate) ctx.say(gate);
  for (const line of stepLines(outcome)) ctx.say(line);
  if (!outcome.ok) {
    const still = outcome.serving
      ? `; ${servingText(outcome.serving)} is still serving at ${outcome.url}`
      : '; nothing is serving';
    const { DeployError } = await import('../../deploy/deploy-errors.js');
    throw new DeployError(
      'deploy-failed',
      `deployment ${deployment.id} of ${label} to '${deployment.target}' failed at ${outcome.reason ?? 'an unknown step'}${still}`,
      { hint: `details in \`ledge deploy history --target ${deployment.target} --json\`` },
    );
  }
  const replaced = report.replaced
    ? `; replaced ${deploymentLabel(report.replaced)} (deployment ${report.replaced.id})`
    : '';
  const restored = report.restored ? ` (the model of deployment ${report.restored.id})` : '';
  ctx.say(`Serving ${label}${restored} at ${outcome.url} (deployment ${deployment.id}${replaced})`);
}

function statusLines(
  status: TargetStatus,
  active: Deployment | undefined,
  label: (d: Deployment) => string,
): string[] {
  const lines: string[] = [];
  const s = status.serving;
  const head =
    status.state === 'serving' && s
      ? `serving ${s.name}@${s.version} at ${status.url}`
      : status.state === 'restarting'
        ? `restarting the model server (${status.url} answers 503 meanwhile)`
        : status.state === 'idle'
          ? `running, nothing deployed (${status.url})`
          : status.state === 'unhealthy'
            ? `UNHEALTHY (${status.url})`
            : 'stopped';
  lines.push(`${status.target} (${status.kind}): ${head}`);
  const rows: string[][] = [];
  if (active) {
    rows.push([
      '  deployment',
      `${active.id}: ${label(active)} ${active.modelDigest.slice(0, 19)}, since ${active.startedAt} (cause: ${active.cause})`,
    ]);
  }
  const d = status.details as {
    supervisor?: { pid?: number; startedAt?: string; answers?: boolean; control?: string };
    backends?: { pid?: number; port?: number; role?: string; name?: string; version?: string }[];
    restarts?: number;
    log?: string;
    engine?: { name: string; version: string; api: string; socket: string };
    containers?: {
      name: string;
      id: string;
      role: string;
      state: string;
      health: string | null;
      restarts: number;
      deploymentId: number | null;
      image?: string;
    }[];
  };
  if (d.supervisor?.pid !== undefined) {
    const health =
      d.supervisor.answers === false ? 'not answering' : d.supervisor.answers ? 'healthy' : 'gone';
    rows.push([
      '  supervisor',
      `pid ${d.supervisor.pid}, ${health}${d.supervisor.startedAt ? `, up since ${d.supervisor.startedAt}` : ''}`,
    ]);
  }
  for (const b of d.backends ?? []) {
    rows.push(['  server', `pid ${b.pid} on port ${b.port ?? '?'}: ${b.name}@${b.version} (${b.role})`]);
  }
  if (d.restarts !== undefined && d.restarts > 0) rows.push(['  restarts', String(d.restarts)]);
  if (d.engine) {
    rows.push([
      '  engine',
      `${d.engine.name} ${d.engine.version} (API ${d.engine.api}) at ${d.engine.socket}`,
    ]);
  }
  for (const c of d.containers ?? []) {
    const health = c.health ? `, ${c.health}` : '';
    const restarts = c.restarts ? `, ${c.restarts} restarts` : '';
    rows.push([
      '  container',
      `${c.name} (${c.id}, ${c.role}): ${c.state}${health}${restarts}, deployment ${c.deploymentId ?? '?'}, ${c.image ?? ''}`,
    ]);
  }
  if (d.log) rows.push(['  log', d.log]);
  lines.push(...table(rows));
  for (const problem of status.problems) lines.push(`  problem: ${problem}`);
  const events = status.events.slice(-5);
  if (events.length > 0) {
    lines.push('  recent events:');
    for (const e of events) lines.push(`    ${e.at}  ${e.kind}: ${e.message}`);
  }
  return lines;
}

export function registerDeployCommands(program: Command, context: () => CommandContext): void {
  const deploy = program
    .command('deploy')
    .description('deploy a model to a target behind a stable endpoint (blue/green, gated, recorded)')
    .argument(
      '<model>',
      'NAME, NAME@VERSION, NAME@ALIAS, sha256:…, a bundle directory, or (engine targets) an image REGISTRY/REPO:TAG',
    )
    .option(
      '-t, --target <name>',
      'deploy target from .ledge/deploy.yaml (default: its default_target, else local)',
    )
    .option('-f, --force', 'deploy even if the quality gate refuses the model')
    .option('--cause <text>', 'why it is deployed, recorded with it', 'manual')
    .option('--json', 'print the result as JSON')
    .action(async (ref: string, flags: DeployFlags) => {
      const ctx = context();
      const { deployModel } = await import('../../deploy/deployer.js');
      const report = await withTarget(ctx, flags.target, async (opened) => {
        const candidate = (await isImageReference(ctx, ref))
          ? await imageCandidate(opened, ref)
          : await candidateFor(ctx, opened.store, opened.metadata, ref);
        if (!flags.json) {
          ctx.say(
            `Deploying ${candidate.label} (${candidate.digest.slice(0, 19)}) to '${opened.deployer.target.name}' at ${opened.deployer.target.url}`,
          );
        }
        return deployModel(opened.deployer, {
          candidate,
          gate: opened.gate,
          force: flags.force,
          cause: flags.cause,
        });
      });
      await finish(ctx, report, flags.json);
    });

  deploy
    .command('status')
    .description('what serves where: the model, the endpoint, the supervisor and its servers')
    .option(
      '-t, --target <name>',
      'deploy target (default: default_target in .ledge/deploy.yaml, else local)',
    )
    .option('--json', 'print the status as JSON')
    .action(async (_flags: TargetFlags, command: Command) => {
      const flags = command.optsWithGlobals<TargetFlags>();
      const ctx = context();
      const { targetStatus, deploymentLabel } = await import('../../deploy/deployer.js');
      const { status, active } = await withTarget(ctx, flags.target, (opened) =>
        targetStatus(opened.metadata.db, opened.deployer.target),
      );
      if (flags.json) return ctx.json({ ...status, deployment: active ?? null });
      for (const line of statusLines(status, active, deploymentLabel)) ctx.say(line);
    });

  deploy
    .command('history')
    .description('the deployments of a target, newest first, with how each ended')
    .option(
      '-t, --target <name>',
      'deploy target (default: default_target in .ledge/deploy.yaml, else local)',
    )
    .option('-n, --limit <n>', 'show the newest N', '20')
    .option('--json', 'print the deployments as JSON')
    .action(async (_flags: TargetFlags, command: Command) => {
      const flags = command.optsWithGlobals<TargetFlags & { limit: string }>();
      const limit = Number(flags.limit);
      if (!Number.isInteger(limit) || limit < 1) {
        throw new LedgeError('usage', `--limit must be a positive integer, not '${flags.limit}'`);
      }
      const ctx = context();
      const [{ listDeployments }, { deploymentLabel }] = await Promise.all([
        import('../../metadata/deployments.js'),
        import('../../deploy/deployer.js'),
      ]);
      const { name, deployments } = await withTarget(ctx, flags.target, async (opened) => ({
        name: opened.deployer.target.name,
        deployments: await listDeployments(opened.metadata.db, {
          target: opened.deployer.target.name,
          limit,
        }),
      }));
      if (flags.json) return ctx.json(deployments);
      if (deployments.length === 0) {
        ctx.say(`No deployments on '${name}'; \`ledge deploy MODEL --target ${name}\` makes one.`);
        return;
      }
      const rows = deployments.map((d) => [
        String(d.id),
        deploymentLabel(d),
        d.status,
        d.startedAt,
        d.cause,
        d.message ?? '',
      ]);
      for (const line of table([['id', 'model', 'status', 'started', 'cause', 'message'], ...rows]))
        ctx.say(line);
    });

  deploy
    .command('rollback')
    .description('go back to the previous successful deployment of another model')
    .option(
      '-t, --target <name>',
      'deploy target (default: default_target in .ledge/deploy.yaml, else local)',
    )
    .option('--cause <text>', 'why, recorded with it', 'rollback')
    .option('--json', 'print the result as JSON')
    .action(async (_flags: DeployFlags, command: Command) => {
      const flags = command.optsWithGlobals<DeployFlags>();
      const ctx = context();
      const { rollbackDeployment } = await import('../../deploy/deployer.js');
      // The parent's --cause defaults to `manual`; a rollback's to `rollback`.
      const cause = flags.cause === 'manual' ? 'rollback' : flags.cause;
      const report = await withTarget(ctx, flags.target, async (opened) =>
        rollbackDeployment(opened.deployer, { cause, locate: await locator(ctx, opened) }),
      );
      await finish(ctx, report, flags.json);
    });

  deploy
    .command('stop')
    .description('stop serving on a target and free its endpoint')
    .option(
      '-t, --target <name>',
      'deploy target (default: default_target in .ledge/deploy.yaml, else local)',
    )
    .option('--json', 'print the result as JSON')
    .action(async (_flags: TargetFlags, command: Command) => {
      const flags = command.optsWithGlobals<TargetFlags>();
      const ctx = context();
      const { stopTarget } = await import('../../deploy/deployer.js');
      const { outcome, ended } = await withTarget(ctx, flags.target, (opened) => stopTarget(opened.deployer));
      if (flags.json) return ctx.json({ ...outcome, deployment: ended ?? null });
      ctx.say(outcome.detail);
      if (ended) ctx.say(`deployment ${ended.id} is now stopped`);
    });
}
