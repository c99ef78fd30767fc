/**
 * One rollout on an engine target, step by step (each step timed and reported):
 *
 *   resolve  the image's manifest from its registry (ledge's client): digest, sizes, labels
 *   pull     the engine pulls `repository@digest`; the bytes it moved are counted
 *   create, start, ready, smoke
 *            with a version serving: a *candidate* container on a spare port, checked while
 *            the old one keeps the stable port (engine health `healthy`, then a smoke
 *            inference), then removed; with nothing serving, straight onto the stable port
 *   switch   the new container is created on the stable port, the old one is stopped
 *            (SIGTERM, drain_timeout), the new one started and probed until it answers and
 *            passes a smoke inference — the only moment nothing answers on the port
 *   remove   the old container is removed (its image stays, so a rollback pulls nothing)
 *
 * Any failure before the switch removes the new container and leaves the old one untouched.
 * A failure during the switch removes the new container and starts the old one again; the
 * time from the failure to the old version answering is reported (`restoredMs`).
 */
import { isLedgeError } from '../../core/errors.js';
import type { EngineTargetConfig } from '../deploy-config.js';
import { DeployError } from '../deploy-errors.js';
import { smokeInference } from '../model-probes.js';
import type { DeployOutcome, DeployStep, ModelToDeploy, ServingInstance } from '../target.js';
import { waitReady } from './container-health.js';
import {
  type ContainerPlan,
  type ContainerRole,
  containerBody,
  containerName,
  healthcheckFor,
} from './container-spec.js';
import type { HealthConfig } from './engine-api.js';
import { compareApiVersions, type EngineClient, type RegistryAuth } from './engine-client.js';
import { oneLine } from './engine-http.js';
import { imageFor, modelFromLabels, type ResolvedImage, resolveImage } from './engine-image.js';
import { type PulledBytes, pulledBytes } from './pull-progress.js';
import { instanceOf, type TargetContainer, targetContainers } from './target-containers.js';

export interface RolloutContext {
  target: string;
  config: EngineTargetConfig;
  client: EngineClient;
  /** The stable endpoint, and how this process reaches a port of the engine's host. */
  url: string;
  probeHost: string;
  auth: RegistryAuth | undefined;
  /** A free port on the engine's host for a candidate. */
  sparePort: () => Promise<number>;
}

/** A step's failure: the message, and where it helps, the container's last log lines. */
class StepFailure extends Error {}

const errorText = (error: unknown) => (isLedgeError(error) ? error.line : oneLine((error as Error).message));

export class EngineRollout {
  private readonly ctx: RolloutContext;
  private readonly spec: { deploymentId: number; model: ModelToDeploy };
  readonly steps: DeployStep[] = [];
  private readonly facts: Record<string, unknown> = {};
  /** Containers this rollout created and has not handed over yet: removed on failure. */
  private readonly created = new Set<string>();

  constructor(ctx: RolloutContext, spec: { deploymentId: number; model: ModelToDeploy }) {
    this.ctx = ctx;
    this.spec = spec;
  }

  private async step<T>(
    name: string,
    fn: () => Promise<{ value: T; detail?: string | undefined }>,
  ): Promise<T> {
    const started = performance.now();
    try {
      const { value, detail } = await fn();
      this.steps.push({ step: name, ok: true, ms: Math.round(performance.now() - started), detail });
      return value;
    } catch (error) {
      const detail = errorText(error);
      this.steps.push({ step: name, ok: false, ms: Math.round(performance.now() - started), detail });
      throw new StepFailure(`${name}: ${detail}`, { cause: error });
    }
  }

  private get engine(): EngineClient {
    return this.ctx.client;
  }

  private portUrl(port: number): string {
    const host = this.ctx.probeHost.includes(':') ? `[${this.ctx.probeHost}]` : this.ctx.probeHost;
    return `http://${host}:${port}`;
  }

  /** `; last output: a | b | c` from the container's log, or nothing. */
  private async logTail(id: string): Promise<string> {
    const lines = await this.engine.logs(id, 5);
    return lines.length > 0 ? `; last output: ${oneLine(lines.join(' | '), 300)}` : '';
  }

