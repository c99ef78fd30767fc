/**
 * A model on disk, as the registry sees it: an `.onnx` file, or a bundle directory (its
 * `model.onnx` plus preprocessing, labels and model card; src/runtime/model/bundle-format.ts).
 * Inspecting one validates the ONNX graph (src/ml/onnx/inspect.ts) and gathers the facts the
 * registry records with a version: opset, signature, operators, labels, the card's metrics.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fsError, LedgeError } from '../../core/errors.js';
import type { ModelKind } from '../../metadata/model-registry.js';
import { BUNDLE_FILES } from '../../runtime/model/bundle-format.js';
import { inspectOnnx, type OnnxSummary } from '../onnx/inspect.js';

export interface ModelInspection {
  kind: ModelKind;
  /** Absolute path of the file or bundle directory. */
  path: string;
  /** How messages name it (the path as the user gave it). */
  shownAs: string;
  /** The ONNX file: the path itself, or the bundle's model.onnx. */
  onnxPath: string;
  onnx: OnnxSummary;
  /** A bundle's model-card.json, when it has one. */
  card: Record<string, unknown> | undefined;
  /** A bundle's labels.json, when it has one. */
  labels: string[] | undefined;
}

function readJson(file: string, shownAs: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw fsError(error, shownAs, 'cannot read');
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new LedgeError('unreadable', `${shownAs} is not valid JSON`, {
      hint: 'fix or regenerate the bundle',
      cause: error,
    });
  }
}

function readOnnx(file: string, shownAs: string): OnnxSummary {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    throw fsError(error, shownAs, 'cannot read the model');
  }
  return inspectOnnx(bytes, shownAs);
}

/**
 * Inspects a model path: a directory must be a bundle (hold model.onnx); anything else must
 * be an ONNX file. Throws a one-line LedgeError for what is not a valid model.
 */
export function inspectModel(absPath: string, shownAs: string): ModelInspection {
  let st: fs.Stats;
  try {
    st = fs.statSync(absPath);
  } catch (error) {
    throw fsError(error, shownAs, 'cannot read the model');
  }
  if (st.isDirectory()) {
    const onnxPath = path.join(absPath, BUNDLE_FILES.model);
    const inside = (name: string) => `${shownAs.replace(/\/+$/, '')}/${name}`;
    if (!fs.existsSync(onnxPath)) {
      throw new LedgeError(
        'invalid-model',
        `'${shownAs}' is not a model bundle: it has no ${BUNDLE_FILES.model}`,
        {
          hint: 'give a bundle directory (model.onnx, model-card.json, …) or an .onnx file',
        },
      );
    }
    const onnx = readOnnx(onnxPath, inside(BUNDLE_FILES.model));
    const cardPath = path.join(absPath, BUNDLE_FILES.card);
    let card: Record<string, unknown> | undefined;
    if (fs.existsSync(cardPath)) {
      const value = readJson(cardPath, inside(BUNDLE_FILES.card));
      if (!value || typeof value !== 'object' || Array.isArray(value)) {
        throw new LedgeError('unreadable', `${inside(BUNDLE_FILES.card)} does not hold a JSON object`, {
          hint: 'fix or regenerate the bundle',
        });
      }
      card = value as Record<string, unknown>;
    }
    const labelsPath = path.join(absPath, BUNDLE_FILES.labels);
    let labels: string[] | undefined;
    if (fs.existsSync(labelsPath)) {
      const value = readJson(labelsPath, inside(BUNDLE_FILES.labels));
      if (!Array.isArray(value) || !value.every((label) => typeof label === 'string')) {
        throw new LedgeError('unreadable', `${inside(BUNDLE_FILES.labels)} is not a JSON array of strings`, {
          hint: 'write the class labels in output order, e.g. ["neg", "pos"]',
        });
      }
      labels = value;
    }
    return { kind: 'bundle', path: absPath, shownAs, onnxPath, onnx, card, labels };
  }
  if (!st.isFile()) {
    throw new LedgeError('unsupported-file-type', `'${shownAs}' is not a regular file or directory`, {
      hint: 'give a bundle directory or an .onnx file',
    });
  }
  const onnx = readOnnx(absPath, shownAs);
  if (onnx.externalData) {
    throw new LedgeError(
      'invalid-model',
      `'${shownAs}' keeps some weights in external data files, which a single-file model cannot carry`,
      {
        hint: 'save it with the weights inside (onnx.save(model, path, save_as_external_data=False)), or register the directory holding both as a bundle',
      },
    );
  }
  return {
    kind: 'onnx',
    path: absPath,
    shownAs,
    onnxPath: absPath,
    onnx,
    card: undefined,
    labels: undefined,
  };
}

/** The standard-domain (ai.onnx) opset a model imports, if it declares one. */
export function standardOpset(onnx: OnnxSummary): number | undefined {
  return onnx.opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version;
}

/** What the registry records about an inspected model (`source`: where it came from). */
export function modelProperties(inspection: ModelInspection, source: string): Record<string, unknown> {
  const { onnx } = inspection;
  const properties: Record<string, unknown> = {
    source,
    opset: standardOpset(onnx) ?? null,
    irVersion: onnx.irVersion,
    opsetImports: onnx.opsetImports,
    producer: onnx.producer,
    inputs: onnx.inputs,
    outputs: onnx.outputs,
    operators: onnx.operators,
    nodes: onnx.nodes,
    initializers: onnx.initializers,
    parameters: onnx.parameters,
    onnxBytes: onnx.sizeBytes,
  };
  if (Object.keys(onnx.metadata).length > 0) properties.onnxMetadata = onnx.metadata;
  if (inspection.labels) properties.labels = inspection.labels;
  const card = inspection.card;
  if (card) {
    // Who the card says it is; its metrics become the version's metrics.
    const facts = Object.entries(card).filter(
      ([key, value]) => ['name', 'task', 'created'].includes(key) && typeof value === 'string',
    );
    if (facts.length > 0) properties.card = Object.fromEntries(facts);
  }
  return properties;
}

/** A bundle's model-card metrics (an object), if it has any. */
export function cardMetrics(inspection: ModelInspection): Record<string, unknown> | undefined {
  const metrics = inspection.card?.metrics;
  return metrics && typeof metrics === 'object' && !Array.isArray(metrics)
    ? (metrics as Record<string, unknown>)
    : undefined;
}
