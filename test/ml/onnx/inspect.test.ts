/**
 * inspectOnnx: what it reports on ledge's own models and on a model another tool wrote (the
 * official `onnx` Python package), and the one-line error for each kind of file that is not a
 * valid ONNX model.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { isLedgeError } from '../../../src/core/errors.js';
import { OnnxGraphBuilder } from '../../../src/ml/onnx/graph-builder.js';
import { inspectOnnx, RUNTIME_LIMITS } from '../../../src/ml/onnx/inspect.js';
import { onnx } from '../../../src/ml/onnx/proto.js';
import { exportTextClassifier } from '../../../src/ml/onnx/text-classifier.js';
import { tempDir } from '../../helpers/temp-dir.js';
import { randomWeights, runPythonOnnx, seededRandom } from './helpers.js';

const BUCKETS = 1 << 12;
const weights = randomWeights(BUCKETS, 11);

/** A valid small model as a plain protobuf object, for tests to break one field at a time. */
function sigmoidModel(): onnx.IModelProto {
  const f = onnx.TensorProto.DataType.FLOAT;
  const vector = { tensorType: { elemType: f, shape: { dim: [{ dimParam: 'n' }] } } };
  return {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'hand',
    graph: {
      name: 'g',
      input: [{ name: 'x', type: vector }],
      node: [{ name: 'act', opType: 'Sigmoid', input: ['x'], output: ['y'] }],
      output: [{ name: 'y', type: vector }],
    },
  };
}

function encode(model: onnx.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}

function assertRefused(bytes: Uint8Array, reason: RegExp): string {
  let line = '';
  assert.throws(
    () => inspectOnnx(bytes, 'models/bad.onnx'),
    (e: unknown) => {
      assert.ok(isLedgeError(e, 'invalid-model'), String(e));
      line = e.line;
      return true;
    },
  );
  assert.match(line, /^'models\/bad\.onnx' is not a valid ONNX model: /);
  assert.match(line, reason);
  assert.ok(!line.includes('\n'), `one line: ${line}`);
  // The hint follows a semicolon, as LedgeError.line writes it.
  assert.match(line, /; \S/, `a hint after the reason: ${line}`);
  return line;
}