  async run(): Promise<DeployOutcome> {
    const { ctx } = this;
    const existing = await targetContainers(this.engine, ctx.target);
    // A candidate, or a serving container that never ran, left by an interrupted rollout.
    for (const stale of existing.filter((c) => c.role === 'candidate' || c.summary.State === 'created')) {
      await this.engine.removeContainer(stale.id);
    }
    const old = existing.filter((c) => c.role === 'serving' && c.summary.State !== 'created');
    const oldRunning = old.filter((c) => c.running);
    const oldServing = oldRunning[0] ? instanceOf(oldRunning[0], ctx.config.port) : null;
    let image: { run: string; health: HealthConfig | undefined };
    try {
      image = await this.prepareImage();
      if (oldRunning.length > 0) {
        await this.check('candidate', image, await ctx.sparePort());
      }
    } catch (error) {
      await this.removeCreated();
      return this.failed(error, oldServing);
    }
    if (oldRunning.length === 0) {
      // Nothing serves: the checked container is the one that serves.
      for (const gone of old) await this.engine.removeContainer(gone.id);
      try {
        const id = await this.check('serving', image, ctx.config.port);
        this.created.delete(id);
        return this.succeeded(id, null);
      } catch (error) {
        await this.removeCreated();
        return this.failed(error, null);
      }
    }
    return this.switchOver(image, old, oldServing);
  }

  /** resolve + pull: the image to run (pinned by digest when resolved) and its health check. */
  private async prepareImage(): Promise<{ run: string; health: HealthConfig | undefined }> {
    const { ctx, spec } = this;
    const reference = imageFor(ctx.target, ctx.config, spec.model);
    this.facts.image = { reference };
    let resolved: ResolvedImage | undefined;
    if (ctx.config.pull !== 'never') {
      resolved = await this.step('resolve', async () => {
        const r = await resolveImage(reference, {
          platform: `${this.engine.info.os}/${this.engine.info.arch}`,
          auth: ctx.auth,
        });
        this.checkModel(r);
        const size = r.layers.reduce((sum, l) => sum + l.size, 0);
        return {
          value: r,
          detail: `${r.digest.slice(0, 19)}, ${r.layers.length} layers, ${formatBytes(size)}`,
        };
      });
      this.facts.image = { reference, digest: resolved.digest, pinned: resolved.pinned };
    }
    const run = resolved?.pinned ?? reference;
    await this.step('pull', async () => {
      if (!resolved) {
        const found = await this.engine.inspectImage(reference);
        if (!found) {
          throw new DeployError('deploy-failed', `the engine has no image ${reference} (pull: never)`, {
            hint: 'load it (docker load / podman load) or set pull: missing',
          });
        }
        this.facts.pull = { bytes: 0, skipped: 'pull: never' };
        return { value: undefined, detail: 'pull: never; the engine has it' };
      }
      if (ctx.config.pull === 'missing' && (await this.engine.inspectImage(resolved.pinned))) {
        this.facts.pull = { bytes: 0, layersPulled: 0, layersPresent: resolved.layers.length };
        return { value: undefined, detail: 'the engine has it (pull: missing)' };
      }
      const started = performance.now();
      let summary: Awaited<ReturnType<EngineClient['pull']>>;
      try {
        summary = await this.engine.pull(resolved.repository, resolved.digest, { auth: ctx.auth });
      } catch (error) {
        throw withPullHint(error, resolved.repository);
      }
      const pulled: PulledBytes = pulledBytes(summary, resolved);
      this.facts.pull = { ...pulled, ms: Math.round(performance.now() - started) };
      return {
        value: undefined,
        detail: `${formatBytes(pulled.bytes)} pulled (${pulled.layersPulled} of ${resolved.layers.length} layers; ${pulled.layersPresent} already there)`,
      };
    });
    const inspected = resolved ? undefined : await this.engine.inspectImage(reference);
    const health = healthcheckFor(
      ctx.config.healthcheck,
      resolved?.healthcheck ?? inspected?.Config?.Healthcheck ?? undefined,
    );
    return { run, health };
  }

  /** An image named by a model reference must hold that model (when its labels say which). */
  private checkModel(resolved: ResolvedImage): void {
    const { model } = this.spec;
    if (model.image) return;
    const labelled = modelFromLabels(resolved.labels);
    if (labelled.digest && labelled.digest !== model.digest) {
      throw new DeployError(
        'deploy-failed',
        `${resolved.reference} holds model ${labelled.digest.slice(0, 19)}${labelled.name ? ` (${labelled.name}@${labelled.version ?? '?'})` : ''}, not ${model.name}@${model.version} (${model.digest.slice(0, 19)})`,
        {
          hint: `build and push the image for this version (ledge build ${model.name}@${model.version} --push)`,
        },
      );
    }
  }

