/**
 * From a model reference to a local path: `name`, `name@3`, `name@alias`, `name@latest` or a
 * digest is looked up in the registry and materialised from the content store under
 * `.ledge/models/`; a path to a bundle directory or an .onnx file is used as it is.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Digest } from '../../core/digest.js';
import { fsError, isLedgeError, LedgeError } from '../../core/errors.js';
import type { MetadataStore } from '../../metadata/metadata-store.js';
import {
  findModelVersionByDigest,
  type ModelKind,
  type ModelRef,
  parseModelRef,
  resolveModelRef,
} from '../../metadata/model-registry.js';
import { BUNDLE_FILES } from '../../runtime/model/bundle-format.js';
import type { Store } from '../../store/store.js';
import { digestOfModelPath, materializeModel } from './model-storage.js';

export interface ResolvedModel {
  /** Absolute path of the bundle directory or .onnx file. */
  path: string;
  kind: ModelKind;
  /** The registered name and version (for a path: the newest version with its content, if any). */
  name?: string | undefined;
  version?: number | undefined;
  digest: Digest;
}

/** Whether a reference can only be a path: it has a separator, starts with `.`, or ends in `.onnx`. */
function looksLikePath(ref: string): boolean {
  return ref.includes('/') || ref.includes(path.sep) || ref.startsWith('.') || ref.endsWith('.onnx');
}

async function fromPath(
  store: Store,
  metadata: MetadataStore,
  ref: string,
  cwd: string,
): Promise<ResolvedModel> {
  const abs = path.resolve(cwd, ref);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch (error) {
    throw fsError(error, ref, 'cannot read the model');
  }
  let kind: ModelKind;
  if (st.isDirectory()) {
    if (!fs.existsSync(path.join(abs, BUNDLE_FILES.model))) {
      throw new LedgeError(
        'invalid-model',
        `'${ref}' is not a model bundle: it has no ${BUNDLE_FILES.model}`,
        {
          hint: 'give a bundle directory, an .onnx file, or a registered model (NAME, NAME@VERSION, NAME@ALIAS)',
        },
      );
    }
    kind = 'bundle';
  } else if (st.isFile()) kind = 'onnx';
  else {
    throw new LedgeError('unsupported-file-type', `'${ref}' is not a regular file or directory`, {
      hint: 'give a bundle directory or an .onnx file',
    });
  }
  const { digest } = await digestOfModelPath(store, abs, kind, ref);
  const registered = await findModelVersionByDigest(metadata.db, digest);
  return { path: abs, kind, name: registered?.name, version: registered?.version, digest };
}

/**
 * Resolves a model reference to a local path. Registry references are materialised under
 * `.ledge/models/` (once; an intact copy is reused). A bare word that names no registered
 * model but an existing file or directory is taken as that path.
 */
export async function resolveModelPath(
  store: Store,
  metadata: MetadataStore,
  ref: string,
  options: { cwd?: string } = {},
): Promise<ResolvedModel> {
  const cwd = options.cwd ?? process.cwd();
  if (looksLikePath(ref)) return fromPath(store, metadata, ref, cwd);
  const existsAsPath = () => fs.existsSync(path.resolve(cwd, ref));
  let parsed: ModelRef;
  try {
    parsed = parseModelRef(ref);
  } catch (error) {
    if (existsAsPath()) return fromPath(store, metadata, ref, cwd);
    throw error;
  }
  let model: Awaited<ReturnType<typeof resolveModelRef>>;
  try {
    model = await resolveModelRef(metadata.db, parsed);
  } catch (error) {
    if (parsed.kind === 'latest' && isLedgeError(error, 'usage') && existsAsPath()) {
      return fromPath(store, metadata, ref, cwd);
    }
    throw error;
  }
  const modelPath = await materializeModel(store, model, `${model.name}@${model.version}`);
  return {
    path: modelPath,
    kind: model.kind,
    name: model.name,
    version: model.version,
    digest: model.digest,
  };
}
