/**
 * What an ONNX file holds (opsets, signature, operators, parameters, metadata), and whether it
 * is a model ONNX Runtime can load at all: any file that is not (empty, truncated, random or
 * text bytes, no graph, a node reading an undefined value, a missing or unsupported opset) is
 * refused with one error naming the file and the problem. A structural check, without running
 * anything; ONNX Runtime and the official checker go further (types, shapes, kernels).
 */
import { LedgeError } from '../../core/errors.js';
import { type ElementType, elementSize, elementTypeName, int64, onnx } from './proto.js';

export interface OnnxValueSummary {
  name: string;
  /** 'float32', 'int64', …; 'sequence(float32)', 'map(int64,float32)', 'optional(…)' for non-tensors. */
  elemType: string;
  /** Fixed sizes as numbers, symbolic ones (`dim_param`) as names, unknown ones as null; null if the rank is unknown. */
  shape: (number | string | null)[] | null;
}

export interface OnnxSummary {
  irVersion: number;
  opsetImports: { domain: string; version: number }[];
  producer: { name: string; version: string };
  graphName: string;
  docString: string;
  /** The graph inputs a caller feeds (initializers listed as inputs, as in IR < 4 models, left out). */
  inputs: OnnxValueSummary[];
  outputs: OnnxValueSummary[];
  /** Node count by operator: `Gather` for the standard domain, `com.microsoft:QGemm` for others; subgraphs included. */
  operators: Record<string, number>;
  nodes: number;
  initializers: number;
  /** Elements of all initializers (stored values for sparse ones). */
  parameters: number;
  /** Whether some weights live in external files: the bytes alone do not load. */
  externalData: boolean;
  sizeBytes: number;
  metadata: Record<string, string>;
}

/**
 * What the installed ONNX Runtime (onnxruntime-node 1.30) loads: IR versions 3 to 13, standard
 * opsets 7 to 26 (older ones load with a warning and no guarantee). Bump with ONNX Runtime; a
 * test checks these against it.
 */
export const RUNTIME_LIMITS = { minIrVersion: 3, maxIrVersion: 13, minOpset: 7, maxOpset: 26 } as const;

const DEFAULT_DOMAINS = new Set(['', 'ai.onnx']);

class InvalidModel extends Error {
  constructor(
    readonly reason: string,
    readonly hint: string,
  ) {
    super(reason);
  }
}

const REEXPORT = 're-export it from the training framework';

/** Inspects and validates the bytes of an ONNX file; `shownAs` names it in errors. */
export function inspectOnnx(bytes: Uint8Array, shownAs: string): OnnxSummary {
  try {
    if (bytes.length === 0) throw new InvalidModel('the file is empty', `${REEXPORT} or download it again`);
    let model: onnx.ModelProto;
    try {
      // A plain Uint8Array, not a Buffer: protobufjs's Buffer reader silently cuts short a
      // string that runs past the end of the data, where its array reader reports it.
      model = onnx.ModelProto.decode(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch (error) {
      throw new InvalidModel(
        `it does not parse as an ONNX protobuf (${error instanceof Error ? error.message : String(error)})`,
        `the file is truncated or is not an ONNX model; ${REEXPORT} or download it again`,
      );
    }
    return summarize(model, bytes.length);
  } catch (error) {
    if (!(error instanceof InvalidModel)) throw error;
    const text = looksLikeText(bytes);
    throw new LedgeError(
      'invalid-model',
      `'${shownAs}' is not a valid ONNX model: ${text ? 'it is a text file, not a binary ONNX protobuf' : error.reason}`,
      { hint: text ? 'pass the binary .onnx file the exporter wrote' : error.hint },
    );
  }
}

/** Printable UTF-8 in the first KiB: someone passed a text file (JSON, YAML, a README, an LFS pointer). */
function looksLikeText(bytes: Uint8Array): boolean {
  if (bytes.length === 0) return false;
  let text: string;
  try {
    // stream: a multi-byte character cut at the 1 KiB boundary is held back, not an error.
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, 1024), {
      stream: bytes.length > 1024,
    });
  } catch {
    return false;
  }
  return /^[\t\n\r\x20-\x7e\u00a0-\uffff]*$/.test(text);
}

