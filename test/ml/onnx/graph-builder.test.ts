/**
 * The ONNX graph builder: what it writes (attributes of every kind, little-endian tensors,
 * symbolic dimensions, metadata) runs in ONNX Runtime and passes the official checker; what
 * it refuses (duplicate names, undefined inputs, unproduced outputs) fails at the call.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { isLedgeError } from '../../../src/core/errors.js';
import {
  attr,
  irVersionForOpset,
  LEDGE_VERSION,
  MAX_KNOWN_OPSET,
  OnnxGraphBuilder,
} from '../../../src/ml/onnx/graph-builder.js';
import { inspectOnnx } from '../../../src/ml/onnx/inspect.js';
import { onnx } from '../../../src/ml/onnx/proto.js';
import { tempDir } from '../../helpers/temp-dir.js';
import { checkWithOfficialChecker } from './helpers.js';

/** x [batch, 2, 3] → Transpose(perm) → LeakyRelu(alpha) → + Constant(value_floats) → Flatten(axis); plus a string. */
function attributeModel(): Uint8Array {
  const g = new OnnxGraphBuilder('attributes', 'every attribute kind');
  g.addInput('x', 'float32', ['batch', 2, 3]);
  g.addNode('Transpose', ['x'], ['t'], { attributes: { perm: attr.ints([0, 2, 1]) } });
  g.addNode('LeakyRelu', ['t'], ['l'], { attributes: { alpha: attr.float(0.25) } });
  g.addNode('Constant', [], ['c'], { attributes: { value_floats: attr.floats([1, 2]) } });
  g.addNode('Add', ['l', 'c'], ['a']);
  g.addNode('Flatten', ['a'], ['y'], { attributes: { axis: attr.int(1) } });
  g.addNode('Constant', [], ['tag'], { name: 'tag', attributes: { value_string: attr.string('ledgé') } });
  g.addOutput('y', 'float32', ['batch', 6]);
  g.addOutput('tag', 'string', []);
  return g.serialize({
    opset: 17,
    docString: 'a test model',
    modelVersion: 3,
    metadata: { purpose: 'test', ünïcode: 'välue', empty: '' },
  });
}

function builderError(run: () => unknown, message: RegExp): void {
  assert.throws(
    run,
    (e: unknown) => isLedgeError(e, 'usage') && message.test(e.message) && !e.line.includes('\n'),
  );
}

