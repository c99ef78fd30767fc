/**
 * Turns a configured target into a `DeployTarget`, choosing the implementation by `kind`.
 * Each kind lives in its own folder (`local/`; `engine/`, the Docker Engine API over a unix
 * socket), loaded only when a target uses it.
 */
import path from 'node:path';
import type { TargetConfig } from './deploy-config.js';
import type { DeployTarget } from './target.js';

/** What every target may need of its surroundings. */
export interface TargetEnvironment {
  /** The workspace root. */
  workspace: string;
  /** `.ledge/deploy`: each target keeps its state in a folder named after it. */
  deployDir: string;
  /** How to run `ledge serve`: `[node, /path/to/bin/ledge.js, 'serve']`. */
  serveCommand: string[];
  /** The metadata store (SQLite path or postgres URL), for events targets record. */
  database?: string | undefined;
  /** Environment variables (DOCKER_HOST, registry passwords); default process.env. */
  processEnv?: NodeJS.ProcessEnv | undefined;
}

/** `.ledge/deploy/<name>`: the target's state, log and deploy lock. */
export function targetStateDir(env: TargetEnvironment, name: string): string {
  return path.join(env.deployDir, name);
}

/** The lock held while a deploy, rollback or stop runs on target `name`. */
export function targetLockFile(env: TargetEnvironment, name: string): string {
  return path.join(targetStateDir(env, name), 'deploy.lock');
}

export async function openTarget(
  name: string,
  config: TargetConfig,
  env: TargetEnvironment,
): Promise<DeployTarget> {
  switch (config.kind) {
    case 'local': {
      const { LocalTarget } = await import('./local/local-target.js');
      return new LocalTarget({
        name,
        config,
        workspace: env.workspace,
        stateDir: targetStateDir(env, name),
        serveCommand: env.serveCommand,
        database: env.database,
      });
    }
    case 'engine': {
      const { EngineTarget } = await import('./engine/engine-target.js');
      return new EngineTarget({ name, config, env: env.processEnv });
    }
  }
}