function summarize(model: onnx.ModelProto, sizeBytes: number): OnnxSummary {
  const irVersion = int64(model.irVersion);
  const graph = model.graph;
  if (!graph) {
    throw new InvalidModel(
      irVersion === 0 ? 'it holds no ONNX model fields (no IR version, no graph)' : 'it has no graph',
      `the file is truncated, or is not a complete model (a ModelProto with a graph); ${REEXPORT} or download it again`,
    );
  }
  if (irVersion < RUNTIME_LIMITS.minIrVersion || irVersion > RUNTIME_LIMITS.maxIrVersion) {
    throw new InvalidModel(
      irVersion === 0
        ? 'it has no IR version'
        : `IR version ${irVersion} is not supported (ONNX Runtime loads ${RUNTIME_LIMITS.minIrVersion} to ${RUNTIME_LIMITS.maxIrVersion})`,
      `${REEXPORT} with a supported ONNX version`,
    );
  }
  const opsetImports = model.opsetImport.map((o) => ({ domain: o.domain ?? '', version: int64(o.version) }));
  const standard = opsetImports.filter((o) => DEFAULT_DOMAINS.has(o.domain));
  const opsetHint = `${REEXPORT} with an opset from ${RUNTIME_LIMITS.minOpset} to ${RUNTIME_LIMITS.maxOpset} (e.g. torch.onnx.export(…, opset_version=17))`;
  if (standard.length > 1) throw new InvalidModel('it imports the standard ai.onnx opset twice', opsetHint);
  const opset = standard[0]?.version;
  if (opset !== undefined && (opset < RUNTIME_LIMITS.minOpset || opset > RUNTIME_LIMITS.maxOpset)) {
    throw new InvalidModel(
      `opset ${opset} is not supported (ONNX Runtime runs ${RUNTIME_LIMITS.minOpset} to ${RUNTIME_LIMITS.maxOpset})`,
      opsetHint,
    );
  }

  const summary: OnnxSummary = {
    irVersion,
    opsetImports,
    producer: { name: model.producerName ?? '', version: model.producerVersion ?? '' },
    graphName: graph.name ?? '',
    docString: model.docString ?? '',
    inputs: [],
    outputs: (graph.output ?? []).map(valueSummary),
    operators: {},
    nodes: 0,
    initializers: 0,
    parameters: 0,
    externalData: false,
    sizeBytes,
    metadata: Object.fromEntries(model.metadataProps.map((p) => [p.key ?? '', p.value ?? ''])),
  };
  const initializerNames = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  summary.inputs = (graph.input ?? []).filter((i) => !initializerNames.has(i.name ?? '')).map(valueSummary);
  const domains = new Set(opsetImports.map((o) => (DEFAULT_DOMAINS.has(o.domain) ? '' : o.domain)));
  walkGraph(graph, new Set(), domains, summary, 'the graph');
  return summary;
}

/**
 * Checks one graph (and its subgraphs, which may read the outer graph's values): every value
 * defined once, every node input defined before the node, every output produced; counts
 * operators and parameters into `summary`.
 */
