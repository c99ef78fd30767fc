/**
 * The models a server holds, by name, each with its current version. Loading a version while
 * serving (hot swap) follows three rules:
 *
 * 1. the new version must load and answer a smoke input (a finite score in [0, 1]) before it
 *    becomes current; if either fails, the version that was serving goes on serving and the
 *    load reports why;
 * 2. every request leases the version it starts on and finishes on it, even if another version
 *    becomes current meanwhile;
 * 3. a replaced (or unloaded) version is released — its ONNX Runtime session closed — only
 *    once its last lease is returned.
 *
 * Loads of one name run one after another; loads of different names may overlap.
 */
import { Batcher, type BatchingOptions } from './batcher.js';
import { modelNotFound, ServerError } from './http-errors.js';
import { type ModelLoader, prepareText, type ServableModel } from './servable-model.js';

/** What a new version must score, and how, before it serves. */
const SMOKE_TEXT = 'a good film';

export interface ModelVersionInfo {
  name: string;
  version: string;
  location: string;
  state: 'ready' | 'draining' | 'released';
  inFlight: number;
}

/** One loaded version of a model: the model, its batcher, and who is using it. */
export class ModelVersion {
  private leases = 0;
  private retired = false;
  private released: Promise<void> | undefined;
  private releaseNow: (() => void) | undefined;
  readonly batcher: Batcher;

  constructor(
    readonly name: string,
    readonly version: string,
    readonly location: string,
    readonly model: ServableModel,
    batching: Partial<BatchingOptions>,
    onBatch: (size: number) => void,
  ) {
    this.batcher = new Batcher(
      async (docs) => {
        const { score, logit } = await model.run(docs);
        return [score, logit];
      },
      batching,
      onBatch,
    );
  }

  get inFlight(): number {
    return this.leases;
  }

  get info(): ModelVersionInfo {
    return {
      name: this.name,
      version: this.version,
      location: this.location,
      state: this.released ? 'released' : this.retired ? 'draining' : 'ready',
      inFlight: this.leases,
    };
  }

  /** Marks a request as using this version; call the returned function when it is done. */
  lease(): () => void {
    this.leases++;
    let returned = false;
    return () => {
      if (returned) return;
      returned = true;
      this.leases--;
      if (this.retired && this.leases === 0) this.releaseNow?.();
    };
  }

  /** Stops new leases from reaching this version; resolves once the last lease is returned
   * and the session is closed. */
  retire(): Promise<void> {
    if (this.released) return this.released;
    this.retired = true;
    this.batcher.flush();
    this.released = new Promise<void>((resolve) => {
      this.releaseNow = resolve;
      if (this.leases === 0) resolve();
    }).then(() => this.model.close().catch(() => {}));
    return this.released;
  }

  /** Releases the session now, whatever is still using it (shutdown after the drain timeout). */
  forceRelease(): Promise<void> {
    const released = this.retire();
    this.releaseNow?.();
    return released;
  }
}

export interface ModelSlotsOptions {
  loader: ModelLoader;
  batching?: Partial<BatchingOptions>;
  /** Told of every batch (monitoring). */
  onBatch?: (model: string, version: string, size: number) => void;
  /** A version is about to serve (`replaced` is the one it replaces). */
  onLoaded?: (loaded: ModelVersion, seconds: number, replaced: ModelVersion | undefined) => void;
  onLoadFailed?: (name: string, version: string, error: ServerError) => void;
  onUnloaded?: (unloaded: ModelVersion) => void;
}

