/**
 * Open Inference Protocol (KServe V2) inference requests, checked against what a ledge text
 * classifier takes: the ONNX input `input_ids` (INT64 `[batch, seq]`, 0 = padding, ids in
 * `[0, buckets)`), or a `text` input (BYTES `[batch]`) that the server preprocesses; outputs
 * `score` and `logit` (FP32 `[batch]`). Tensor data may be flat or nested (row-major); its
 * length must equal the product of the shape. Every violation is a 400 (413 for too many
 * instances) with a message naming the tensor and what is wrong.
 */
import { badRequest, tooManyInstances } from './http-errors.js';

/** The protocol's tensor datatypes. */
export const DATATYPES: ReadonlySet<string> = new Set([
  'BOOL',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'FP16',
  'FP32',
  'FP64',
  'BYTES',
]);

/** The name of the text input the server adds to the model's own tensors. */
export const TEXT_INPUT = 'text';

export type Parameters = Record<string, string | number | boolean>;

export interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

/** What a model's tensors are called and how large its id space is. */
export interface TensorSignature {
  input: string;
  outputs: readonly string[];
  buckets: number;
}

export type InferInput = { kind: 'ids'; rows: Int32Array[] } | { kind: 'text'; texts: string[] };

export interface InferRequest {
  id: string | undefined;
  parameters: Parameters | undefined;
  input: InferInput;
  /** Outputs to return, in order. */
  outputs: string[];
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `$parameters`: an object whose values are strings, numbers or booleans. */
export function parseParameters(value: unknown, where: string): Parameters | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) throw badRequest(`${where}: parameters must be an object`);
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string' && typeof v !== 'boolean' && !(typeof v === 'number' && Number.isFinite(v))) {
      throw badRequest(`${where}: parameter '${key}' must be a string, a number or a boolean`);
    }
  }
  return value as Parameters;
}

function parseShape(value: unknown, where: string): number[] {
  if (!Array.isArray(value)) throw badRequest(`${where}: shape must be an array of non-negative integers`);
  for (const d of value) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0)
      throw badRequest(`${where}: shape must be an array of non-negative integers, not ${preview(value)}`);
  }
  return value as number[];
}

function elementCount(shape: number[], where: string): number {
  let count = 1;
  for (const d of shape) {
    count *= d;
    if (count > Number.MAX_SAFE_INTEGER) throw badRequest(`${where}: shape ${preview(shape)} is too large`);
  }
  return count;
}

/** Tensor data, flat or nested no deeper than the tensor's rank, as one flat array. */
function flatten(data: unknown, rank: number, where: string): unknown[] {
  if (!Array.isArray(data)) throw badRequest(`${where}: data must be an array`);
  let nested = false;
  for (const element of data) {
    if (Array.isArray(element)) {
      nested = true;
      break;
    }
  }
  if (!nested) return data;
  const flat: unknown[] = [];
  const walk = (array: unknown[], depth: number) => {
    for (const element of array) {
      if (!Array.isArray(element)) flat.push(element);
      else if (depth >= rank)
        throw badRequest(`${where}: data is nested deeper than its shape (rank ${rank})`);
      else walk(element, depth + 1);
    }
  };
  walk(data, 1);
  return flat;
}

function preview(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

function checkBatch(batch: number, where: string, maxInstances: number): void {
  if (batch === 0) throw badRequest(`${where}: the batch is empty (shape[0] is 0)`);
  if (batch > maxInstances) throw tooManyInstances(batch, maxInstances);
}

function parseIds(
  input: Record<string, unknown>,
  shape: number[],
  signature: TensorSignature,
  maxInstances: number,
): InferInput {
  const where = `input '${signature.input}'`;
  if (input.datatype !== 'INT64' && input.datatype !== 'INT32')
    throw badRequest(`${where}: datatype must be INT64, not ${input.datatype}`);
  if (shape.length !== 2) throw badRequest(`${where}: shape must be [batch, seq], not ${preview(shape)}`);
  const [batch, seq] = shape as [number, number];
  checkBatch(batch, where, maxInstances);
  const count = elementCount(shape, where);
  const data = flatten(input.data, 2, where);
  if (data.length !== count)
    throw badRequest(
      `${where}: data holds ${data.length} values, but shape ${preview(shape)} needs ${count}`,
    );
  const rows: Int32Array[] = new Array(batch);
  for (let row = 0; row < batch; row++) {
    let nonZero = 0;
    for (let i = row * seq; i < (row + 1) * seq; i++) {
      const id = data[i];
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= signature.buckets) {
        throw badRequest(
          `${where}: value ${preview(id)} at [${row}, ${i - row * seq}] is not an id in [0, ${signature.buckets})`,
        );
      }
      if (id !== 0) nonZero++;
    }
    const ids = new Int32Array(nonZero);
    let k = 0;
    for (let i = row * seq; i < (row + 1) * seq; i++) {
      const id = data[i] as number;
      if (id !== 0) ids[k++] = id;
    }
    rows[row] = ids;
  }
  return { kind: 'ids', rows };
}