  private plan(
    role: ContainerRole,
    image: { run: string; health: HealthConfig | undefined },
    hostPort: number,
  ): ContainerPlan {
    return {
      target: this.ctx.target,
      deploymentId: this.spec.deploymentId,
      role,
      model: this.spec.model,
      image: image.run,
      hostPort,
      healthcheck: image.health,
      config: this.ctx.config,
      startInterval: compareApiVersions(this.engine.info.apiVersion, '1.44') >= 0,
    };
  }

  private async create(plan: ContainerPlan): Promise<string> {
    const id = await this.engine.createContainer(
      containerName(plan.target, plan.deploymentId, plan.role),
      containerBody(plan),
    );
    this.created.add(id);
    return id;
  }

  /**
   * create, start, ready, smoke: a container of `role` on `port`, checked. A candidate is
   * removed once it passed (the serving one is created at the switch); returns the container.
   */
  private async check(
    role: ContainerRole,
    image: { run: string; health: HealthConfig | undefined },
    port: number,
  ): Promise<string> {
    const { ctx, spec } = this;
    const plan = this.plan(role, image, port);
    const url = this.portUrl(port);
    const id = await this.step('create', async () => {
      const created = await this.create(plan);
      return {
        value: created,
        detail: `${containerName(ctx.target, spec.deploymentId, role)}${role === 'candidate' ? ` on spare port ${port}` : ` on port ${port}`}`,
      };
    });
    await this.step('start', async () => {
      await this.engine.startContainer(id);
      return { value: undefined };
    });
    await this.step('ready', async () => {
      try {
        const how = await waitReady(this.engine, id, {
          deadline: Date.now() + ctx.config.health_timeout * 1000,
          url,
          health: image.health,
        });
        return { value: undefined, detail: how };
      } catch (error) {
        throw new StepFailure(`${(error as Error).message}${await this.logTail(id)}`);
      }
    });
    await this.step('smoke', async () => {
      try {
        const score = await smokeInference(url, spec.model.name, ctx.config.smoke_text, 10_000);
        return { value: undefined, detail: `score ${Number(score.toFixed(4))}` };
      } catch (error) {
        throw new StepFailure(`${(error as Error).message}${await this.logTail(id)}`);
      }
    });
    if (role === 'candidate') {
      await this.engine.removeContainer(id);
      this.created.delete(id);
    }
    return id;
  }

  /** switch + remove: the new version takes the stable port from the old one. */
  private async switchOver(
    image: { run: string; health: HealthConfig | undefined },
    old: TargetContainer[],
    oldServing: ServingInstance | null,
  ): Promise<DeployOutcome> {
    const { ctx } = this;
    let id: string;
    try {
      id = await this.create(this.plan('serving', image, ctx.config.port));
    } catch (error) {
      this.steps.push({ step: 'switch', ok: false, ms: 0, detail: errorText(error) });
      await this.removeCreated();
      return this.failed(new StepFailure(`switch: ${errorText(error)}`), oldServing);
    }
    const started = performance.now();
    let stoppedAt = started;
    let readyAt = started;
    try {
      for (const c of old) await this.engine.stopContainer(c.id, ctx.config.drain_timeout);
      stoppedAt = performance.now();
      await this.engine.startContainer(id);
      await waitReady(this.engine, id, {
        deadline: Date.now() + ctx.config.health_timeout * 1000,
        url: ctx.url,
        health: image.health,
        preferProbe: true,
        pollMs: 25,
      });
      readyAt = performance.now();
      await smokeInference(ctx.url, this.spec.model.name, ctx.config.smoke_text, 10_000);
    } catch (error) {
      const failedAt = performance.now();
      const reason = `${(error as Error).message}${await this.logTail(id)}`;
      await this.removeCreated();
      const restored = await this.restore(old, failedAt);
      this.steps.push({
        step: 'switch',
        ok: false,
        ms: Math.round(performance.now() - started),
        detail: `${oneLine(reason)}; ${restored.detail}`,
      });
      this.facts.restoredMs = restored.ms;
      return this.failed(
        new StepFailure(`switch: ${oneLine(reason)}; ${restored.detail}`),
        restored.ok ? oldServing : null,
      );
    }
    // From SIGTERM to the old server to the new one answering: an upper bound of the time nothing
    // answers on the port (the old server may finish requests after SIGTERM; it accepts no new ones).
    const windowMs = Math.round(readyAt - started);
    this.facts.switch = {
      windowMs,
      stopMs: Math.round(stoppedAt - started),
      startToReadyMs: Math.round(readyAt - stoppedAt),
    };
    this.created.delete(id);
    const from = oldServing ? `${oldServing.name}@${oldServing.version}` : 'the old container';
    this.steps.push({
      step: 'switch',
      ok: true,
      ms: Math.round(performance.now() - started),
      detail: `port ${ctx.config.port} from ${from}: unanswered for at most ${seconds(windowMs)} (stop ${seconds(stoppedAt - started)}, start to ready ${seconds(readyAt - stoppedAt)})`,
    });
    await this.step('remove', async () => {
      for (const c of old) await this.engine.removeContainer(c.id);
      return { value: undefined, detail: old.map((c) => c.name).join(', ') };
    });
    return this.succeeded(id, oldServing);
  }

