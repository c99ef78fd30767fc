import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isLedgeError } from '../../src/core/errors.js';
import { parsePipeline, pipelineJsonSchema } from '../../src/pipeline/pipeline-file.js';
import { buildStageGraph, selectStages } from '../../src/pipeline/stage-graph.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

const PIPELINE = `stages:
  prepare:
    cmd: node prepare.js
    deps: [data/raw, prepare.js]
    params: [prepare.seed]
    outs: [data/prepared]
  train:
    cmd: [node train.js, echo done]
    wdir: src
    deps: [../data/prepared/train]
    params: [train.epochs, {../other.yaml: [lr]}]
    outs: [../model]
    metrics: [../metrics/train.json]
    env: {THREADS: "1"}
  evaluate:
    cmd: node eval.js
    deps: [model/model.onnx, data/prepared]
    metrics: [metrics/eval.json]
  lint:
    cmd: 'true'
`;

function failsWith(text: string, pattern: RegExp): void {
  assert.throws(
    () => buildStageGraph(parsePipeline(text, 'ledge.yaml')),
    (error) => isLedgeError(error) && pattern.test(error.message),
  );
}

describe('ledge.yaml', () => {
  it('resolves stage paths against wdir and orders stages by their data', () => {
    const pipeline = parsePipeline(PIPELINE, 'ledge.yaml');
    const train = pipeline.stages.find((s) => s.name === 'train')!;
    assert.deepEqual(train.commands, ['node train.js', 'echo done']);
    assert.equal(train.wdir, 'src');
    assert.deepEqual(train.deps, ['data/prepared/train']);
    assert.deepEqual(train.outs, ['model']);
    assert.deepEqual(
      [...train.params],
      [
        ['src/params.yaml', ['train.epochs']],
        ['other.yaml', ['lr']],
      ],
    );
    const graph = buildStageGraph(pipeline);
    assert.deepEqual([...graph.needs.get('evaluate')!].sort(), ['prepare', 'train']);
    assert.deepEqual([...graph.needs.get('train')!], ['prepare']);
    assert.ok(graph.order.indexOf('prepare') < graph.order.indexOf('train'));
    assert.ok(graph.order.indexOf('train') < graph.order.indexOf('evaluate'));
    assert.deepEqual(selectStages(graph, ['train']), ['prepare', 'train']);
    assert.throws(() => selectStages(graph, ['nope']), /no stage named 'nope'/);
  });

  it('names file, line and key for malformed YAML, unknown keys and wrong types', () => {
    failsWith('stages:\n  a:\n    cmd: "unterminated\n', /^ledge\.yaml:\d+: invalid YAML/);
    failsWith('stages:\n  a:\n    cmd: true\n', /^ledge\.yaml:3: stages\.a\.cmd: must be a shell command/);
    failsWith('stages:\n  a:\n    cmd: x\n    outz: [y]\n', /^ledge\.yaml:4: stages\.a: unknown key 'outz'/);
    failsWith('stages:\n  a:\n    cmd: x\n    deps: 3\n', /^ledge\.yaml:4: stages\.a\.deps: /);
    failsWith('stages:\n  a:\n    deps: [x]\n', /^ledge\.yaml:3: stages\.a\.cmd: must be a shell command/);
    failsWith('stages:\n  a:\n    cmd: x\n    outs: [/abs]\n', /stages\.a\.outs\.0: must be a path relative/);
    failsWith('stages:\n  a:\n    cmd: x\n    outs: [../../up]\n', /outside the workspace/);
  });

  it('rejects cycles and two stages writing one path', () => {
    failsWith(
      'stages:\n  a:\n    cmd: x\n    deps: [b.out]\n    outs: [a.out]\n  b:\n    cmd: x\n    deps: [a.out]\n    outs: [b.out]\n',
      /cycle: a -> b -> a/,
    );
    failsWith(
      'stages:\n  a:\n    cmd: x\n    outs: [data]\n  b:\n    cmd: x\n    outs: [data/x]\n',
      /stages 'a' and 'b' both write/,
    );
    failsWith(
      'stages:\n  a:\n    cmd: x\n    outs: [m.json]\n    metrics: [m.json]\n',
      /lists 'm\.json' twice/,
    );
  });

  it('publishes its JSON Schema in schemas/ledge.schema.json', () => {
    const published = JSON.parse(fs.readFileSync(path.join(repo, 'schemas', 'ledge.schema.json'), 'utf8'));
    assert.deepEqual(published, pipelineJsonSchema(), 'regenerate it with `npm run schemas`');
  });
});
