/**
 * The ONNX protobuf schema (onnx-proto: protobufjs classes generated from onnx.proto of ONNX
 * 1.10, IR version 8), and the small conversions every user of it needs: element type names,
 * int64 fields (decoded as `Long` objects) to numbers, typed arrays to little-endian bytes.
 */
import os from 'node:os';
import onnxProto from 'onnx-proto';

// onnx-proto is a CommonJS module: under ESM its namespace arrives as the default export. The
// alias carries both the classes (values) and their interfaces (types).
export import onnx = onnxProto.onnx;

/** Tensor element types by their `TensorProto.DataType` number (onnx.proto, up to IR 11). */
const ELEMENT_TYPES = [
  'undefined',
  'float32',
  'uint8',
  'int8',
  'uint16',
  'int16',
  'int32',
  'int64',
  'string',
  'bool',
  'float16',
  'float64',
  'uint32',
  'uint64',
  'complex64',
  'complex128',
  'bfloat16',
  'float8e4m3fn',
  'float8e4m3fnuz',
  'float8e5m2',
  'float8e5m2fnuz',
  'uint4',
  'int4',
  'float4e2m1',
] as const;

export type ElementType = Exclude<(typeof ELEMENT_TYPES)[number], 'undefined'>;

/** 'float32' for 1 (FLOAT), …; 'unknown(99)' for a number this list does not know. */
export function elementTypeName(code: number): ElementType | `unknown(${number})` {
  const name = ELEMENT_TYPES[code];
  return name === undefined || name === 'undefined' ? `unknown(${code})` : name;
}

export function elementTypeCode(type: ElementType): number {
  return ELEMENT_TYPES.indexOf(type);
}

/** Bytes per element of the fixed-size types (0 for strings and sub-byte types). */
export function elementSize(type: ElementType): number {
  switch (type) {
    case 'complex128':
      return 16;
    case 'float64':
    case 'int64':
    case 'uint64':
    case 'complex64':
      return 8;
    case 'float32':
    case 'int32':
    case 'uint32':
      return 4;
    case 'float16':
    case 'bfloat16':
    case 'int16':
    case 'uint16':
      return 2;
    case 'string':
    case 'uint4':
    case 'int4':
    case 'float4e2m1':
      return 0;
    default:
      return 1;
  }
}

/** A protobuf int64 as decoded by protobufjs: a number, or a `Long` when long.js is present. */
export type Int64Field = number | { toNumber(): number } | null | undefined;

/** An int64 field as a number (0 when unset); exact up to 2^53. */
export function int64(value: Int64Field): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'number' ? value : value.toNumber();
}

const BIG_ENDIAN = os.endianness() === 'BE';

/**
 * The bytes of a typed array in little-endian order, as `TensorProto.raw_data` stores them:
 * a view on little-endian hosts, a byte-swapped copy on big-endian ones.
 */
export function littleEndianBytes(data: Float32Array | Int8Array | Uint8Array | BigInt64Array): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (!BIG_ENDIAN || data.BYTES_PER_ELEMENT === 1) return bytes;
  const swapped = new Uint8Array(bytes.length);
  const width = data.BYTES_PER_ELEMENT;
  for (let i = 0; i < bytes.length; i += width) {
    for (let b = 0; b < width; b++) swapped[i + b] = bytes[i + width - 1 - b]!;
  }
  return swapped;
}
