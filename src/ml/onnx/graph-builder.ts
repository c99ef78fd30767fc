/**
 * A small, typed builder of ONNX models: initializers, inputs and outputs (with symbolic
 * dimensions such as `batch`), nodes with attributes, opset imports and model metadata,
 * serialized to the bytes of a `.onnx` file. It checks what the ONNX checker would reject
 * early, where the mistake is still easy to find: duplicate names, a node input nothing
 * defines (nodes are added in topological order), an output nothing produces.
 *
 *     const g = new OnnxGraphBuilder('classifier');
 *     g.addInput('x', 'float32', ['batch', 4]);
 *     g.addInitializer('w', { type: 'float32', dims: [4], data: weights });
 *     g.addNode('Mul', ['x', 'w'], ['y']);
 *     g.addOutput('y', 'float32', ['batch', 4]);
 *     const bytes = g.serialize({ opset: 17 });
 */
import { LedgeError } from '../../core/errors.js';
import { VERSION } from '../../core/version.js';
import { type ElementType, elementTypeCode, littleEndianBytes, onnx } from './proto.js';

/** A dimension: a fixed size, or a name (`dim_param`) for one chosen at run time. */
export type Dim = number | string;

/** An initializer's value; `data.length` must equal the product of `dims`. */
export type TensorData =
  | { type: 'float32'; dims: number[]; data: Float32Array }
  | { type: 'int8'; dims: number[]; data: Int8Array }
  | { type: 'uint8'; dims: number[]; data: Uint8Array }
  | { type: 'int64'; dims: number[]; data: BigInt64Array };

export type Attribute =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'ints'; value: number[] }
  | { kind: 'floats'; value: number[] };

/** Attribute constructors: a JS number alone does not say whether ONNX gets an int or a float. */
export const attr = {
  int: (value: number): Attribute => ({ kind: 'int', value }),
  float: (value: number): Attribute => ({ kind: 'float', value }),
  string: (value: string): Attribute => ({ kind: 'string', value }),
  ints: (value: number[]): Attribute => ({ kind: 'ints', value }),
  floats: (value: number[]): Attribute => ({ kind: 'floats', value }),
};

export interface NodeOptions {
  /** Unique node name; `<OpType>_<index>` when omitted. */
  name?: string;
  /** Operator domain; '' (the default) is the standard `ai.onnx` domain. */
  domain?: string;
  attributes?: Record<string, Attribute>;
  docString?: string;
}

export interface OpsetImport {
  /** '' for the standard `ai.onnx` operators. */
  domain: string;
  version: number;
}

export interface ModelOptions {
  /** Version of the standard `ai.onnx` operator set. */
  opset: number;
  /** Imports of other operator domains (`com.microsoft`, `ai.onnx.ml`, …). */
  extraOpsets?: OpsetImport[];
  /** Defaults to the IR version of the ONNX release that introduced `opset`. */
  irVersion?: number;
  producerName?: string;
  producerVersion?: string;
  modelVersion?: number;
  docString?: string;
  /** `metadata_props`: free-form string pairs stored in the model. */
  metadata?: Record<string, string>;
}

/** The IR version each ONNX release shipped with its new opset (onnx/helper.py VERSION_TABLE). */
const IR_VERSION_BY_OPSET: Array<[maxOpset: number, irVersion: number]> = [
  [8, 3],
  [9, 4],
  [10, 5],
  [11, 6],
  [14, 7],
  [18, 8],
  [20, 9],
  [22, 10],
  [23, 11],
];

export const MAX_KNOWN_OPSET = IR_VERSION_BY_OPSET.at(-1)![0];

/** The lowest IR version that may carry `opset`: 13 → 7, 17 → 8, 21 → 10. */
export function irVersionForOpset(opset: number): number {
  if (!Number.isInteger(opset) || opset < 1 || opset > MAX_KNOWN_OPSET) {
    throw new LedgeError('usage', `ONNX opset ${opset} is not supported`, {
      hint: `use an opset from 1 to ${MAX_KNOWN_OPSET}`,
    });
  }
  return IR_VERSION_BY_OPSET.find(([maxOpset]) => opset <= maxOpset)![1];
}

/** ledge's own version, for `producer_version`. */
export const LEDGE_VERSION = VERSION;

interface Value {
  name: string;
  elemType: ElementType;
  shape: Dim[];
}

function graphError(graph: string, message: string, hint: string): LedgeError {
  return new LedgeError('usage', `ONNX graph '${graph}': ${message}`, { hint });
}