describe('ONNX graph builder', () => {
  it('writes int, float, string, ints and floats attributes that ONNX Runtime runs', async () => {
    const session = await ort.InferenceSession.create(attributeModel());
    const x = Float32Array.from({ length: 12 }, (_, i) => i - 6); // two [2, 3] matrices
    const out = await session.run({ x: new ort.Tensor('float32', x, [2, 2, 3]) });
    await session.release();
    assert.deepEqual(out.y!.dims, [2, 6]);
    assert.deepEqual(out.tag!.data, ['ledgé']);
    const expected: number[] = [];
    for (let b = 0; b < 2; b++) {
      for (let j = 0; j < 3; j++) {
        for (let i = 0; i < 2; i++) {
          const v = x[b * 6 + i * 3 + j]!;
          expected.push((v < 0 ? v * 0.25 : v) + (i === 0 ? 1 : 2));
        }
      }
    }
    assert.deepEqual([...(out.y!.data as Float32Array)], expected);
  });

  it('passes the official ONNX checker with full_check=True', (t) => {
    checkWithOfficialChecker(tempDir(t), { 'attributes.onnx': attributeModel() });
  });

  it('records producer, IR version, doc string, model version and metadata', () => {
    const bytes = attributeModel();
    const model = onnx.ModelProto.decode(bytes);
    assert.equal(model.producerName, 'ledge');
    assert.equal(model.producerVersion, LEDGE_VERSION);
    assert.equal(Number(model.irVersion), 8);
    assert.equal(Number(model.modelVersion), 3);
    assert.equal(model.docString, 'a test model');
    assert.equal(model.graph?.docString, 'every attribute kind');
    const summary = inspectOnnx(bytes, 'attributes.onnx');
    assert.deepEqual(summary.metadata, { purpose: 'test', ünïcode: 'välue', empty: '' });
    assert.deepEqual(summary.inputs, [{ name: 'x', elemType: 'float32', shape: ['batch', 2, 3] }]);
    assert.deepEqual(summary.outputs, [
      { name: 'y', elemType: 'float32', shape: ['batch', 6] },
      { name: 'tag', elemType: 'string', shape: [] },
    ]);
    assert.deepEqual(summary.operators, { Transpose: 1, LeakyRelu: 1, Constant: 2, Add: 1, Flatten: 1 });
  });

  it('stores tensors as little-endian raw_data with their dims', () => {
    const g = new OnnxGraphBuilder('tensors');
    g.addInitializer('f', { type: 'float32', dims: [2], data: Float32Array.of(1, -2) });
    g.addInitializer('i8', { type: 'int8', dims: [3], data: Int8Array.of(-1, 0, 127) });
    g.addInitializer('i64', { type: 'int64', dims: [1, 1], data: BigInt64Array.of(258n) });
    g.addInitializer('scalar', { type: 'float32', dims: [], data: Float32Array.of(0.5) });
    g.addNode('Identity', ['f'], ['out']);
    g.addOutput('out', 'float32', [2]);
    const tensors = onnx.ModelProto.decode(g.serialize({ opset: 17 })).graph!.initializer ?? [];
    const raw = (name: string) => [...tensors.find((t) => t.name === name)!.rawData!];
    const dims = (name: string) => tensors.find((t) => t.name === name)!.dims!.map(Number);
    assert.deepEqual(raw('f'), [0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0]);
    assert.deepEqual(raw('i8'), [0xff, 0x00, 0x7f]);
    assert.deepEqual(raw('i64'), [0x02, 0x01, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(dims('i64'), [1, 1]);
    assert.deepEqual(dims('scalar'), []);
    assert.deepEqual(
      tensors.map((t) => t.dataType),
      [onnx.TensorProto.DataType.FLOAT, onnx.TensorProto.DataType.INT8, onnx.TensorProto.DataType.INT64, 1],
    );
  });

  it('picks the IR version of the ONNX release that introduced the opset', () => {
    assert.equal(irVersionForOpset(13), 7);
    assert.equal(irVersionForOpset(14), 7);
    assert.equal(irVersionForOpset(15), 8);
    assert.equal(irVersionForOpset(17), 8);
    assert.equal(irVersionForOpset(19), 9);
    assert.equal(irVersionForOpset(21), 10);
    assert.equal(irVersionForOpset(MAX_KNOWN_OPSET), 11);
    builderError(() => irVersionForOpset(MAX_KNOWN_OPSET + 1), /opset 24 is not supported/);
    builderError(() => irVersionForOpset(0), /opset 0/);
  });

  it('refuses broken graphs at the call that breaks them', () => {
    const base = () => {
      const g = new OnnxGraphBuilder('g');
      g.addInput('x', 'float32', ['n']);
      return g;
    };
    builderError(
      () => base().addInput('x', 'float32', [1]),
      /'x' is defined twice \(as input and as input\)/,
    );
    builderError(
      () => base().addInitializer('x', { type: 'float32', dims: [1], data: Float32Array.of(1) }),
      /'x' is defined twice/,
    );
    builderError(
      () => base().addNode('Relu', ['x'], ['x']),
      /'x' is defined twice \(as input and as node output\)/,
    );
    builderError(
      () => base().addNode('Relu', ['nope'], ['y']),
      /node 'Relu_0' \(Relu\) reads 'nope', which nothing defines/,
    );
    builderError(() => base().addNode('Relu', ['x'], []), /has no outputs/);
    builderError(() => base().addNode('Relu', ['x'], ['']), /empty name/);
    builderError(() => base().addInput('y', 'float32', [-1]), /invalid dimension -1/);
    builderError(() => base().addInput('y', 'float32', ['']), /invalid dimension ""/);
    builderError(
      () => base().addInitializer('w', { type: 'float32', dims: [2, 2], data: Float32Array.of(1) }),
      /has 1 elements but dims \[2,2\] hold 4/,
    );
    builderError(() => {
      const g = base();
      g.addNode('Relu', ['x'], ['y'], { name: 'r' });
      g.addNode('Relu', ['y'], ['z'], { name: 'r' });
    }, /two nodes are named 'r'/);
    builderError(() => {
      const g = base();
      g.addOutput('y', 'float32', ['n']);
      g.addOutput('y', 'float32', ['n']);
    }, /output 'y' is declared twice/);
    builderError(() => {
      const g = base();
      g.addOutput('y', 'float32', ['n']);
      g.serialize({ opset: 17 });
    }, /output 'y' is not produced by any node/);
    builderError(() => base().serialize({ opset: 17 }), /no outputs/);
    builderError(() => {
      const g = base();
      g.addNode('Gelu', ['x'], ['y'], { domain: 'com.microsoft' });
      g.addOutput('y', 'float32', ['n']);
      g.serialize({ opset: 17 });
    }, /domain 'com.microsoft', which has no opset import/);
  });

  it('allows skipped optional inputs and other domains when imported', async () => {
    const g = new OnnxGraphBuilder('optional');
    g.addInput('x', 'float32', ['n']);
    g.addInitializer('max', { type: 'float32', dims: [], data: Float32Array.of(1) });
    g.addNode('Clip', ['x', '', 'max'], ['y']);
    g.addNode('Gelu', ['y'], ['z'], { domain: 'com.microsoft' });
    g.addOutput('z', 'float32', ['n']);
    const bytes = g.serialize({ opset: 17, extraOpsets: [{ domain: 'com.microsoft', version: 1 }] });
    const session = await ort.InferenceSession.create(bytes);
    const out = await session.run({ x: new ort.Tensor('float32', Float32Array.of(-10, 5), [2]) });
    await session.release();
    assert.ok(Math.abs((out.z!.data as Float32Array)[1]! - 0.8413) < 1e-3); // gelu(min(5, 1))
    assert.deepEqual(inspectOnnx(bytes, 'optional.onnx').operators, { Clip: 1, 'com.microsoft:Gelu': 1 });
  });
});
