/**
 * Every kind of bad request the server recognises, over real HTTP: each gets its 4xx status and
 * a `{"error": "<message>"}` body, and none a 5xx.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type RunningServer, startServer } from '../../../src/runtime/server/serve.js';
import { request, type TrainedModel, textInfer, trainTestModel } from './server-fixture.js';

let trained: TrainedModel;
let server: RunningServer;
const INFER = '/v2/models/imdb-sentiment/infer';
const PREDICT = '/v1/models/imdb-sentiment:predict';
const LIMIT = 1 << 20;

const ids = (data: unknown, shape: unknown = [1, 3], datatype: unknown = 'INT64') => ({
  inputs: [{ name: 'input_ids', shape, datatype, data }],
});
const text = (data: unknown, shape: unknown = [1], datatype: unknown = 'BYTES') => ({
  inputs: [{ name: 'text', shape, datatype, data }],
});

/** [what, path, body (string or Buffer as is, anything else as JSON), status, error pattern]. */
const CASES: [string, string, unknown, number, RegExp?][] = [
  ['truncated JSON', INFER, '{"inputs": [', 400, /not valid JSON/],
  ['empty body', INFER, '', 400, /empty/],
  ['a JSON array', INFER, [], 400],
  ['a JSON string', INFER, '"hello"', 400],
  ['JSON null', INFER, 'null', 400],
  ['invalid UTF-8', INFER, Buffer.from([0x7b, 0xff, 0x7d]), 400, /^body is not valid UTF-8$/],
  ['a UTF-16 surrogate in UTF-8', PREDICT, Buffer.from([0x7b, 0xed, 0xa0, 0x80, 0x7d]), 400, /UTF-8/],
  ['an overlong UTF-8 encoding', PREDICT, Buffer.from([0x22, 0xc0, 0xaf, 0x22]), 400, /UTF-8/],
  ['no inputs', INFER, {}, 400, /inputs/],
  ['empty inputs', INFER, { inputs: [] }, 400, /inputs/],
  ['inputs not an array', INFER, { inputs: { name: 'text' } }, 400, /inputs/],
  ['an input that is not an object', INFER, { inputs: ['text'] }, 400],
  [
    'an unknown input',
    INFER,
    { inputs: [{ name: 'image', shape: [1], datatype: 'FP32', data: [1] }] },
    400,
    /unknown input 'image'/,
  ],
  ['text as FP32', INFER, text([1], [1], 'FP32'), 400, /BYTES/],
  ['input_ids as BYTES', INFER, ids(['a', 'b', 'c'], [1, 3], 'BYTES'), 400, /INT64/],
  ['an unknown datatype', INFER, ids([1, 2, 3], [1, 3], 'FLOAT'), 400, /datatype/],
  ['a datatype that is not a string', INFER, ids([1, 2, 3], [1, 3], 7), 400, /datatype/],
  ['shape not an array', INFER, ids([1, 2, 3], 3), 400, /shape/],
  ['a negative dimension', INFER, ids([1, 2, 3], [-1, 3]), 400, /shape/],
  ['a fractional dimension', INFER, ids([1, 2, 3], [1.5, 2]), 400, /shape/],
  ['a huge dimension', INFER, ids([1, 2, 3], [1, 1e300]), 400, /shape/],
  ['input_ids of rank 1', INFER, ids([1, 2, 3], [3]), 400, /\[batch, seq\]/],
  ['data shorter than the shape', INFER, ids([1, 2], [1, 3]), 400, /needs 3/],
  ['data longer than the shape', INFER, text(['a', 'b'], [1]), 400, /needs 1/],
  ['data nested deeper than the shape', INFER, ids([[[1, 2, 3]]], [1, 3]), 400, /nested/],
  ['data that is not an array', INFER, ids('1 2 3'), 400, /data/],
  ['no data', INFER, { inputs: [{ name: 'text', shape: [1], datatype: 'BYTES' }] }, 400, /data/],
  ['an id out of range', INFER, ids([1, 2, 65536]), 400, /\[0, 65536\)/],
  ['a negative id', INFER, ids([1, -2, 3]), 400, /not an id/],
  ['a fractional id', INFER, ids([1, 2.5, 3]), 400, /not an id/],
  [
    'an id too large for JSON numbers',
    INFER,
    '{"inputs":[{"name":"input_ids","shape":[1,1],"datatype":"INT64","data":[1e400]}]}',
    400,
    /not an id/,
  ],
  ['an id as a string', INFER, ids([1, '2', 3]), 400, /not an id/],
  ['a text that is a number', INFER, text([42]), 400, /not a string/],
  ['an empty text', INFER, text(['']), 400, /empty/],
  ['a blank text', INFER, text(['  \n ']), 400, /empty/],
  ['an empty batch', INFER, text([], [0]), 400, /empty/],
  ['both inputs', INFER, { inputs: [...text(['a']).inputs, ...ids([1, 2, 3]).inputs] }, 400, /not both/],
  ['the same input twice', INFER, { inputs: [...text(['a']).inputs, ...text(['b']).inputs] }, 400, /twice/],
  [
    'an unknown output',
    INFER,
    textInfer(['a'], { outputs: [{ name: 'probabilities' }] }),
    400,
    /unknown output/,
  ],
  [
    'an output requested twice',
    INFER,
    textInfer(['a'], { outputs: [{ name: 'score' }, { name: 'score' }] }),
    400,
    /twice/,
  ],
  ['outputs not an array', INFER, textInfer(['a'], { outputs: 'score' }), 400, /outputs/],
  ['an id that is not a string', INFER, textInfer(['a'], { id: 42 }), 400, /id/],
  ['parameters not an object', INFER, textInfer(['a'], { parameters: [1] }), 400, /parameters/],
  ['a nested parameter', INFER, textInfer(['a'], { parameters: { a: { b: 1 } } }), 400, /parameter 'a'/],
  ['too many texts', INFER, text(new Array(257).fill('a'), [257]), 413, /257 instances/],
  ['too many rows', INFER, ids(new Array(300).fill(1), [300, 1]), 413, /limit of 256/],
  ['a body over the limit', INFER, `{"inputs": "${'x'.repeat(LIMIT)}"}`, 413, /limit of 1048576 bytes/],
  ['an unknown model', '/v2/models/nope/infer', textInfer(['a']), 404, /nope/],
  ['an unknown version', '/v2/models/imdb-sentiment/versions/9/infer', textInfer(['a']), 404, /version '9'/],
  ['predict without instances', PREDICT, { texts: ['a'] }, 400, /instances/],
  ['predict with instances not an array', PREDICT, { instances: 'a' }, 400, /instances/],
  ['predict with no instances', PREDICT, { instances: [] }, 400, /empty/],
  ['predict with a number', PREDICT, { instances: [42] }, 400, /instances\[0\]/],
  ['predict with null', PREDICT, { instances: ['ok', null] }, 400, /instances\[1\]/],
  ['predict with a non-string text', PREDICT, { instances: [{ text: 5 }] }, 400, /instances\[0\]/],
  ['predict with an empty text', PREDICT, { instances: [''] }, 400, /empty/],
  ['predict with a negative index', PREDICT, { instances: [[1, -4]] }, 400, /sequence/],
  ['predict with a fractional index', PREDICT, { instances: [[1, 4.5]] }, 400, /sequence/],
  ['predict with a sequence of no words', PREDICT, { instances: [[1, 0, 0]] }, 400, /empty/],
  ['predict with too many instances', PREDICT, { instances: new Array(257).fill('a') }, 413, /257/],
  ['predict on an unknown model', '/v1/models/nope:predict', { instances: ['a'] }, 404],
  ['feedback that is not an object', '/v1/feedback', ['id', 'pos'], 400],
  ['feedback without an id', '/v1/feedback', { label: 'pos' }, 400, /id/],
  ['feedback with a numeric label', '/v1/feedback', { id: 'x', label: 1 }, 400, /label/],
  ['feedback with an unknown label', '/v1/feedback', { id: 'x', label: 'maybe' }, 400, /neg, pos/],
  [
    'feedback for an unknown prediction',
    '/v1/feedback',
    { id: 'x', label: 'pos' },
    404,
    /no logged prediction/,
  ],
  ['a load of an unknown model without a location', '/v2/repository/models/other/load', {}, 400, /location/],
  [
    'a load from nowhere',
    '/v2/repository/models/other/load',
    { parameters: { location: '/nonexistent/bundle' } },
    400,
    /cannot load/,
  ],
  [
    'a load with a bad version',
    '/v2/repository/models/other/load',
    { parameters: { location: '/x', version: 'a/b' } },
    400,
    /version/,
  ],
  [
    'a load with a numeric location',
    '/v2/repository/models/other/load',
    { parameters: { location: 5 } },
    400,
    /location/,
  ],
  ['an unload of an unknown model', '/v2/repository/models/other/unload', {}, 404],
];

