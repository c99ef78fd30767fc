/**
 * The `engine` target: the model server as a container, run by a container engine through the
 * Docker Engine API on a unix socket (Docker, balenaEngine, Podman). The engine keeps it
 * running (restart policy) and across reboots; ledge keeps no state of its own: its containers
 * carry `ai.ledge.*` labels (container-spec.ts), and status, stop and the next deploy find them
 * by those. How a rollout goes is in engine-rollout.ts.
 */
import net from 'node:net';
import { parseReference } from '../../image/registry/reference.js';
import type { EngineTargetConfig } from '../deploy-config.js';
import { DeployError } from '../deploy-errors.js';
import { probeReady } from '../model-probes.js';
import type {
  DeployOutcome,
  DeploySpec,
  DeployTarget,
  ImageModel,
  StopOutcome,
  TargetEvent,
  TargetStatus,
} from '../target.js';
import { exitReason, lastHealthOutput } from './container-health.js';
import { hasHealthcheck } from './container-spec.js';
import type { ContainerInspect } from './engine-api.js';
import { EngineClient, engineSocket, type RegistryAuth } from './engine-client.js';
import { oneLine } from './engine-http.js';
import { imageFor, modelFromLabels, resolveImage } from './engine-image.js';
import { EngineRollout } from './engine-rollout.js';
import { instanceOf, type TargetContainer, targetContainers } from './target-containers.js';

export interface EngineTargetOptions {
  name: string;
  config: EngineTargetConfig;
  /** For DOCKER_HOST and the registry password (default: process.env). */
  env?: NodeJS.ProcessEnv | undefined;
}

/** Picks a free TCP port on this host (the engine's, as its socket is local). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Where this process reaches a port published on `host` (a wildcard means loopback). */
function probeHostFor(host: string): string {
  return host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
}

export class EngineTarget implements DeployTarget {
  readonly kind = 'engine';
  readonly name: string;
  readonly url: string;
  private readonly config: EngineTargetConfig;
  private readonly env: NodeJS.ProcessEnv;
  private client: EngineClient | undefined;

  constructor(options: EngineTargetOptions) {
    this.name = options.name;
    this.config = options.config;
    this.env = options.env ?? process.env;
    this.url = `http://${formatHost(probeHostFor(options.config.host))}:${options.config.port}`;
  }

  /** The engine, connected on first use (API version negotiated). */
  private async engine(): Promise<EngineClient> {
    if (!this.client) {
      const { socket, source } = engineSocket(this.config.socket, this.env);
      this.client = await EngineClient.connect({ socket, source, target: this.name });
    }
    return this.client;
  }

  /** The registry credentials for `image`, from the target's registry_auth. */
  private auth(image: string): RegistryAuth | undefined {
    const auth = this.config.registry_auth;
    if (!auth) return undefined;
    const password = this.env[auth.password_env];
    if (password === undefined) {
      throw new DeployError(
        'not-supported',
        `target '${this.name}': registry_auth.password_env names ${auth.password_env}, which is not set`,
        { hint: `export ${auth.password_env}=… before \`ledge deploy\`` },
      );
    }
    let serveraddress: string | undefined;
    try {
      serveraddress = parseReference(image).registry;
    } catch {
      serveraddress = undefined;
    }
    return { username: auth.username, password, serveraddress };
  }

  async deploy(spec: DeploySpec): Promise<DeployOutcome> {
    const client = await this.engine();
    const auth = this.auth(imageFor(this.name, this.config, spec.model));
    const rollout = new EngineRollout(
      {
        target: this.name,
        config: this.config,
        client,
        url: this.url,
        probeHost: probeHostFor(this.config.host),
        auth,
        sparePort: () => freePort(probeHostFor(this.config.host)),
      },
      spec,
    );
    const outcome = await rollout.run();
    outcome.facts = {
      ...outcome.facts,
      engine: {
        name: client.info.name,
        version: client.info.version,
        api: client.info.apiVersion,
        socket: client.socket,
      },
    };
    return outcome;
  }

  /** The image's labels: from its registry, or with `pull: never` from the engine. */
  async describeImage(reference: string): Promise<ImageModel> {
    const client = await this.engine();
    let digest: string;
    let labels: Record<string, string> | null | undefined;
    if (this.config.pull === 'never') {
      const found = await client.inspectImage(reference);
      if (!found) {
        throw new DeployError(
          'deploy-failed',
          `the engine of target '${this.name}' has no image ${reference} (pull: never)`,
          {
            hint: 'load it (docker load / podman load), or set pull: missing',
          },
        );
      }
      digest = found.RepoDigests?.[0]?.split('@')[1] ?? found.Id;
      labels = found.Config?.Labels;
    } else {
      const resolved = await resolveImage(reference, {
        platform: `${client.info.os}/${client.info.arch}`,
        auth: this.auth(reference),
      });
      digest = resolved.digest;
      labels = resolved.labels;
    }
    const model = modelFromLabels(labels);
    return { reference, digest, name: model.name, version: model.version, modelDigest: model.digest };
  }

  /** Containers are not kept once replaced; the image is, so going back pulls only its manifest. */
  rollback(to: DeploySpec): Promise<DeployOutcome> {
    return this.deploy(to);
  }

