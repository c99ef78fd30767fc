/**
 * Waiting for a container to be ready to serve, as the engine sees it:
 *
 * - with a health check: the engine's health status must become `healthy`; `unhealthy`, or the
 *   container exiting, fails at once. Engines that only run health checks from a timer they
 *   may not have (Podman without systemd) are asked to run the check at its interval.
 * - without one: `GET /v2/health/ready` on the port it is reached at must answer 200.
 *
 * Failures are Errors whose message says what the engine reported (exit code, the health
 * check's output); the caller adds the container's last log lines.
 */
import { probeReady } from '../model-probes.js';
import { hasHealthcheck } from './container-spec.js';
import type { ContainerInspect, HealthConfig } from './engine-api.js';
import type { EngineClient } from './engine-client.js';
import { oneLine } from './engine-http.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface WaitOptions {
  /** Epoch milliseconds after which waiting fails. */
  deadline: number;
  /** Where the server is reached from here: `http://127.0.0.1:41234`. */
  url: string;
  /** The container's health check (undefined or NONE: probe `url` instead). */
  health: HealthConfig | undefined;
  /** Probe `url` even when there is a health check (faster; the check still fails it when unhealthy). */
  preferProbe?: boolean | undefined;
  /** Milliseconds between polls (default 100). */
  pollMs?: number | undefined;
}

/** Why a container that should be running is not, in a few words. */
export function exitReason(info: ContainerInspect): string {
  const state = info.State;
  const how = state.OOMKilled ? ' (killed: out of memory)' : '';
  const error = state.Error ? `: ${oneLine(state.Error, 200)}` : '';
  if (state.Restarting)
    return `the container exited with code ${state.ExitCode}${how} and the engine is restarting it${error}`;
  return `the container ${state.Status === 'created' ? 'never started' : `exited with code ${state.ExitCode}`}${how}${error}`;
}

/** The newest health check output, for messages. */
export function lastHealthOutput(info: ContainerInspect): string | undefined {
  const log = info.State.Health?.Log ?? [];
  const last = log[log.length - 1];
  if (!last) return undefined;
  const output = oneLine(last.Output ?? '', 200);
  return `exit code ${last.ExitCode}${output ? `: ${output}` : ''}`;
}

/**
 * Waits until the container is ready (see the file comment); resolves with a few words on how
 * it was found ready, rejects with why it is not.
 */
export async function waitReady(client: EngineClient, id: string, options: WaitOptions): Promise<string> {
  const health = hasHealthcheck(options.health) ? options.health : undefined;
  const intervalMs = Math.max(250, Math.round((health?.Interval || 30e9) / 1e6));
  const startPeriodMs = Math.round((health?.StartPeriod ?? 0) / 1e6);
  let lastRun = 0;
  let lastProbe = 'no answer yet';
  for (;;) {
    const info = await client.inspectContainer(id);
    if (!info) throw new Error('the container is gone (removed by someone else?)');
    if (!info.State.Running || info.State.Restarting) throw new Error(exitReason(info));
    const status = info.State.Health?.Status;
    if (health && status === 'unhealthy') {
      throw new Error(
        `the engine reports it unhealthy (last check: ${lastHealthOutput(info) ?? 'no output'})`,
      );
    }
    if (health && !options.preferProbe) {
      if (status === 'healthy') return 'healthy (engine health check)';
      // Failures in the start period do not count, so checks may come faster there (as
      // Docker's StartInterval does): the server is found ready soon after it is.
      // As an engine's own timer would, the first check comes one interval after the start.
      const startedAt = Date.parse(info.State.StartedAt ?? '') || Date.now();
      const cadence = Date.now() - startedAt < startPeriodMs ? Math.min(intervalMs, 1000) : intervalMs;
      if (client.info.onDemandHealthchecks && Date.now() - Math.max(lastRun, startedAt) >= cadence) {
        lastRun = Date.now();
        await client.runHealthcheck(id);
        continue;
      }
    } else {
      const probe = await probeReady(options.url);
      if (probe.ready)
        return health ? 'answers /v2/health/ready' : 'answers /v2/health/ready (no health check)';
      lastProbe = probe.detail;
    }
    if (Date.now() > options.deadline) {
      const what =
        health && !options.preferProbe
          ? `health: ${status || 'unknown'}${lastHealthOutput(info) ? `, last check ${lastHealthOutput(info)}` : ''}`
          : `/v2/health/ready: ${lastProbe}`;
      throw new Error(`not ready in time (${what})`);
    }
    await sleep(options.pollMs ?? 100);
  }
}