describe('bad input', () => {
  before(async () => {
    trained = await trainTestModel();
    server = await startServer({
      models: [{ name: 'imdb-sentiment', location: trained.model }],
      port: 0,
      log: { info() {}, error() {} },
    });
  });
  after(async () => {
    await server?.close();
    trained?.cleanup();
  });

  for (const [what, path, body, status, pattern] of CASES) {
    it(`${what} → ${status}`, async () => {
      const payload = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
      const response = await request(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: payload,
      });
      assert.equal(response.status, status, response.text);
      const error = (response.body as { error?: unknown } | undefined)?.error;
      assert.equal(typeof error, 'string', response.text);
      assert.deepEqual(Object.keys(response.body as object), ['error']);
      if (pattern) assert.match(error as string, pattern);
    });
  }

  it('a body streamed past the limit without a Content-Length → 413, before it is all sent', async () => {
    let sent = 0;
    const chunk = new Uint8Array(64 * 1024).fill(0x20);
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 4 * LIMIT) return controller.close();
        sent += chunk.length;
        controller.enqueue(chunk);
      },
    });
    const response = await request(`${server.url}${INFER}`, {
      method: 'POST',
      body: stream,
      duplex: 'half',
    } as RequestInit);
    assert.equal(response.status, 413);
    assert.match((response.body as { error: string }).error, /limit/);
  });

  it('the server still serves after all of it', async () => {
    const response = await request(`${server.url}${PREDICT}`, {
      method: 'POST',
      body: JSON.stringify({ instances: ['still here'] }),
    });
    assert.equal(response.status, 200);
  });
});
