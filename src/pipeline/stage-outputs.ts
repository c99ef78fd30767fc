/**
 * A stage's outputs in the workspace: cleared before it runs (content the cache does not hold
 * is saved first, so nothing is lost), stored in the cache after it succeeds, and restored
 * from the cache when the run-cache has them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { LedgeError } from '../core/errors.js';
import { checkout } from '../store/checkout.js';
import { ensureIgnored } from '../store/gitignore.js';
import type { Store } from '../store/store.js';
import type { LockedStage, PathVersion } from './lock-file.js';
import { parseMetricsObject } from './metrics.js';
import type { Stage } from './pipeline-file.js';
import { versionOf } from './stage-state.js';

export interface CollectedOutputs {
  outs: PathVersion[];
  metricsFiles: PathVersion[];
  /** The metrics files' values, merged. */
  metrics: Record<string, unknown>;
}

/** A metrics file in the workspace: one JSON object (nested objects allowed). */
export function readMetricsFile(store: Store, rel: string): Record<string, unknown> {
  return parseMetricsObject(fs.readFileSync(store.ws.absolutePath(rel), 'utf8'), rel);
}

function recordedVersion(locked: LockedStage | undefined, rel: string): PathVersion | undefined {
  return [...(locked?.outs ?? []), ...(locked?.metrics ?? [])].find((o) => o.path === rel);
}

export class StageOutputs {
  constructor(
    private readonly store: Store,
    /** Tells the user about content saved before it was replaced. */
    private readonly note: (message: string) => void,
  ) {}

  /** Whether every object of a recorded version is in the cache. */
  available(version: PathVersion): boolean {
    const cache = this.store.cache;
    if (version.type === 'file') return cache.has(version.digest);
    if (cache.isComplete(version.digest)) return true;
    if (!cache.has(version.digest)) return false;
    return this.store.readManifest(version.digest).every((entry) => cache.has(entry.digest));
  }

  /**
   * Removes an output that is about to be replaced, saving it in the cache first when it holds
   * content other than the recorded version. Returns false when it already is `keepIf`.
   */
  private async remove(
    rel: string,
    recorded: PathVersion | undefined,
    keepIf?: PathVersion,
  ): Promise<boolean> {
    const abs = this.store.ws.absolutePath(rel);
    if (!fs.existsSync(abs)) {
      fs.mkdirSync(path.dirname(abs), { recursive: true });
      return true;
    }
    const now = await versionOf(this.store, rel, { store: true, expected: recorded });
    if (keepIf && now?.digest === keepIf.digest) return false;
    if (now && now.digest !== recorded?.digest) {
      this.note(`saved the previous contents of ${rel} in the cache as ${now.digest}`);
    }
    fs.rmSync(abs, { recursive: true, force: true });
    return true;
  }

  /** Clears a stage's outputs before it runs, so nothing stale survives into the new version. */
  async clear(stage: Stage, locked: LockedStage | undefined): Promise<void> {
    for (const out of [...stage.outs, ...stage.metrics]) await this.remove(out, recordedVersion(locked, out));
  }

  /** Stores what a finished stage wrote and reads its metrics; a missing output is an error. */
  async collect(stage: Stage): Promise<CollectedOutputs> {
    const outs: PathVersion[] = [];
    for (const out of stage.outs) {
      const version = await versionOf(this.store, out, { store: true });
      if (!version) {
        throw new LedgeError(
          'stage-failed',
          `stage '${stage.name}' succeeded but did not write its output '${out}'`,
          { hint: 'make the command write it, or remove it from the stage outs in ledge.yaml' },
        );
      }
      ensureIgnored(this.store.ws.absolutePath(out));
      outs.push(version);
    }
    const metricsFiles: PathVersion[] = [];
    const metrics: Record<string, unknown> = {};
    for (const file of stage.metrics) {
      const version = await versionOf(this.store, file, { store: true });
      if (version?.type !== 'file') {
        throw new LedgeError(
          'stage-failed',
          `stage '${stage.name}' did not write its metrics file '${file}'`,
          {
            hint: 'make the command write a JSON object there, or remove it from the stage metrics',
          },
        );
      }
      Object.assign(metrics, readMetricsFile(this.store, file));
      metricsFiles.push(version);
    }
    return { outs, metricsFiles, metrics };
  }

  /** Puts recorded output versions in place from the cache; returns their metrics. */
  async restore(
    outs: PathVersion[],
    metricsFiles: PathVersion[],
    locked: LockedStage | undefined,
    pointerPath: string,
  ): Promise<Record<string, unknown>> {
    for (const version of [...outs, ...metricsFiles]) {
      if (!(await this.remove(version.path, recordedVersion(locked, version.path), version))) continue;
      await checkout(this.store, [
        {
          path: version.path,
          pointerPath,
          pointer: {
            version: 1,
            path: path.posix.basename(version.path),
            type: version.type,
            digest: version.digest,
            size: version.size,
            files: version.files,
          },
        },
      ]);
    }
    for (const out of outs) ensureIgnored(this.store.ws.absolutePath(out.path));
    const metrics: Record<string, unknown> = {};
    for (const file of metricsFiles) Object.assign(metrics, readMetricsFile(this.store, file.path));
    return metrics;
  }
}