function walkGraph(
  graph: onnx.IGraphProto,
  outer: ReadonlySet<string>,
  domains: ReadonlySet<string>,
  summary: OnnxSummary,
  where: string,
): void {
  const defined = new Set<string>();
  const define = (name: string, what: string): void => {
    if (defined.has(name)) {
      throw new InvalidModel(`${where} defines '${name}' twice (again as ${what})`, REEXPORT);
    }
    defined.add(name);
  };
  for (const tensor of graph.initializer ?? []) {
    define(tensor.name ?? '', 'an initializer');
    countTensor(tensor, summary, where);
  }
  for (const sparse of graph.sparseInitializer ?? []) {
    define(sparse.values?.name ?? '', 'a sparse initializer');
    summary.initializers++;
    summary.parameters += (sparse.values?.dims ?? []).reduce<number>((a, d) => a * int64(d), 1);
  }
  for (const input of graph.input ?? []) {
    // IR < 4 lists initializers among the inputs too.
    if (!defined.has(input.name ?? '')) define(input.name ?? '', 'an input');
  }
  const visible = (name: string): boolean => defined.has(name) || outer.has(name);
  const producedLater = new Set((graph.node ?? []).flatMap((n) => n.output ?? []));
  (graph.node ?? []).forEach((node, index) => {
    const op = node.opType ?? '';
    const label = `node '${node.name || `#${index}`}' (${op || 'no operator'})`;
    if (op === '') throw new InvalidModel(`${where}: ${label} has no operator type`, REEXPORT);
    const domain = DEFAULT_DOMAINS.has(node.domain ?? '') ? '' : node.domain!;
    if (!domains.has(domain)) {
      throw new InvalidModel(
        domain === ''
          ? 'it has no opset import for the standard ai.onnx domain'
          : `${where}: ${label} uses domain '${domain}', which has no opset import`,
        domain === '' ? `${REEXPORT}; every model must declare its opset` : REEXPORT,
      );
    }
    for (const input of node.input ?? []) {
      if (input === '' || visible(input)) continue;
      throw new InvalidModel(
        producedLater.has(input)
          ? `${where}: ${label} reads '${input}' before the node that computes it (nodes are not in topological order)`
          : `${where}: ${label} reads '${input}', which is not an input, an initializer or any node's output`,
        `the graph is broken; ${REEXPORT}`,
      );
    }
    for (const output of node.output ?? []) if (output !== '') define(output, `an output of ${label}`);
    const key = domain === '' ? op : `${domain}:${op}`;
    summary.operators[key] = (summary.operators[key] ?? 0) + 1;
    summary.nodes++;
    for (const attribute of node.attribute ?? []) {
      const subgraphs = [...(attribute.g ? [attribute.g] : []), ...(attribute.graphs ?? [])];
      for (const subgraph of subgraphs) {
        walkGraph(
          subgraph,
          new Set([...outer, ...defined]),
          domains,
          summary,
          `subgraph '${attribute.name}' of ${label}`,
        );
      }
    }
  });
  for (const output of graph.output ?? []) {
    if (!visible(output.name ?? '')) {
      throw new InvalidModel(
        `${where}: output '${output.name}' is not computed by any node`,
        `the graph is broken; ${REEXPORT}`,
      );
    }
  }
}

function countTensor(tensor: onnx.ITensorProto, summary: OnnxSummary, where: string): void {
  const elements = (tensor.dims ?? []).reduce<number>((a, d) => a * int64(d), 1);
  summary.initializers++;
  summary.parameters += elements;
  if (tensor.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    summary.externalData = true;
    return;
  }
  const type = elementTypeName(tensor.dataType ?? 0);
  const width = type.startsWith('unknown') ? 0 : elementSize(type as ElementType);
  const raw = tensor.rawData?.length ?? 0;
  if (width > 0 && raw > 0 && raw !== elements * width) {
    throw new InvalidModel(
      `${where}: initializer '${tensor.name}' holds ${raw} bytes, but ${elements} ${type} values need ${elements * width}`,
      `the file is corrupt or truncated; ${REEXPORT} or download it again`,
    );
  }
}

function typeName(type: onnx.ITypeProto | null | undefined): string {
  if (!type) return 'unknown';
  if (type.tensorType) return elementTypeName(type.tensorType.elemType ?? 0);
  if (type.sparseTensorType) return `sparse(${elementTypeName(type.sparseTensorType.elemType ?? 0)})`;
  if (type.sequenceType) return `sequence(${typeName(type.sequenceType.elemType)})`;
  if (type.mapType)
    return `map(${elementTypeName(type.mapType.keyType ?? 0)},${typeName(type.mapType.valueType)})`;
  if (type.optionalType) return `optional(${typeName(type.optionalType.elemType)})`;
  return 'unknown';
}

/** A dimension is a oneof: decoded messages own only the field that was set. */
function dimSummary(dim: onnx.TensorShapeProto.IDimension): number | string | null {
  if (Object.hasOwn(dim, 'dimParam') && dim.dimParam) return dim.dimParam;
  if (Object.hasOwn(dim, 'dimValue')) return int64(dim.dimValue);
  return null;
}

function valueSummary(value: onnx.IValueInfoProto): OnnxValueSummary {
  const shape = value.type?.tensorType?.shape ?? value.type?.sparseTensorType?.shape;
  return {
    name: value.name ?? '',
    elemType: typeName(value.type),
    shape: shape ? (shape.dim ?? []).map(dimSummary) : null,
  };
}
