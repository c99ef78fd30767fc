/**
 * Starts a local target's supervisor (supervisor-main.ts) as a detached process that outlives
 * the `ledge deploy` that started it, and waits for its handshake: ready, or why it cannot
 * start (the stable port is taken…). Also cleans up after a supervisor that died without
 * stopping its servers.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DeployError } from '../deploy-errors.js';
import type { SupervisorConfig } from './supervisor.js';
import {
  ensureStateDir,
  LOG_FILE,
  processRuns,
  removeState,
  type SupervisorState,
  trimLogs,
} from './supervisor-state.js';

export const SUPERVISOR_CONFIG_ENV = 'LEDGE_DEPLOY_SUPERVISOR';

/** The supervisor's entry point (compiled next to this file). */
export const SUPERVISOR_MAIN = fileURLToPath(new URL('./supervisor-main.js', import.meta.url));
/** The supervisor's process title (set once it runs). */
export const SUPERVISOR_TITLE = 'ledge-deploy-supervisor';
/** What a supervisor's command line holds: its entry point, then its title. */
export const SUPERVISOR_MARKERS = ['supervisor-main', SUPERVISOR_TITLE] as const;
/** What a model server's command line holds: `… ledge.js serve <bundle> …` (NUL-separated). */
export const BACKEND_MARKERS = ['\0serve\0'] as const;

/** Launch handshake messages (over the IPC channel). */
export type SupervisorMessage =
  | { ready: true; pid: number; control: string }
  | { ready: false; error: string; code: string | undefined };

function logTail(dir: string, lines = 5): string {
  try {
    return fs.readFileSync(path.join(dir, LOG_FILE), 'utf8').trim().split('\n').slice(-lines).join(' | ');
  } catch {
    return '';
  }
}

/** Starts the supervisor; resolves with its pid once it listens. */
export async function launchSupervisor(config: SupervisorConfig, timeoutMs = 30_000): Promise<number> {
  ensureStateDir(config.stateDir);
  trimLogs(config.stateDir);
  const logFd = fs.openSync(path.join(config.stateDir, LOG_FILE), 'a', 0o600);
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn(process.execPath, [SUPERVISOR_MAIN], {
      cwd: config.workspace,
      detached: true,
      stdio: ['ignore', logFd, logFd, 'ipc'],
      env: { ...process.env, [SUPERVISOR_CONFIG_ENV]: JSON.stringify(config) },
    });
  } finally {
    fs.closeSync(logFd);
  }
  const where = `${config.host}:${config.port}`;
  let message: SupervisorMessage;
  try {
    message = await new Promise<SupervisorMessage>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`it did not report ready within ${timeoutMs / 1000} s`)),
        timeoutMs,
      );
      child.once('message', (m) => {
        clearTimeout(timer);
        resolve(m as SupervisorMessage);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(
          new Error(
            `it exited (${signal ?? `code ${code}`}) before it was ready: ${logTail(config.stateDir)}`,
          ),
        );
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  } catch (error) {
    child.kill('SIGKILL');
    throw new DeployError(
      'target-unavailable',
      `cannot start the supervisor of target '${config.target}': ${(error as Error).message}`,
      { hint: `see ${path.join(config.stateDir, LOG_FILE)}`, cause: error },
    );
  } finally {
    child.removeAllListeners();
    if (child.connected) child.disconnect();
    child.unref();
  }
  if (!message.ready) {
    const taken = message.code === 'EADDRINUSE';
    throw new DeployError(
      'target-unavailable',
      taken
        ? `target '${config.target}' cannot listen on ${where}: the port is in use`
        : `target '${config.target}' cannot listen on ${where}: ${message.error}`,
      {
        hint: taken
          ? `stop what uses it, or set targets.${config.target}.port in .ledge/deploy.yaml`
          : `check targets.${config.target}.host and port in .ledge/deploy.yaml`,
      },
    );
  }
  return message.pid;
}

/**
 * After a supervisor that died without stopping (killed, a reboot): stops the model servers
 * its state names (only if they still run `ledge serve`) and removes the stale state.
 */
export function cleanUpStale(dir: string, state: SupervisorState): number[] {
  const signalled: number[] = [];
  for (const backend of state.backends) {
    if (backend.pid !== undefined && processRuns(backend.pid, BACKEND_MARKERS)) {
      try {
        process.kill(backend.pid, 'SIGTERM');
        signalled.push(backend.pid);
      } catch {
        // gone meanwhile
      }
    }
  }
  removeState(dir);
  return signalled;
}