/** Model names as they appear in URLs: letters, digits, '.', '_', '-'. */
export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const MODEL_VERSION = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export class ModelSlots {
  private readonly current = new Map<string, ModelVersion>();
  /** The tail of each name's load queue. */
  private readonly loading = new Map<string, Promise<unknown>>();
  /** Every version not yet released, current or draining. */
  private readonly live = new Set<ModelVersion>();
  private closed = false;

  constructor(private readonly options: ModelSlotsOptions) {}

  /** True once at least one model is serving. */
  get ready(): boolean {
    return this.current.size > 0;
  }

  /** The serving version of `name` (the given version, or whichever is current). */
  get(name: string, version?: string): ModelVersion | undefined {
    const found = this.current.get(name);
    if (!found || (version !== undefined && found.version !== version)) return undefined;
    return found;
  }

  /** Leases the serving version, or throws 404. Call `release` when the request is done. */
  acquire(name: string, version?: string): { model: ModelVersion; release: () => void } {
    const model = this.get(name, version);
    if (!model) throw modelNotFound(name, version);
    return { model, release: model.lease() };
  }

  list(): ModelVersion[] {
    return [...this.current.values()];
  }

  /** Runs every queued request now, without waiting for its batch to fill (shutdown). */
  flush(): void {
    for (const version of this.live) version.batcher.flush();
  }

  /** Versions loaded and not yet released (current ones, and replaced ones still draining). */
  versions(): ModelVersionInfo[] {
    return [...this.live].map((v) => v.info);
  }

  /**
   * Loads `location` as `version` of `name` and makes it current once it answers the smoke
   * input. Throws a ServerError (`model-load-failed`) when it cannot; the previous version then
   * keeps serving. The replaced version is released after its last request.
   */
  load(name: string, version: string, location: string): Promise<ModelVersion> {
    if (!MODEL_NAME.test(name)) {
      return Promise.reject(
        new ServerError('bad-request', `model name '${name}' must be letters, digits, '.', '_' or '-'`),
      );
    }
    if (!MODEL_VERSION.test(version)) {
      return Promise.reject(
        new ServerError('bad-request', `model version '${version}' must be letters, digits, '.', '_' or '-'`),
      );
    }
    const previous = this.loading.get(name) ?? Promise.resolve();
    const next = previous
      .catch(() => {})
      .then(() => this.loadNow(name, version, location))
      .catch((error: unknown) => {
        if (error instanceof ServerError) this.options.onLoadFailed?.(name, version, error);
        throw error;
      });
    const tail = next.catch(() => {});
    this.loading.set(name, tail);
    void tail.then(() => {
      if (this.loading.get(name) === tail) this.loading.delete(name);
    });
    return next;
  }

  private async loadNow(name: string, version: string, location: string): Promise<ModelVersion> {
    const started = performance.now();
    const fail = (reason: string, cause?: unknown) =>
      new ServerError(
        'model-load-failed',
        `cannot load version ${version} of '${name}' from ${location}: ${reason}`,
        { cause },
      );
    let model: ServableModel;
    try {
      model = await this.options.loader(location);
    } catch (error) {
      throw fail(error instanceof Error ? error.message : String(error), error);
    }
    try {
      const { score } = await model.run([prepareText(model, SMOKE_TEXT, false).ids]);
      const value = score[0];
      if (score.length !== 1 || value === undefined || !Number.isFinite(value) || value < 0 || value > 1) {
        throw fail(`the smoke input '${SMOKE_TEXT}' scored ${value} (expected a number in [0, 1])`);
      }
    } catch (error) {
      await model.close().catch(() => {});
      if (error instanceof ServerError) throw error;
      throw fail(`the smoke input failed: ${error instanceof Error ? error.message : String(error)}`, error);
    }
    if (this.closed) {
      await model.close().catch(() => {});
      throw fail('the server is shutting down');
    }
    const onBatch = this.options.onBatch;
    const loaded = new ModelVersion(name, version, location, model, this.options.batching ?? {}, (size) =>
      onBatch?.(name, version, size),
    );
    const replaced = this.current.get(name);
    this.options.onLoaded?.(loaded, (performance.now() - started) / 1000, replaced);
    this.current.set(name, loaded);
    this.live.add(loaded);
    if (replaced) void this.retire(replaced);
    return loaded;
  }

  private retire(version: ModelVersion): Promise<void> {
    return version.retire().then(() => {
      this.live.delete(version);
    });
  }

  /** Stops serving `name`; resolves once its last request is done and it is released. */
  async unload(name: string): Promise<boolean> {
    await this.loading.get(name);
    const serving = this.current.get(name);
    if (!serving) return false;
    this.current.delete(name);
    this.options.onUnloaded?.(serving);
    await this.retire(serving);
    return true;
  }

  /**
   * Unloads every model, e.g. on shutdown: after its requests are done, or at once with
   * `force` (requests still running then fail).
   */
  async close(options: { force?: boolean } = {}): Promise<void> {
    this.closed = true;
    if (!options.force) await Promise.all([...this.loading.values()]);
    const all = [...this.live];
    this.current.clear();
    await Promise.all(
      all.map(async (v) => {
        await (options.force ? v.forceRelease() : v.retire());
        this.live.delete(v);
      }),
    );
  }
}
