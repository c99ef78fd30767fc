/**
 * A small Docker Engine API client over a unix socket — the API Docker, balenaEngine and
 * Podman (`podman system service`) serve. `EngineClient.connect` pings the engine and
 * negotiates the API version (the server's, capped at the newest this client knows); the
 * methods are the few operations a deploy target needs: pull, inspect, create, start, stop,
 * remove, list by label, logs, and — where the engine offers it — running a container's health
 * check on demand (Podman without systemd never runs health checks by itself).
 */
import { DeployError } from '../deploy-errors.js';
import type {
  ContainerCreateBody,
  ContainerCreateResponse,
  ContainerInspect,
  ContainerSummary,
  ImageInspect,
  VersionResponse,
} from './engine-api.js';
import {
  EngineError,
  EngineTransport,
  isEngineError,
  oneLine,
  readBytes,
  type SocketSource,
} from './engine-http.js';
import { demultiplexLogs, lastLines } from './log-stream.js';
import { emptySummary, type PullSummary, pullMessages, recordPullMessage } from './pull-progress.js';

/** The oldest API with everything used here (Healthcheck at create, StopTimeout). */
export const MIN_API_VERSION = '1.25';
/** The newest API this client is written against; newer engines are spoken to at this version. */
export const MAX_API_VERSION = '1.47';

export const DEFAULT_SOCKET = '/var/run/docker.sock';

export interface EngineInfo {
  /** Docker, Podman or balenaEngine (for messages). */
  name: string;
  version: string;
  /** The API version requests use: `1.41`. */
  apiVersion: string;
  /** `linux`, `amd64`: the platform images are pulled for. */
  os: string;
  arch: string;
  /** Capability: the engine runs a container's health check when asked (Podman's libpod API). */
  onDemandHealthchecks: boolean;
}

export interface RegistryAuth {
  username: string;
  password: string;
  /** The registry host the credentials are for. */
  serveraddress?: string | undefined;
}