  /** Starts the old containers again after a failed switch; how long until the old version answered. */
  private async restore(
    old: TargetContainer[],
    failedAt: number,
  ): Promise<{ ok: boolean; ms: number; detail: string }> {
    const { ctx } = this;
    const names = old.map((c) => c.name).join(', ');
    try {
      for (const c of old) await this.engine.startContainer(c.id);
      const serving = old[0];
      if (serving) {
        await waitReady(this.engine, serving.id, {
          deadline: Date.now() + ctx.config.health_timeout * 1000,
          url: ctx.url,
          health: undefined,
          pollMs: 25,
        });
      }
      const ms = Math.round(performance.now() - failedAt);
      return {
        ok: true,
        ms,
        detail: `restarted ${names}, serving again ${(ms / 1000).toFixed(1)} s after the failure`,
      };
    } catch (error) {
      const ms = Math.round(performance.now() - failedAt);
      return { ok: false, ms, detail: `could not restart ${names}: ${errorText(error)}` };
    }
  }

  private async removeCreated(): Promise<void> {
    for (const id of this.created) {
      try {
        await this.engine.removeContainer(id);
      } catch {
        // reported by status as a leftover; the next deploy removes it
      }
    }
    this.created.clear();
  }

  private async succeeded(id: string, replaced: ServingInstance | null): Promise<DeployOutcome> {
    const { spec, ctx } = this;
    const name = containerName(ctx.target, spec.deploymentId, 'serving');
    this.facts.container = { id: id.slice(0, 12), name };
    const image = this.facts.image as { pinned?: string; reference: string };
    return {
      ok: true,
      url: ctx.url,
      steps: this.steps,
      serving: {
        deploymentId: spec.deploymentId,
        name: spec.model.name,
        version: spec.model.version,
        digest: spec.model.digest,
        since: new Date().toISOString(),
        details: {
          container: name,
          id: id.slice(0, 12),
          image: image.pinned ?? image.reference,
          port: ctx.config.port,
        },
      },
      replaced,
      location: image.pinned ?? image.reference,
      facts: this.facts,
    };
  }

  private failed(error: unknown, serving: ServingInstance | null): DeployOutcome {
    if (!(error instanceof StepFailure)) throw error;
    const image = this.facts.image as { pinned?: string; reference: string } | undefined;
    return {
      ok: false,
      url: this.ctx.url,
      steps: this.steps,
      reason: error.message,
      serving,
      replaced: null,
      location: image?.pinned ?? image?.reference,
      facts: this.facts,
    };
  }
}

/** The engine's pull error, with what to do about the usual causes. */
function withPullHint(error: unknown, repository: string): unknown {
  if (!(error instanceof Error) || !isLedgeError(error)) return error;
  const registry = repository.split('/')[0]!;
  const message = error.message;
  let hint: string | undefined;
  if (/HTTP response to HTTPS client|x509|certificate/i.test(message)) {
    hint = `the engine wants HTTPS for ${registry}: list it as insecure in the engine (Docker: "insecure-registries" in /etc/docker/daemon.json; Podman: [[registry]] location="${registry}" insecure=true in registries.conf)`;
  } else if (/unauthorized|authentication required|denied/i.test(message)) {
    hint = `give the target registry_auth (username, password_env) for ${registry}`;
  } else if (/connection refused|no such host|i\/o timeout|dial tcp/i.test(message)) {
    hint = `the engine cannot reach ${registry}; check the address from the engine's host`;
  }
  return hint
    ? new DeployError('engine-error', `the engine could not pull ${repository}: ${message}`, { hint })
    : error;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}