  async status(): Promise<TargetStatus> {
    const base = { target: this.name, kind: this.kind, url: this.url, events: [] as TargetEvent[] };
    let client: EngineClient;
    let containers: TargetContainer[];
    try {
      client = await this.engine();
      containers = await targetContainers(client, this.name);
    } catch (error) {
      const line = error instanceof DeployError ? error.line : (error as Error).message;
      return { ...base, state: 'unhealthy', serving: null, problems: [line], details: {} };
    }
    const engine = {
      name: client.info.name,
      version: client.info.version,
      api: client.info.apiVersion,
      socket: client.socket,
    };
    if (containers.length === 0) {
      return { ...base, state: 'stopped', serving: null, problems: [], details: { engine, containers: [] } };
    }
    const problems: string[] = [];
    const events: TargetEvent[] = [];
    const rows: Record<string, unknown>[] = [];
    let serving: TargetContainer | undefined;
    let servingInfo: ContainerInspect | undefined;
    for (const container of containers) {
      let info = await client.inspectContainer(container.id);
      if (!info) continue;
      if (container.role === 'serving' && !serving) {
        serving = container;
        if (
          info.State.Running &&
          hasHealthcheck(info.Config.Healthcheck) &&
          client.info.onDemandHealthchecks
        ) {
          // Podman without systemd never runs the check by itself: run it now, for a fresh status.
          await client.runHealthcheck(container.id);
          info = (await client.inspectContainer(container.id)) ?? info;
        }
        servingInfo = info;
      } else if (container.role === 'candidate') {
        problems.push(
          `${container.name} is a candidate left by an interrupted deploy; the next deploy removes it`,
        );
      } else {
        problems.push(
          `${container.name} (deployment ${container.deploymentId ?? '?'}) should not be there; \`ledge deploy stop\` removes the target's containers`,
        );
      }
      rows.push({
        name: container.name,
        id: container.id.slice(0, 12),
        role: container.role,
        deploymentId: container.deploymentId,
        state: info.State.Status,
        health: info.State.Health?.Status || null,
        restarts: info.RestartCount ?? 0,
        startedAt: info.State.StartedAt ?? null,
        image: container.summary.Labels?.['ai.ledge.image'] ?? info.Config.Image,
      });
      events.push(...eventsOf(container, info));
    }
    events.sort((a, b) => a.at.localeCompare(b.at));
    if (!serving || !servingInfo) {
      return {
        ...base,
        events,
        state: 'stopped',
        serving: null,
        problems,
        details: { engine, containers: rows },
      };
    }
    const probe = await probeReady(this.url, 3000);
    const state = servingInfo.State;
    let status: TargetStatus['state'];
    if (state.Restarting) {
      status = 'restarting';
      problems.push(`${exitReason(servingInfo)}${await this.logTail(client, serving.id)}`);
    } else if (!state.Running) {
      status = 'stopped';
      problems.push(`${serving.name}: ${exitReason(servingInfo)}${await this.logTail(client, serving.id)}`);
    } else if (state.Health?.Status === 'unhealthy') {
      status = 'unhealthy';
      problems.push(
        `${serving.name} is unhealthy (last check: ${lastHealthOutput(servingInfo) ?? 'no output'})`,
      );
    } else if (!probe.ready) {
      status = 'unhealthy';
      problems.push(`${this.url}/v2/health/ready: ${probe.detail}`);
    } else status = 'serving';
    if ((servingInfo.RestartCount ?? 0) > 0) {
      problems.push(`${serving.name} was restarted ${servingInfo.RestartCount} time(s) by the engine`);
    }
    return {
      ...base,
      events: events.slice(-10),
      state: status,
      serving: { ...instanceOf(serving, this.config.port), since: state.StartedAt ?? '' },
      problems,
      details: { engine, containers: rows, endpointReady: probe.ready },
    };
  }

  private async logTail(client: EngineClient, id: string): Promise<string> {
    const lines = await client.logs(id, 3);
    return lines.length > 0 ? `; last output: ${oneLine(lines.join(' | '), 300)}` : '';
  }

  async stop(): Promise<StopOutcome> {
    const client = await this.engine();
    const containers = await targetContainers(client, this.name);
    if (containers.length === 0) {
      return {
        stopped: false,
        serving: null,
        detail: `target '${this.name}' has no containers on ${client.info.name} at ${client.socket}`,
      };
    }
    const serving = containers.find((c) => c.role === 'serving' && c.running);
    for (const container of containers) {
      await client.stopContainer(container.id, this.config.drain_timeout);
      await client.removeContainer(container.id);
    }
    return {
      stopped: true,
      serving: serving ? instanceOf(serving, this.config.port) : null,
      detail: `stopped and removed ${containers.map((c) => c.name).join(', ')} on ${client.info.name}; ${this.url} is free`,
    };
  }
}

/** What a container's inspect tells of its history: started, restarted, failed health checks. */
function eventsOf(container: TargetContainer, info: ContainerInspect): TargetEvent[] {
  const events: TargetEvent[] = [];
  const deploymentId = container.deploymentId;
  const started = info.State.StartedAt;
  if (started && !started.startsWith('0001')) {
    const restarts = info.RestartCount ?? 0;
    events.push({
      at: started,
      kind: restarts > 0 ? 'container-restarted' : 'container-started',
      message: `${container.name} ${restarts > 0 ? `restarted by the engine (${restarts} restarts)` : 'started'}`,
      deploymentId,
    });
  }
  const finished = info.State.FinishedAt;
  if (!info.State.Running && finished && !finished.startsWith('0001')) {
    events.push({
      at: finished,
      kind: 'container-exited',
      message: `${container.name} exited with code ${info.State.ExitCode}`,
      deploymentId,
    });
  }
  for (const check of info.State.Health?.Log ?? []) {
    if (check.ExitCode !== 0 && check.Start) {
      events.push({
        at: check.Start,
        kind: 'health-check-failed',
        message: `${container.name}: exit code ${check.ExitCode}${check.Output ? `: ${oneLine(check.Output, 160)}` : ''}`,
        deploymentId,
      });
    }
  }
  return events;
}