/** Where the engine's socket is: the target's `socket`, else `DOCKER_HOST=unix://…`, else the default. */
export function engineSocket(
  configured: string | undefined,
  env: NodeJS.ProcessEnv,
): { socket: string; source: SocketSource } {
  if (configured) return { socket: configured.replace(/^unix:\/\//, ''), source: 'config' };
  const host = env.DOCKER_HOST;
  if (host) {
    if (!host.startsWith('unix://')) {
      throw new DeployError(
        'not-supported',
        `DOCKER_HOST=${host}: the engine target speaks to engines over a unix socket only`,
        {
          hint: 'use unix:///path/to.sock (over SSH: forward the socket with ssh -L /tmp/engine.sock:/var/run/docker.sock)',
        },
      );
    }
    return { socket: host.slice('unix://'.length), source: 'DOCKER_HOST' };
  }
  return { socket: DEFAULT_SOCKET, source: 'default' };
}

/**
 * The `X-Registry-Auth` header: the credentials as JSON in URL-safe base64 *with* padding (Go's
 * `base64.URLEncoding`, which Docker and Podman decode with; Node's `base64url` drops the padding).
 */
export function registryAuthHeader(auth: RegistryAuth): string {
  return Buffer.from(JSON.stringify(auth), 'utf8')
    .toString('base64')
    .replaceAll('+', '-')
    .replaceAll('/', '_');
}

/** Compares API versions `1.41` < `1.47`. */
export function compareApiVersions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split('.').map(Number);
  const [bMajor = 0, bMinor = 0] = b.split('.').map(Number);
  return aMajor - bMajor || aMinor - bMinor;
}

function engineName(version: VersionResponse): string {
  const components = version.Components ?? [];
  if (components.some((c) => /podman/i.test(c.Name))) return 'Podman';
  const text = JSON.stringify([version.Platform, components]);
  if (/balena/i.test(text)) return 'balenaEngine';
  return 'Docker';
}

const path = (id: string) => encodeURIComponent(id);

export class EngineClient {
  readonly info: EngineInfo;
  private readonly http: EngineTransport;
  private readonly libpodPrefix: string | undefined;

  private constructor(http: EngineTransport, info: EngineInfo, libpodPrefix: string | undefined) {
    this.http = http;
    this.info = info;
    this.libpodPrefix = libpodPrefix;
  }

  get socket(): string {
    return this.http.socket;
  }

  /** Pings the engine at `socket` and negotiates the API version. */
  static async connect(options: {
    socket: string;
    source: SocketSource;
    /** The deploy target, for messages. */
    target: string;
  }): Promise<EngineClient> {
    const http = new EngineTransport(options.socket, options.target, options.source);
    const ping = await http.request({ method: 'GET', path: '/_ping', unversioned: true, timeoutMs: 10_000 });
    ping.body.resume();
    const served = String(ping.headers['api-version'] ?? '');
    const libpod = ping.headers['libpod-api-version'];
    const version = await http.json<VersionResponse>({
      method: 'GET',
      path: '/version',
      unversioned: true,
      timeoutMs: 10_000,
    });
    const server = served || version.ApiVersion || MIN_API_VERSION;
    if (compareApiVersions(server, MIN_API_VERSION) < 0) {
      throw new DeployError(
        'not-supported',
        `the container engine at ${options.socket} speaks API ${server}; the engine target needs ${MIN_API_VERSION} or newer`,
        { hint: 'upgrade the engine (Docker 1.13+, any balenaEngine, Podman 3+)' },
      );
    }
    const apiVersion = compareApiVersions(server, MAX_API_VERSION) > 0 ? MAX_API_VERSION : server;
    if (version.MinAPIVersion && compareApiVersions(apiVersion, version.MinAPIVersion) < 0) {
      throw new DeployError(
        'not-supported',
        `the container engine at ${options.socket} needs API ${version.MinAPIVersion} or newer; ledge speaks up to ${MAX_API_VERSION}`,
        { hint: 'use a ledge release that knows this engine, or an older engine' },
      );
    }
    http.prefix = `/v${apiVersion}`;
    return new EngineClient(
      http,
      {
        name: engineName(version),
        version: version.Version ?? '?',
        apiVersion,
        os: version.Os ?? 'linux',
        arch: version.Arch ?? 'amd64',
        onDemandHealthchecks: typeof libpod === 'string' && libpod.length > 0,
      },
      typeof libpod === 'string' && libpod ? `/v${libpod}/libpod` : undefined,
    );
  }

  /**
   * Pulls `repository` at `reference` (a tag or `sha256:` digest), reading the progress stream
   * to its end; an error in the stream becomes an EngineError. Returns what was transferred.
   */
  async pull(
    repository: string,
    reference: string,
    options: { auth?: RegistryAuth | undefined; timeoutMs?: number } = {},
  ): Promise<PullSummary> {
    const headers: Record<string, string> = {};
    if (options.auth) {
      headers['x-registry-auth'] = registryAuthHeader(options.auth);
    }
    const response = await this.http.request({
      method: 'POST',
      path: '/images/create',
      query: { fromImage: repository, tag: reference },
      headers,
      timeoutMs: options.timeoutMs ?? 300_000,
    });
    const summary = emptySummary();
    for await (const message of pullMessages(response.body)) recordPullMessage(summary, message);
    if (summary.error !== undefined) throw new EngineError(500, oneLine(summary.error));
    return summary;
  }

  /** The image's inspect, or undefined when the engine does not have it. */
  async inspectImage(reference: string): Promise<ImageInspect | undefined> {
    try {
      return await this.http.json<ImageInspect>({ method: 'GET', path: `/images/${reference}/json` });
    } catch (error) {
      if (isEngineError(error, 404)) return undefined;
      throw error;
    }
  }

  async createContainer(name: string, body: ContainerCreateBody): Promise<string> {
    const created = await this.http.json<ContainerCreateResponse>({
      method: 'POST',
      path: '/containers/create',
      query: { name },
      body,
    });
    return created.Id;
  }

  async startContainer(id: string): Promise<void> {
    await this.http.call({ method: 'POST', path: `/containers/${path(id)}/start`, accept: [304] });
  }

  /** Stops a container: SIGTERM, then SIGKILL after `timeoutSeconds`. Already stopped is fine. */
  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    try {
      await this.http.call({
        method: 'POST',
        path: `/containers/${path(id)}/stop`,
        query: { t: Math.ceil(timeoutSeconds) },
        accept: [304],
        timeoutMs: timeoutSeconds * 1000 + 30_000,
      });
    } catch (error) {
      if (!isEngineError(error, 404)) throw error;
    }
  }

  /** Removes a container (running or not) and its anonymous volumes; a missing one is fine. */
  async removeContainer(id: string): Promise<void> {
    try {
      await this.http.call({
        method: 'DELETE',
        path: `/containers/${path(id)}`,
        query: { force: true, v: true },
        timeoutMs: 60_000,
      });
    } catch (error) {
      if (!isEngineError(error, 404)) throw error;
    }
  }

  /** The container's inspect, or undefined when it does not exist. */
  async inspectContainer(id: string): Promise<ContainerInspect | undefined> {
    try {
      return await this.http.json<ContainerInspect>({ method: 'GET', path: `/containers/${path(id)}/json` });
    } catch (error) {
      if (isEngineError(error, 404)) return undefined;
      throw error;
    }
  }

  /** Containers (running or not) carrying every one of `labels`. */
  listContainers(labels: Record<string, string>): Promise<ContainerSummary[]> {
    const filters = { label: Object.entries(labels).map(([key, value]) => `${key}=${value}`) };
    return this.http.json<ContainerSummary[]>({
      method: 'GET',
      path: '/containers/json',
      query: { all: true, filters: JSON.stringify(filters) },
    });
  }

  /** The last `tail` lines the container wrote (stdout and stderr), or [] if it cannot be read. */
  async logs(id: string, tail: number): Promise<string[]> {
    try {
      const response = await this.http.request({
        method: 'GET',
        path: `/containers/${path(id)}/logs`,
        query: { stdout: true, stderr: true, tail },
        timeoutMs: 10_000,
      });
      return lastLines(demultiplexLogs(await readBytes(response.body, 4 * 1024 * 1024)), tail);
    } catch {
      return [];
    }
  }

  /**
   * Runs the container's health check once (only where `info.onDemandHealthchecks`): the
   * engine records the result in the container's health status, as its own timer would.
   */
  async runHealthcheck(id: string): Promise<void> {
    if (!this.libpodPrefix) return;
    try {
      await this.http.call({
        method: 'GET',
        path: `${this.libpodPrefix}/containers/${path(id)}/healthcheck`,
        unversioned: true,
        timeoutMs: 60_000,
      });
    } catch (error) {
      // 409: the container is not running (its state says why); 404: gone.
      if (!isEngineError(error, 409) && !isEngineError(error, 404)) throw error;
    }
  }
}
