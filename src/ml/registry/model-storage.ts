/**
 * Registered models' bytes: put into the workspace content store when a model is registered
 * (an .onnx file as one object; a bundle directory as its files plus a manifest, as a stage
 * output is stored), and materialised from it under `.ledge/models/` when a model reference
 * is resolved to a path: `<first 16 hex of the digest>/` for a bundle, `<hex16>.onnx` for a
 * file. A materialised model is reused while it is intact, and rewritten when it is not.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { writeFileAtomicSync } from '../../core/atomic-fs.js';
import { type Digest, digestFromHex, digestHex } from '../../core/digest.js';
import { fsError, isLedgeError, LedgeError } from '../../core/errors.js';
import { acquireLock } from '../../core/lock.js';
import type { ModelKind } from '../../metadata/model-registry.js';
import { checkout } from '../../store/checkout.js';
import { type DirEntry, manifestDigest } from '../../store/dir-manifest.js';
import { type Store, totals } from '../../store/store.js';
import { walkTree } from '../../store/tree-walk.js';
import { LEDGE_DIR } from '../../store/workspace.js';
import type { ModelInspection } from './model-files.js';

/** Where materialised models live, workspace-relative. */
export const MODELS_DIR = `${LEDGE_DIR}/models`;

export interface StoredModel {
  kind: ModelKind;
  digest: Digest;
  /** Bytes (a bundle: all its files). */
  size: number;
  files: number;
}

/** What identifies a model's bytes in the content store. */
export interface ModelObject {
  kind: ModelKind;
  digest: Digest;
  size: number;
}

/** The workspace-relative path of an absolute path inside the workspace (outside `.ledge/`). */
function bundleRelPath(store: Store, inspection: ModelInspection): string {
  try {
    return store.ws.relativePath(inspection.path, store.ws.root);
  } catch (error) {
    if (!isLedgeError(error, 'path-outside-workspace')) throw error;
    if (path.resolve(inspection.path) === store.ws.root) {
      throw new LedgeError('usage', `bundle '${inspection.shownAs}' is the workspace root itself`, {
        hint: 'put the bundle files in a directory of their own and register that',
      });
    }
    throw new LedgeError(
      'path-outside-workspace',
      `bundle '${inspection.shownAs}' is outside the workspace (${store.ws.root})`,
      {
        hint: `copy it into the workspace first, or register its ${path.basename(inspection.onnxPath)} alone with \`ledge model import\``,
        cause: error,
      },
    );
  }
}

/** Puts an inspected model's bytes into the content store; returns its digest and size. */
export async function storeModel(store: Store, inspection: ModelInspection): Promise<StoredModel> {
  if (inspection.kind === 'onnx') {
    let digest: Digest;
    try {
      digest = await store.cache.putStream(
        fs.createReadStream(inspection.path),
        undefined,
        inspection.shownAs,
      );
    } catch (error) {
      throw fsError(error, inspection.shownAs, 'cannot read the model');
    }
    return { kind: 'onnx', digest, size: store.cache.sizeOf(digest) ?? inspection.onnx.sizeBytes, files: 1 };
  }
  // As a stage output is stored (src/pipeline/stage-state.ts versionOf): the files through
  // the stat cache and the parallel hashers, then the manifest, marked complete.
  const rel = bundleRelPath(store, inspection);
  const scan = await store.scan(rel, { store: true });
  if (scan.type !== 'dir') {
    throw new LedgeError('file-changed', `bundle '${inspection.shownAs}' changed while it was being stored`, {
      hint: 'run the command again once nothing writes to it',
    });
  }
  const digest = store.writeManifest(scan.entries);
  store.cache.markComplete(digest);
  const { size, files } = totals(scan.entries);
  return { kind: 'bundle', digest, size, files };
}

/** Where a model is (or will be) materialised, workspace-relative. */
export function materializedPath(model: Pick<ModelObject, 'kind' | 'digest'>): string {
  const hex16 = digestHex(model.digest).slice(0, 16);
  return `${MODELS_DIR}/${model.kind === 'bundle' ? hex16 : `${hex16}.onnx`}`;
}

/** Whether the workspace path `rel` holds exactly `model` now (the stat cache avoids rereads). */
async function holds(store: Store, rel: string, model: ModelObject): Promise<boolean> {
  let scan: Awaited<ReturnType<Store['scan']>>;
  try {
    scan = await store.scan(rel, {
      store: false,
      completeManifest: model.kind === 'bundle' ? model.digest : undefined,
    });
  } catch {
    return false; // unreadable or odd: rewrite it
  }
  if (model.kind === 'onnx') return scan.type === 'file' && scan.entry.digest === model.digest;
  if (scan.type !== 'dir') return false;
  return scan.unchanged === model.digest || manifestDigest(scan.entries) === model.digest;
}