function valueInfo(value: Value): onnx.IValueInfoProto {
  return {
    name: value.name,
    type: {
      tensorType: {
        elemType: elementTypeCode(value.elemType),
        shape: { dim: value.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attributeProto(name: string, a: Attribute): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.kind) {
    case 'int':
      return { name, type: T.INT, i: a.value };
    case 'float':
      return { name, type: T.FLOAT, f: a.value };
    case 'string':
      return { name, type: T.STRING, s: new TextEncoder().encode(a.value) };
    case 'ints':
      return { name, type: T.INTS, ints: a.value };
    case 'floats':
      return { name, type: T.FLOATS, floats: a.value };
  }
}

export class OnnxGraphBuilder {
  private readonly values = new Map<string, 'input' | 'initializer' | 'node output'>();
  private readonly nodeNames = new Set<string>();
  private readonly inputs: Value[] = [];
  private readonly outputs: Value[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly nodes: onnx.INodeProto[] = [];

  constructor(
    readonly name: string,
    private readonly docString = '',
  ) {}

  /** Declares a graph input; returns its name. */
  addInput(name: string, elemType: ElementType, shape: Dim[]): string {
    this.checkShape(name, shape);
    this.define(name, 'input');
    this.inputs.push({ name, elemType, shape });
    return name;
  }

  /** Declares a graph output: a value a node produces (or an input or initializer). */
  addOutput(name: string, elemType: ElementType, shape: Dim[]): void {
    this.checkShape(name, shape);
    if (this.outputs.some((o) => o.name === name)) {
      throw graphError(this.name, `output '${name}' is declared twice`, 'declare each output once');
    }
    this.outputs.push({ name, elemType, shape });
  }

  /** Adds a constant tensor (weights), stored as little-endian `raw_data`; returns its name. */
  addInitializer(name: string, tensor: TensorData): string {
    this.checkShape(name, tensor.dims);
    const elements = tensor.dims.reduce((a, b) => a * b, 1);
    if (tensor.data.length !== elements) {
      throw graphError(
        this.name,
        `initializer '${name}' has ${tensor.data.length} elements but dims [${tensor.dims}] hold ${elements}`,
        'make the data length the product of the dims',
      );
    }
    this.define(name, 'initializer');
    this.initializers.push({
      name,
      dataType: elementTypeCode(tensor.type),
      dims: tensor.dims,
      rawData: littleEndianBytes(tensor.data),
    });
    return name;
  }

  /**
   * Adds a node. Its inputs must already be defined (an input, an initializer or an earlier
   * node's output), so nodes come in topological order as ONNX requires; '' skips an optional
   * input.
   */
  addNode(opType: string, inputs: string[], outputs: string[], options: NodeOptions = {}): void {
    const name = options.name ?? `${opType}_${this.nodes.length}`;
    if (this.nodeNames.has(name)) {
      throw graphError(this.name, `two nodes are named '${name}'`, 'give each node a unique name');
    }
    for (const input of inputs) {
      if (input !== '' && !this.values.has(input)) {
        throw graphError(
          this.name,
          `node '${name}' (${opType}) reads '${input}', which nothing defines before it`,
          'add the input, initializer or producing node first',
        );
      }
    }
    if (outputs.length === 0) {
      throw graphError(this.name, `node '${name}' (${opType}) has no outputs`, 'name at least one output');
    }
    for (const output of outputs) this.define(output, 'node output');
    this.nodeNames.add(name);
    this.nodes.push({
      name,
      opType,
      domain: options.domain ?? '',
      input: inputs,
      output: outputs,
      attribute: Object.entries(options.attributes ?? {}).map(([key, value]) => attributeProto(key, value)),
      ...(options.docString ? { docString: options.docString } : {}),
    });
  }

  /** The model as a protobuf message (plain object), checked for completeness. */
  toModelProto(options: ModelOptions): onnx.IModelProto {
    if (this.outputs.length === 0) {
      throw graphError(this.name, 'the graph has no outputs', 'declare at least one output with addOutput');
    }
    for (const output of this.outputs) {
      if (!this.values.has(output.name)) {
        throw graphError(
          this.name,
          `output '${output.name}' is not produced by any node`,
          'add the node that computes it, or fix the output name',
        );
      }
    }
    const opsets: OpsetImport[] = [{ domain: '', version: options.opset }, ...(options.extraOpsets ?? [])];
    const irVersion = options.irVersion ?? irVersionForOpset(options.opset);
    for (const node of this.nodes) {
      if (!opsets.some((o) => o.domain === node.domain)) {
        throw graphError(
          this.name,
          `node '${node.name}' uses domain '${node.domain}', which has no opset import`,
          'add it to extraOpsets',
        );
      }
    }
    return {
      irVersion,
      opsetImport: opsets,
      producerName: options.producerName ?? 'ledge',
      producerVersion: options.producerVersion ?? LEDGE_VERSION,
      ...(options.modelVersion === undefined ? {} : { modelVersion: options.modelVersion }),
      docString: options.docString ?? '',
      metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: {
        name: this.name,
        docString: this.docString,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs.map(valueInfo),
        output: this.outputs.map(valueInfo),
      },
    };
  }

  /** The `.onnx` file's bytes. */
  serialize(options: ModelOptions): Uint8Array {
    const bytes = onnx.ModelProto.encode(this.toModelProto(options)).finish();
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private define(name: string, kind: 'input' | 'initializer' | 'node output'): void {
    if (name === '') {
      throw graphError(this.name, `a ${kind} has an empty name`, 'name every value');
    }
    const existing = this.values.get(name);
    if (existing) {
      throw graphError(
        this.name,
        `'${name}' is defined twice (as ${existing} and as ${kind})`,
        'every value name must be unique in the graph',
      );
    }
    this.values.set(name, kind);
  }

  private checkShape(name: string, shape: Dim[]): void {
    for (const d of shape) {
      if (typeof d === 'number' ? !Number.isSafeInteger(d) || d < 0 : d === '') {
        throw graphError(
          this.name,
          `'${name}' has an invalid dimension ${JSON.stringify(d)}`,
          'use non-negative integers or non-empty names',
        );
      }
    }
  }
}