describe('inspectOnnx', () => {
  it('reports the exported text classifier: opset, signature, operators, parameters, metadata', () => {
    const bytes = exportTextClassifier({ weights, bias: 0.5, metadata: { 'ledge.labels': 'neg,pos' } });
    const summary = inspectOnnx(bytes, 'model.onnx');
    assert.equal(summary.irVersion, 8);
    assert.deepEqual(summary.opsetImports, [{ domain: '', version: 17 }]);
    assert.equal(summary.producer.name, 'ledge');
    assert.deepEqual(summary.inputs, [{ name: 'input_ids', elemType: 'int64', shape: ['batch', 'seq'] }]);
    assert.deepEqual(summary.outputs, [
      { name: 'logit', elemType: 'float32', shape: ['batch'] },
      { name: 'score', elemType: 'float32', shape: ['batch'] },
    ]);
    assert.deepEqual(summary.operators, { Gather: 1, ReduceSum: 1, Add: 1, Sigmoid: 1 });
    assert.equal(summary.initializers, 3); // weights, axes, bias
    assert.equal(summary.parameters, BUCKETS + 2);
    assert.equal(summary.sizeBytes, bytes.length);
    assert.equal(summary.externalData, false);
    assert.deepEqual(summary.metadata, {
      'ledge.model': 'linear-text-classifier',
      'ledge.buckets': String(BUCKETS),
      'ledge.quantization': 'none',
      'ledge.labels': 'neg,pos',
    });

    const int8 = inspectOnnx(exportTextClassifier({ weights, bias: 0.5, quantize: 'int8' }), 'int8.onnx');
    assert.deepEqual(int8.operators, { Gather: 1, DequantizeLinear: 1, ReduceSum: 1, Add: 1, Sigmoid: 1 });
    assert.equal(int8.metadata['ledge.quantization'], 'int8');
    assert.deepEqual(int8.inputs, summary.inputs);
  });

  it('agrees with ONNX Runtime on the signature', async () => {
    const session = await ort.InferenceSession.create(exportTextClassifier({ weights, bias: 0 }));
    assert.deepEqual(session.inputMetadata, [
      { name: 'input_ids', isTensor: true, type: 'int64', shape: ['batch', 'seq'] },
    ]);
    assert.deepEqual(
      session.outputMetadata.map((m) => m.name),
      ['logit', 'score'],
    );
    await session.release();
  });

  it('reads a model written by the official onnx package (IR 3 inputs, an If subgraph, unknown dims)', (t) => {
    const file = path.join(tempDir(t), 'foreign.onnx');
    const script = `
import sys, onnx
from onnx import helper, TensorProto as T
w = helper.make_tensor('w', T.FLOAT, [2, 3], [1, 2, 3, 4, 5, 6])
then_g = helper.make_graph([helper.make_node('Relu', ['x'], ['r'])], 'then', [], [helper.make_tensor_value_info('r', T.FLOAT, None)])
else_g = helper.make_graph([helper.make_node('Neg', ['x'], ['e'])], 'else', [], [helper.make_tensor_value_info('e', T.FLOAT, None)])
nodes = [
    helper.make_node('MatMul', ['x', 'w'], ['m']),
    helper.make_node('ReduceMax', ['m'], ['mx'], keepdims=0),
    helper.make_node('Cast', ['mx'], ['c'], to=T.BOOL),
    helper.make_node('If', ['c'], ['out'], then_branch=then_g, else_branch=else_g),
]
g = helper.make_graph(nodes, 'foreign',
    [helper.make_tensor_value_info('x', T.FLOAT, ['batch', 2]), helper.make_tensor_value_info('w', T.FLOAT, [2, 3])],
    [helper.make_tensor_value_info('out', T.FLOAT, None)], [w])
m = helper.make_model(g, producer_name='onnx-helper', opset_imports=[helper.make_opsetid('', 11)])
m.ir_version = 6
onnx.helper.set_model_props(m, {'author': 'test'})
onnx.save(m, sys.argv[1])
`;
    const { status, output } = runPythonOnnx(script, [file]);
    assert.equal(status, 0, output);
    const summary = inspectOnnx(fs.readFileSync(file), 'foreign.onnx');
    assert.equal(summary.irVersion, 6);
    assert.deepEqual(summary.producer.name, 'onnx-helper');
    assert.deepEqual(summary.opsetImports, [{ domain: '', version: 11 }]);
    assert.deepEqual(summary.inputs, [{ name: 'x', elemType: 'float32', shape: ['batch', 2] }]);
    assert.deepEqual(summary.outputs, [{ name: 'out', elemType: 'float32', shape: null }]);
    assert.deepEqual(summary.operators, { MatMul: 1, ReduceMax: 1, Cast: 1, If: 1, Relu: 1, Neg: 1 });
    assert.equal(summary.nodes, 6);
    assert.equal(summary.parameters, 6);
    assert.deepEqual(summary.metadata, { author: 'test' });
  });

  it('reports unknown dimensions, non-tensor types and external data', () => {
    const model = sigmoidModel();
    const f = onnx.TensorProto.DataType.FLOAT;
    model.graph!.input = [
      {
        name: 'x',
        type: { tensorType: { elemType: f, shape: { dim: [{ dimValue: 4 }, {}, { dimParam: 'n' }] } } },
      },
      {
        name: 's',
        type: { sequenceType: { elemType: { tensorType: { elemType: onnx.TensorProto.DataType.INT64 } } } },
      },
    ];
    model.graph!.initializer = [
      {
        name: 'big',
        dataType: f,
        dims: [1000, 1000],
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [{ key: 'location', value: 'weights.bin' }],
      },
    ];
    const summary = inspectOnnx(encode(model), 'm.onnx');
    assert.deepEqual(summary.inputs, [
      { name: 'x', elemType: 'float32', shape: [4, null, 'n'] },
      { name: 's', elemType: 'sequence(int64)', shape: null },
    ]);
    assert.equal(summary.externalData, true);
    assert.equal(summary.parameters, 1_000_000);
  });

  describe('refuses what is not a valid ONNX model, in one line naming the file', () => {
    const good = exportTextClassifier({ weights, bias: 0 });

    it('an empty file', () => {
      assertRefused(new Uint8Array(0), /the file is empty/);
    });

    it('random bytes', () => {
      const random = seededRandom(5);
      for (let seed = 0; seed < 20; seed++) {
        const bytes = Uint8Array.from({ length: 200 + seed * 100 }, () => Math.floor(random() * 256));
        assertRefused(
          bytes,
          /does not parse as an ONNX protobuf|holds no ONNX model fields|has no graph|IR version/,
        );
      }
    });

    it('a truncated file, cut anywhere before the end of the graph, read as a Buffer or not', () => {
      for (const fraction of [0.999, 0.5, 0.01]) {
        assertRefused(
          good.subarray(0, Math.floor(good.length * fraction)),
          /does not parse as an ONNX protobuf \(/,
        );
      }
      // The graph is the last field before opset imports and metadata, so every shorter prefix
      // is broken: cut inside a field (header strings included), or missing the graph.
      const graphEnd = good.length - 200;
      const file = Buffer.from(good);
      for (let length = 1; length < graphEnd; length += length < 400 ? 1 : 9973) {
        assertRefused(file.subarray(0, length), /does not parse as an ONNX protobuf \(|it has no graph/);
        assertRefused(good.subarray(0, length), /does not parse as an ONNX protobuf \(|it has no graph/);
      }
    });

    it('text files', () => {
      const texts = [
        '{"model": "not really"}\n',
        'version https://git-lfs.github.com/spec/v1\noid sha256:4d7a…\nsize 16777216\n',
        'ir_version: 8\ngraph { node { op_type: "Relu" } }\n',
        'Ünïcödé text, ☃\n'.repeat(200),
      ];
      for (const text of texts) assertRefused(new TextEncoder().encode(text), /it is a text file/);
    });

    it('a protobuf without a graph', () => {
      const model = sigmoidModel();
      delete model.graph;
      assertRefused(encode(model), /it has no graph/);
      assertRefused(encode({ producerName: 'x' }), /no ONNX model fields/);
    });

    it('a node reading an undefined value, or one computed after it', () => {
      const model = sigmoidModel();
      model.graph!.node![0]!.input = ['nope'];
      assertRefused(
        encode(model),
        /node 'act' \(Sigmoid\) reads 'nope', which is not an input, an initializer/,
      );
      const unsorted = sigmoidModel();
      unsorted.graph!.node = [
        { name: 'second', opType: 'Sigmoid', input: ['mid'], output: ['y'] },
        { name: 'first', opType: 'Relu', input: ['x'], output: ['mid'] },
      ];
      assertRefused(
        encode(unsorted),
        /reads 'mid' before the node that computes it \(nodes are not in topological order\)/,
      );
    });

    it('an output nothing computes, a value defined twice, a node without an operator', () => {
      const orphan = sigmoidModel();
      orphan.graph!.output![0]!.name = 'z';
      assertRefused(encode(orphan), /output 'z' is not computed by any node/);
      const twice = sigmoidModel();
      twice.graph!.node!.push({ name: 'again', opType: 'Relu', input: ['x'], output: ['y'] });
      assertRefused(encode(twice), /defines 'y' twice/);
      const noOp = sigmoidModel();
      noOp.graph!.node![0]!.opType = '';
      assertRefused(encode(noOp), /has no operator type/);
    });

    it('a missing or unsupported opset, an unsupported IR version', () => {
      const missing = sigmoidModel();
      missing.opsetImport = [];
      assertRefused(encode(missing), /no opset import for the standard ai\.onnx domain/);
      const otherDomain = sigmoidModel();
      otherDomain.graph!.node![0]!.domain = 'com.example';
      assertRefused(encode(otherDomain), /uses domain 'com\.example', which has no opset import/);
      for (const version of [5, RUNTIME_LIMITS.maxOpset + 1]) {
        const model = sigmoidModel();
        model.opsetImport = [{ domain: '', version }];
        assertRefused(encode(model), new RegExp(`opset ${version} is not supported`));
      }
      for (const irVersion of [0, 2, RUNTIME_LIMITS.maxIrVersion + 1]) {
        const model = sigmoidModel();
        model.irVersion = irVersion;
        assertRefused(
          encode(model),
          irVersion === 0 ? /has no IR version/ : /IR version \d+ is not supported/,
        );
      }
    });

    it('an initializer whose bytes do not match its shape', () => {
      const model = sigmoidModel();
      model.graph!.initializer = [
        { name: 'w', dataType: onnx.TensorProto.DataType.FLOAT, dims: [4], rawData: new Uint8Array(12) },
      ];
      assertRefused(encode(model), /initializer 'w' holds 12 bytes, but 4 float32 values need 16/);
    });
  });

  it('RUNTIME_LIMITS match the installed ONNX Runtime', async () => {
    const load = async (opset: number, irVersion: number): Promise<boolean> => {
      const g = new OnnxGraphBuilder('limits');
      g.addInput('x', 'float32', ['n']);
      g.addNode('Sigmoid', ['x'], ['y']);
      g.addOutput('y', 'float32', ['n']);
      try {
        const session = await ort.InferenceSession.create(g.serialize({ opset, irVersion }));
        await session.release();
        return true;
      } catch {
        return false;
      }
    };
    const { maxOpset, maxIrVersion } = RUNTIME_LIMITS;
    const hint = 'onnxruntime-node changed: update RUNTIME_LIMITS in src/ml/onnx/inspect.ts';
    assert.ok(await load(maxOpset, maxIrVersion), hint);
    assert.ok(!(await load(maxOpset + 1, maxIrVersion)), hint);
    assert.ok(!(await load(17, maxIrVersion + 1)), hint);
  });
});
