/**
 * Registering a model: inspect it (a valid ONNX graph, a bundle's card and labels), put its
 * bytes into the content store, record the next version of its name in the metadata
 * registry, and point aliases at it. The same path serves `ledge model register` (a bundle
 * or an .onnx file), `ledge model import` (bring your own .onnx from any framework) and
 * pipeline stages.
 */
import path from 'node:path';
import { LedgeError } from '../../core/errors.js';
import type { MetadataStore } from '../../metadata/metadata-store.js';
import {
  checkAlias,
  checkModelName,
  getModelVersion,
  type ModelKind,
  type ModelVersion,
  registerModelVersion,
  setAlias,
} from '../../metadata/model-registry.js';
import type { Store } from '../../store/store.js';
import { cardMetrics, inspectModel, type ModelInspection, modelProperties } from './model-files.js';
import { type StoredModel, storeModel } from './model-storage.js';

export interface RegisterModelOptions {
  /** The bundle directory or .onnx file, as the user gave it (relative to `cwd`). */
  path: string;
  cwd?: string | undefined;
  name: string;
  /** The version's metrics; default: a bundle's model-card metrics. */
  metrics?: Record<string, unknown> | undefined;
  /** Aliases to point at the registered version. */
  aliases?: string[] | undefined;
  /** The stage execution that produced it. */
  executionId?: number | undefined;
  /** A new version even when this content already is a version of the name. */
  force?: boolean | undefined;
  /** Accept only this kind (`ledge model import` takes .onnx files). */
  kind?: ModelKind | undefined;
}

export interface RegisteredModel {
  model: ModelVersion;
  /** False when the content already was a version of the name (returned as `model`). */
  created: boolean;
  inspection: ModelInspection;
  stored: StoredModel;
  /** The aliases set, with the version each pointed at before. */
  aliases: { alias: string; previous: number | undefined }[];
}

/** Where a model came from, as recorded: workspace-relative inside the workspace, else absolute. */
function sourceOf(store: Store, absPath: string): string {
  const rel = path.relative(store.ws.root, absPath);
  return rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? absPath : rel.split(path.sep).join('/');
}

/** Inspects a model path without storing or registering anything (`--dry-run`). */
export function inspectModelPath(userPath: string, cwd: string = process.cwd(), kind?: ModelKind) {
  const inspection = inspectModel(path.resolve(cwd, userPath), userPath);
  if (kind && inspection.kind !== kind) {
    throw new LedgeError(
      'usage',
      kind === 'onnx'
        ? `'${userPath}' is a bundle directory, not an .onnx file`
        : `'${userPath}' is an .onnx file, not a bundle directory`,
      {
        hint:
          kind === 'onnx'
            ? 'register a bundle with `ledge model register DIR --name NAME`'
            : 'import it with `ledge model import FILE --name NAME`',
      },
    );
  }
  return inspection;
}

export async function registerModel(
  store: Store,
  metadata: MetadataStore,
  options: RegisterModelOptions,
): Promise<RegisteredModel> {
  // Everything the user typed is checked before any bytes move.
  const name = checkModelName(options.name);
  const aliases = [...new Set(options.aliases ?? [])];
  for (const alias of aliases) checkAlias(alias);
  const inspection = inspectModelPath(options.path, options.cwd, options.kind);
  const stored = await storeModel(store, inspection);
  const registered = await registerModelVersion(metadata.db, {
    name,
    digest: stored.digest,
    kind: stored.kind,
    size: stored.size,
    metrics: options.metrics ?? cardMetrics(inspection) ?? {},
    properties: {
      ...modelProperties(inspection, sourceOf(store, inspection.path)),
      ...(stored.kind === 'bundle' ? { files: stored.files } : {}),
    },
    executionId: options.executionId,
    force: options.force,
  });
  const set: RegisteredModel['aliases'] = [];
  for (const alias of aliases) {
    const { previous } = await setAlias(metadata.db, name, alias, registered.model.version);
    set.push({ alias, previous });
  }
  const model =
    set.length > 0 ? await getModelVersion(metadata.db, name, registered.model.version) : registered.model;
  return { model, created: registered.created, inspection, stored, aliases: set };
}
