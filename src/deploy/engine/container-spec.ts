/**
 * What the engine target asks the engine to create: the container's name, labels, environment,
 * port and network, restart policy and health check. Pure: a plan in, the API body out.
 *
 * Every container carries `ai.ledge.*` labels, which is how the target finds its containers
 * again (`status`, `stop`, the next deploy) without any state of its own:
 *
 *     ai.ledge.target=edge  ai.ledge.deployment=7  ai.ledge.role=serving
 *     ai.ledge.model=imdb-sentiment  ai.ledge.version=3  ai.ledge.model-digest=sha256:…
 *     ai.ledge.image=registry.local:5000/ledge/imdb@sha256:…
 */
import type { EngineHealthcheckConfig, EngineTargetConfig } from '../deploy-config.js';
import type { ModelToDeploy } from '../target.js';
import type { ContainerCreateBody, HealthConfig, RestartPolicy } from './engine-api.js';

export const LABEL = {
  target: 'ai.ledge.target',
  deployment: 'ai.ledge.deployment',
  role: 'ai.ledge.role',
  model: 'ai.ledge.model',
  version: 'ai.ledge.version',
  digest: 'ai.ledge.model-digest',
  image: 'ai.ledge.image',
} as const;

/**
 * candidate: started on a spare port to be checked while the old version serves.
 * serving: on the stable port (the one that serves, or is about to).
 */
export type ContainerRole = 'candidate' | 'serving';

/** The environment variable that tells the server which port to listen on inside the container. */
export const PORT_ENV = 'LEDGE_PORT';

export interface ContainerPlan {
  target: string;
  deploymentId: number;
  role: ContainerRole;
  model: ModelToDeploy;
  /** The image to run, pinned by digest when it was resolved. */
  image: string;
  /** The host port it is reached at. */
  hostPort: number;
  healthcheck: HealthConfig | undefined;
  config: EngineTargetConfig;
  /** Capability of the engine's API (1.44+): checks at a shorter interval during the start period. */
  startInterval?: boolean | undefined;
}

/** `ledge-<target>-<deployment>` (the serving container), `…-check` for its candidate. */
export function containerName(target: string, deploymentId: number, role: ContainerRole): string {
  return `ledge-${target}-${deploymentId}${role === 'candidate' ? '-check' : ''}`;
}

const NS = 1_000_000_000;

/** The health check a container gets: the target's, else the image's, else none (`NONE` when disabled). */
export function healthcheckFor(
  configured: EngineHealthcheckConfig | 'none' | undefined,
  image: HealthConfig | undefined,
): HealthConfig | undefined {
  if (configured === 'none') return { Test: ['NONE'] };
  if (configured) {
    const test = typeof configured.test === 'string' ? ['CMD-SHELL', configured.test] : configured.test;
    return {
      Test: test[0] === 'CMD' || test[0] === 'CMD-SHELL' ? test : ['CMD', ...test],
      Interval: Math.round(configured.interval * NS),
      Timeout: Math.round(configured.timeout * NS),
      Retries: configured.retries,
      StartPeriod: Math.round(configured.start_period * NS),
    };
  }
  if (image?.Test && image.Test.length > 0 && image.Test[0] !== 'NONE') return image;
  return undefined;
}

/** Whether a health check is one the engine runs (not absent or `NONE`). */
export function hasHealthcheck(health: HealthConfig | null | undefined): health is HealthConfig {
  return !!health?.Test && health.Test.length > 0 && health.Test[0] !== 'NONE';
}

function restartPolicy(plan: ContainerPlan): RestartPolicy {
  // A candidate that crashes has failed its check; only the serving container is restarted.
  if (plan.role === 'candidate') return { Name: 'no' };
  return { Name: plan.config.restart_policy };
}

/** The port the server listens on inside the container: the host's port itself on the host network. */
export function listenPort(plan: Pick<ContainerPlan, 'hostPort' | 'config'>): number {
  return plan.config.network === 'host' ? plan.hostPort : plan.config.container_port;
}

export function containerLabels(plan: ContainerPlan): Record<string, string> {
  return {
    [LABEL.target]: plan.target,
    [LABEL.deployment]: String(plan.deploymentId),
    [LABEL.role]: plan.role,
    [LABEL.model]: plan.model.name,
    [LABEL.version]: plan.model.version,
    [LABEL.digest]: plan.model.digest,
    [LABEL.image]: plan.image,
  };
}

export function containerBody(plan: ContainerPlan): ContainerCreateBody {
  const { config } = plan;
  const port = listenPort(plan);
  const env = { ...config.env, [PORT_ENV]: String(port) };
  const body: ContainerCreateBody = {
    Image: plan.image,
    Env: Object.entries(env).map(([key, value]) => `${key}=${value}`),
    Labels: containerLabels(plan),
    StopTimeout: Math.ceil(config.drain_timeout),
    HostConfig: { NetworkMode: config.network, RestartPolicy: restartPolicy(plan) },
  };
  if (plan.healthcheck) {
    body.Healthcheck = { ...plan.healthcheck };
    if (plan.startInterval && (plan.healthcheck.StartPeriod ?? 0) > 0 && !plan.healthcheck.StartInterval) {
      body.Healthcheck.StartInterval = NS;
    }
  }
  if (config.network !== 'host') {
    const key = `${port}/tcp`;
    body.ExposedPorts = { [key]: {} };
    body.HostConfig.PortBindings = { [key]: [{ HostIp: config.host, HostPort: String(plan.hostPort) }] };
  }
  return body;
}
