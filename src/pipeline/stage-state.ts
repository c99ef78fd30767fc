/**
 * Whether a stage is up to date, and why not: its command, dependency digests and parameter
 * values now, compared with its `ledge.lock` entry, and its outputs compared with the
 * versions it recorded. Also the run-cache key: the digest of what determines a stage's
 * outputs (command, working directory, environment, dependency digests, parameter values,
 * output paths).
 */
import { type Digest, sha256 } from '../core/digest.js';
import { manifestDigest } from '../store/dir-manifest.js';
import { type Store, totals } from '../store/store.js';
import type { LockedStage, PathVersion } from './lock-file.js';
import type { ParamValues } from './params-file.js';
import type { Stage } from './pipeline-file.js';

/** What a stage would run with now. */
export interface StageInputs {
  /** Current versions of the dependencies; undefined for one that does not exist. */
  deps: Map<string, PathVersion | undefined>;
  params: ParamValues;
}

/**
 * The version of a workspace path now, hashing only what the stat cache cannot vouch for.
 * With `store`, the content is also put into the cache (a directory's manifest too, marked
 * complete), as for stage outputs. `expected` (a recorded version) enables the fast path
 * for an unchanged directory.
 */
export async function versionOf(
  store: Store,
  rel: string,
  options: { store: boolean; expected?: PathVersion | undefined },
): Promise<PathVersion | undefined> {
  const expected = options.expected?.type === 'dir' ? options.expected.digest : undefined;
  const scan = await store.scan(rel, { store: options.store, completeManifest: expected });
  if (scan.type === 'missing') return undefined;
  if (scan.type === 'file') {
    return { path: rel, type: 'file', digest: scan.entry.digest, size: scan.entry.size };
  }
  let digest: Digest;
  if (scan.unchanged) digest = scan.unchanged;
  else if (options.store) {
    digest = store.writeManifest(scan.entries);
    store.cache.markComplete(digest);
  } else digest = manifestDigest(scan.entries);
  const { size, files } = totals(scan.entries);
  return { path: rel, type: 'dir', digest, size, files };
}

/** The inputs of `stage` now. */
export async function currentInputs(
  store: Store,
  stage: Stage,
  params: ParamValues,
  locked: LockedStage | undefined,
): Promise<StageInputs> {
  const deps = new Map<string, PathVersion | undefined>();
  for (const dep of stage.deps) {
    const expected = locked?.deps.find((d) => d.path === dep);
    deps.set(dep, await versionOf(store, dep, { store: false, expected }));
  }
  return { deps, params };
}

function sameJson(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** JSON with object keys sorted, so equal values give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

function showValue(value: unknown): string {
  return value === undefined ? '(none)' : JSON.stringify(value);
}

/** Why the command, dependencies or parameters differ from the lock entry (empty: they match). */
export function inputChanges(stage: Stage, inputs: StageInputs, locked: LockedStage | undefined): string[] {
  if (!locked) return ['never run'];
  const reasons: string[] = [];
  if (
    !sameJson(locked.cmd, stage.commands) ||
    (locked.wdir ?? '') !== stage.wdir ||
    !sameJson(locked.env ?? {}, stage.env)
  ) {
    reasons.push('command changed');
  }
  const lockedDeps = new Map(locked.deps.map((d) => [d.path, d]));
  for (const [dep, now] of inputs.deps) {
    const before = lockedDeps.get(dep);
    lockedDeps.delete(dep);
    if (!before) reasons.push(`new dependency ${dep}`);
    else if (!now) reasons.push(`dependency ${dep} is missing`);
    else if (now.digest !== before.digest) reasons.push(`dependency ${dep} changed`);
  }
  for (const removed of lockedDeps.keys()) reasons.push(`dependency ${removed} removed`);
  const files = new Set([...Object.keys(inputs.params), ...Object.keys(locked.params)]);
  for (const file of [...files].sort()) {
    const now = inputs.params[file] ?? {};
    const before = locked.params[file] ?? {};
    const keys = new Set([...Object.keys(now), ...Object.keys(before)]);
    for (const key of [...keys].sort()) {
      if (!sameJson(now[key], before[key])) {
        const label = file === 'params.yaml' ? key : `${file}:${key}`;
        reasons.push(`param ${label} changed: ${showValue(before[key])} -> ${showValue(now[key])}`);
      }
    }
  }
  const declared = [...stage.outs, ...stage.metrics].sort().join('\n');
  const recorded = [...locked.outs, ...locked.metrics]
    .map((o) => o.path)
    .sort()
    .join('\n');
  if (declared !== recorded) reasons.push('outputs changed in the pipeline file');
  return reasons;
}

/** Whether each recorded output still holds its recorded version; the reasons if not. */
export async function outputChanges(store: Store, locked: LockedStage): Promise<string[]> {
  const reasons: string[] = [];
  for (const out of [...locked.outs, ...locked.metrics]) {
    const now = await versionOf(store, out.path, { store: false, expected: out });
    if (!now) reasons.push(`output ${out.path} is missing`);
    else if (now.digest !== out.digest) reasons.push(`output ${out.path} was modified`);
  }
  return reasons;
}

/** The run-cache key of a stage with these inputs. */
export function cacheKeyOf(stage: Stage, inputs: StageInputs): Digest {
  const deps: Record<string, string | null> = {};
  for (const [dep, version] of inputs.deps) deps[dep] = version?.digest ?? null;
  return sha256(
    canonicalJson({
      v: 1,
      cmd: stage.commands,
      wdir: stage.wdir,
      env: stage.env,
      deps,
      params: inputs.params,
      outs: [...stage.outs].sort(),
      metrics: [...stage.metrics].sort(),
    }),
  );
}

/** The lock entry for a stage that ran (or was restored) with `inputs`, producing `outputs`. */
export function lockEntry(
  stage: Stage,
  inputs: StageInputs,
  outs: PathVersion[],
  metrics: PathVersion[],
): LockedStage {
  const deps: PathVersion[] = [];
  for (const [, version] of inputs.deps) if (version) deps.push(version);
  return {
    cmd: stage.commands,
    wdir: stage.wdir || undefined,
    env: Object.keys(stage.env).length > 0 ? stage.env : undefined,
    deps,
    params: inputs.params,
    outs,
    metrics,
  };
}