/** Throws a LedgeError naming `shownAs` when some of the model's objects are not in the cache. */
function checkAvailable(store: Store, model: ModelObject, shownAs: string): void {
  const cache = store.cache;
  let missing = cache.has(model.digest) ? 0 : 1;
  let total = 1;
  if (missing === 0 && model.kind === 'bundle' && !cache.isComplete(model.digest)) {
    const entries = store.readManifest(model.digest);
    total += entries.length;
    missing = entries.filter((entry) => !cache.has(entry.digest)).length;
  }
  if (missing > 0) {
    throw new LedgeError(
      'missing-object',
      `${shownAs} (${model.digest}): ${missing === total && total === 1 ? 'its content is' : `${missing} of ${total} objects are`} not in the cache`,
      {
        hint: 'register it again from its files (`ledge model register PATH --name NAME`), or use a workspace whose cache has it',
      },
    );
  }
}

/** Creates `.ledge/models/` with a .gitignore of its own: nothing in it is meant for git. */
function ensureModelsDir(store: Store): string {
  const dir = store.ws.absolutePath(MODELS_DIR);
  fs.mkdirSync(dir, { recursive: true });
  const gitignore = path.join(dir, '.gitignore');
  if (!fs.existsSync(gitignore)) {
    writeFileAtomicSync(gitignore, '# Models materialised by ledge from its cache.\n*\n');
  }
  return dir;
}

/**
 * Puts a registered model's bytes in place under `.ledge/models/` (once: an intact copy is
 * reused) and returns its absolute path. `shownAs` names it in errors (`imdb@3`). Concurrent
 * callers (a serving process and a stage, say) wait for each other on a per-model lock.
 */
export async function materializeModel(store: Store, model: ModelObject, shownAs: string): Promise<string> {
  const rel = materializedPath(model);
  const abs = store.ws.absolutePath(rel);
  if (await holds(store, rel, model)) return abs;
  const dir = ensureModelsDir(store);
  const lock = await acquireLock(path.join(dir, `${path.basename(rel, '.onnx')}.lock`), {
    command: `materialise ${shownAs}`,
    timeoutMs: 10 * 60_000,
  });
  try {
    if (await holds(store, rel, model)) return abs; // another process just did it
    checkAvailable(store, model, shownAs);
    // The copy under .ledge/models is ledge's own: whatever is there is replaced.
    await checkout(
      store,
      [
        {
          path: rel,
          pointerPath: `${rel}.ledge`,
          pointer: {
            version: 1,
            path: path.posix.basename(rel),
            type: model.kind === 'bundle' ? 'dir' : 'file',
            digest: model.digest,
            size: model.size,
          },
        },
      ],
      { force: true },
    );
  } finally {
    lock.release();
  }
  return abs;
}

async function hashFile(file: string): Promise<{ digest: Digest; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  await pipeline(fs.createReadStream(file), async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) {
      hash.update(chunk);
      size += chunk.length;
    }
  });
  return { digest: digestFromHex(hash.digest('hex')), size };
}

/**
 * The digest a model path would be registered with, without storing anything: through the
 * stat cache inside the workspace, by reading the files elsewhere.
 */
export async function digestOfModelPath(
  store: Store,
  absPath: string,
  kind: ModelKind,
  shownAs: string,
): Promise<{ digest: Digest; size: number }> {
  const rel = path.relative(store.ws.root, absPath);
  const inside = rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
  try {
    if (inside) {
      const scan = await store.scan(rel.split(path.sep).join('/'), { store: false });
      if (scan.type === 'file') return { digest: scan.entry.digest, size: scan.entry.size };
      if (scan.type === 'dir')
        return { digest: manifestDigest(scan.entries), size: totals(scan.entries).size };
    } else if (kind === 'onnx') {
      return await hashFile(absPath);
    } else {
      const entries: DirEntry[] = [];
      for (const file of walkTree(absPath, { displayRoot: shownAs })) {
        const { digest } = await hashFile(path.join(absPath, ...file.rel.split('/')));
        entries.push({ path: file.rel, digest, size: file.size, executable: file.executable });
      }
      return { digest: manifestDigest(entries), size: totals(entries).size };
    }
  } catch (error) {
    throw fsError(error, shownAs, 'cannot read the model');
  }
  throw new LedgeError('path-not-found', `cannot read the model: '${shownAs}' does not exist`);
}
