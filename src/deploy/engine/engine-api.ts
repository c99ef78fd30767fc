/**
 * The part of the Docker Engine API the `engine` target speaks, as TypeScript types: request
 * bodies it sends and the fields of responses it reads. Docker, balenaEngine and Podman's
 * compatibility service all serve these shapes (Podman adds fields and leaves some empty);
 * fields ledge does not read are left out, and everything a server may omit is optional.
 *
 * Reference: https://docs.docker.com/engine/api/v1.41/ (what Podman 4.3 and balenaEngine serve).
 */

/** `GET /version` */
export interface VersionResponse {
  Version?: string;
  ApiVersion?: string;
  MinAPIVersion?: string;
  Os?: string;
  Arch?: string;
  /** Docker: `Docker Engine - Community`/`Engine`; Podman: `Podman Engine`; balena: `Engine` with `balena-engine` in Details. */
  Components?: { Name: string; Version: string; Details?: Record<string, unknown> }[];
  Platform?: { Name?: string };
}

/** Docker's health check settings (durations in nanoseconds). */
export interface HealthConfig {
  /** `["CMD", exe, arg…]`, `["CMD-SHELL", "command"]`, or `["NONE"]` (disables the image's). */
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  /** API 1.44+: the interval during the start period. */
  StartInterval?: number;
  Retries?: number;
}

export interface PortBinding {
  HostIp: string;
  HostPort: string;
}

export interface RestartPolicy {
  Name: '' | 'no' | 'always' | 'unless-stopped' | 'on-failure';
  MaximumRetryCount?: number;
}

/** `POST /containers/create?name=…` */
export interface ContainerCreateBody {
  Image: string;
  Env: string[];
  Labels: Record<string, string>;
  ExposedPorts?: Record<string, Record<string, never>>;
  Healthcheck?: HealthConfig;
  /** Seconds `docker stop` waits before SIGKILL (API 1.25+). */
  StopTimeout?: number;
  HostConfig: {
    NetworkMode?: string;
    PortBindings?: Record<string, PortBinding[]>;
    RestartPolicy: RestartPolicy;
  };
}

export interface ContainerCreateResponse {
  Id: string;
  Warnings?: string[] | null;
}

export interface HealthLogEntry {
  Start?: string;
  End?: string;
  ExitCode: number;
  Output?: string;
}

export interface ContainerHealth {
  /** `starting`, `healthy`, `unhealthy`, or `''`/`none` without a health check. */
  Status: string;
  FailingStreak?: number;
  Log?: HealthLogEntry[] | null;
}

export interface ContainerState {
  /** created | running | paused | restarting | removing | exited | dead (Podman adds `configured`, `stopped`). */
  Status: string;
  Running: boolean;
  Restarting: boolean;
  OOMKilled?: boolean;
  Dead?: boolean;
  Pid?: number;
  ExitCode: number;
  Error?: string;
  StartedAt?: string;
  FinishedAt?: string;
  Health?: ContainerHealth | null;
}

/** `GET /containers/{id}/json` */
export interface ContainerInspect {
  Id: string;
  /** `/name` */
  Name: string;
  Created?: string;
  /** The image ID (config digest). */
  Image: string;
  State: ContainerState;
  RestartCount?: number;
  Config: {
    Image?: string;
    Env?: string[] | null;
    Labels?: Record<string, string> | null;
    Healthcheck?: HealthConfig | null;
  };
  HostConfig?: { NetworkMode?: string; RestartPolicy?: RestartPolicy };
  NetworkSettings?: { Ports?: Record<string, PortBinding[] | null> | null };
}

/** An entry of `GET /containers/json` */
export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID?: string;
  Labels: Record<string, string> | null;
  /** created | running | exited | … */
  State: string;
  /** Human text: `Up 3 minutes (healthy)`. */
  Status: string;
  Created?: number;
}

/** `GET /images/{name}/json` */
export interface ImageInspect {
  Id: string;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
  Size?: number;
  Architecture?: string;
  Os?: string;
  Config?: {
    Labels?: Record<string, string> | null;
    Healthcheck?: HealthConfig | null;
    ExposedPorts?: Record<string, unknown> | null;
    Env?: string[] | null;
  } | null;
  RootFS?: { Type: string; Layers?: string[] };
}

/** One JSON object of the `POST /images/create` progress stream. */
export interface PullMessage {
  status?: string;
  /** The first 12 hex digits of a blob's digest (a layer, or with Podman the config too). */
  id?: string;
  progressDetail?: { current?: number; total?: number };
  progress?: string;
  error?: string;
  errorDetail?: { code?: number; message?: string };
}

/** The error body of a failed request: Docker's `{message}`, Podman's `{cause, message, response}`. */
export interface ErrorResponse {
  message?: string;
  cause?: string;
}