function parseTexts(input: Record<string, unknown>, shape: number[], maxInstances: number): InferInput {
  const where = `input '${TEXT_INPUT}'`;
  if (input.datatype !== 'BYTES') throw badRequest(`${where}: datatype must be BYTES, not ${input.datatype}`);
  if (shape.length !== 1 && !(shape.length === 2 && shape[1] === 1))
    throw badRequest(`${where}: shape must be [batch] (or [batch, 1]), not ${preview(shape)}`);
  const batch = shape[0]!;
  checkBatch(batch, where, maxInstances);
  const data = flatten(input.data, shape.length, where);
  if (data.length !== batch)
    throw badRequest(
      `${where}: data holds ${data.length} values, but shape ${preview(shape)} needs ${batch}`,
    );
  for (let i = 0; i < data.length; i++) {
    const text = data[i];
    if (typeof text !== 'string')
      throw badRequest(`${where}: element ${i} is ${preview(text)}, not a string`);
    if (text.trim() === '') throw badRequest(`${where}: element ${i} is empty`);
  }
  return { kind: 'text', texts: data as string[] };
}

/** Checks an inference request body against the model's signature. */
export function parseInferRequest(
  body: unknown,
  signature: TensorSignature,
  maxInstances: number,
): InferRequest {
  if (!isObject(body)) throw badRequest('expected an inference request object: {"inputs": [...]}');
  const { id, parameters, inputs, outputs } = body;
  if (id !== undefined && typeof id !== 'string') throw badRequest('id must be a string');
  const requestParameters = parseParameters(parameters, 'request');
  if (!Array.isArray(inputs) || inputs.length === 0)
    throw badRequest('inputs must be a non-empty array of tensors {name, shape, datatype, data}');
  const expected = `'${signature.input}' (INT64 [batch, seq]) or '${TEXT_INPUT}' (BYTES [batch])`;
  let chosen: { input: Record<string, unknown>; shape: number[]; name: string } | undefined;
  for (const [index, input] of inputs.entries()) {
    if (!isObject(input))
      throw badRequest(`inputs[${index}] must be an object {name, shape, datatype, data}`);
    const { name, datatype } = input;
    if (typeof name !== 'string') throw badRequest(`inputs[${index}]: name must be a string`);
    const where = `input '${name}'`;
    if (name !== signature.input && name !== TEXT_INPUT)
      throw badRequest(`unknown input '${name}'; this model takes ${expected}`);
    if (typeof datatype !== 'string' || !DATATYPES.has(datatype))
      throw badRequest(`${where}: datatype must be one of ${[...DATATYPES].join(', ')}`);
    const shape = parseShape(input.shape, where);
    parseParameters(input.parameters, where);
    if (input.data === undefined) throw badRequest(`${where}: data is missing`);
    if (chosen) {
      throw badRequest(
        chosen.name === name ? `input '${name}' is given twice` : `give one input, ${expected}, not both`,
      );
    }
    chosen = { input, shape, name };
  }
  const { input, shape, name } = chosen!;
  const parsed =
    name === TEXT_INPUT
      ? parseTexts(input, shape, maxInstances)
      : parseIds(input, shape, signature, maxInstances);
  return {
    id,
    parameters: requestParameters,
    input: parsed,
    outputs: parseOutputs(outputs, signature.outputs),
  };
}

function parseOutputs(value: unknown, known: readonly string[]): string[] {
  if (value === undefined || (Array.isArray(value) && value.length === 0)) return [...known];
  if (!Array.isArray(value)) throw badRequest('outputs must be an array of {name}');
  const names: string[] = [];
  for (const [index, output] of value.entries()) {
    if (!isObject(output) || typeof output.name !== 'string')
      throw badRequest(`outputs[${index}] must be an object {name}`);
    if (!known.includes(output.name))
      throw badRequest(
        `unknown output '${output.name}'; this model has ${known.map((n) => `'${n}'`).join(', ')}`,
      );
    if (names.includes(output.name)) throw badRequest(`output '${output.name}' is requested twice`);
    parseParameters(output.parameters, `output '${output.name}'`);
    names.push(output.name);
  }
  return names;
}
