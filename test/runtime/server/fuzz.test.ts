/**
 * Fuzzing the server over real HTTP: 10,000 requests from a seeded PRNG, with bounded
 * concurrency — valid ones of every endpoint, and malformed ones of every kind (truncated JSON,
 * random bytes, invalid UTF-8, huge numbers, deep nesting, wrong types, oversize bodies, too
 * many instances, unknown models, random methods and paths, random byte flips). Each must be
 * answered, with a status of its class (2xx valid, 4xx invalid, never 5xx); the server stays
 * up and its memory bounded.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Monitor } from '../../../src/runtime/monitoring/monitor.js';
import { type RunningServer, startServer } from '../../../src/runtime/server/serve.js';
import { type TrainedModel, trainTestModel } from './server-fixture.js';

const REQUESTS = 10_000;
const CONCURRENCY = 32;
const SEED = 0x5eed_2026;
const BODY_LIMIT = 64 * 1024;
const MAX_INSTANCES = 64;
const BUCKETS = 1 << 16;
const MODEL = 'imdb-sentiment';

type Expect = '2xx' | '4xx' | 'any';

interface FuzzRequest {
  kind: string;
  method: string;
  path: string;
  body?: string | Buffer | ReadableStream<Uint8Array>;
  headers?: Record<string, string>;
  expect: Expect;
  /** The exact error message expected, when the class has one. */
  error?: string;
}

/** mulberry32: a small, fast, seeded PRNG. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const bytes = (n: number) => {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = int(256);
    return out;
  };
  return { next, int, pick, bytes };
}

/** A Monitor that only counts (so the run's memory is the server's, not the spy's). */
class CountingMonitor implements Monitor {
  requests = 0;
  serverErrors = 0;
  predictions = 0;
  onRequest(event: { status: number }) {
    this.requests++;
    if (event.status >= 500) this.serverErrors++;
  }
  onBatch() {}
  onPredictions(events: unknown[]) {
    this.predictions += events.length;
  }
  onModelLoaded() {}
  feedback() {
    return { matched: false };
  }
  async metrics() {
    return { contentType: 'text/plain; version=0.0.4', body: `requests ${this.requests}\n` };
  }
  snapshot() {
    return { requests: this.requests };
  }
  async close() {}
}

/** An inference request body to break. */
type MutableRequest = { inputs: Record<string, unknown>[]; [key: string]: unknown };

function generator(rand: ReturnType<typeof prng>, texts: string[]) {
  const text = () => {
    const t = rand.pick(texts);
    return rand.next() < 0.3 ? t.slice(0, 1 + rand.int(80)) : t.slice(0, 2000);
  };
  const validText = () => {
    const n = 1 + rand.int(4);
    const body: Record<string, unknown> = {
      inputs: [{ name: 'text', shape: [n], datatype: 'BYTES', data: Array.from({ length: n }, text) }],
    };
    if (rand.next() < 0.5) body.id = `r${rand.int(1e9)}`;
    if (rand.next() < 0.3)
      body.outputs = rand.pick([[{ name: 'score' }], [{ name: 'logit' }, { name: 'score' }]]);
    if (rand.next() < 0.2) body.parameters = { content_type: 'str', priority: 1, flag: true };
    return body;
  };
  const validIds = () => {
    const n = 1 + rand.int(4);
    const seq = 1 + rand.int(50);
    const rows = Array.from({ length: n }, () => Array.from({ length: seq }, () => rand.int(BUCKETS)));
    return {
      inputs: [
        {
          name: 'input_ids',
          shape: [n, seq],
          datatype: rand.pick(['INT64', 'INT32']),
          data: rand.next() < 0.5 ? rows : rows.flat(),
        },
      ],
    };
  };
  const validPredict = () => ({
    instances: Array.from({ length: 1 + rand.int(4) }, () =>
      rand.pick([
        () => text(),
        () => ({ text: text() }),
        () => [1, ...Array.from({ length: 1 + rand.int(40) }, () => 4 + rand.int(3000))],
      ])(),
    ),
  });
  const inferPath = () =>
    rand.next() < 0.3 ? `/v2/models/${MODEL}/versions/1/infer` : `/v2/models/${MODEL}/infer`;
  const predictPath = `/v1/models/${MODEL}:predict`;
  const post = (
    kind: string,
    path: string,
    body: string | Buffer,
    expect: Expect,
    error?: string,
  ): FuzzRequest => ({
    kind,
    method: 'POST',
    path,
    body,
    headers: { 'content-type': 'application/json' },
    expect,
    ...(error === undefined ? {} : { error }),
  });
  const validBody = () =>
    rand.pick([
      () => [inferPath(), JSON.stringify(validText())] as const,
      () => [inferPath(), JSON.stringify(validIds())] as const,
      () => [predictPath, JSON.stringify(validPredict())] as const,
    ])();
  const wrongTypes: [string, (b: MutableRequest) => void][] = [
    ['shape', (b) => (b.inputs[0]!.shape = rand.pick(['x', {}, [-1], [1.5], null, true, [[1]], [1e300]]))],
    ['datatype', (b) => (b.inputs[0]!.datatype = rand.pick([5, null, 'FP32', 'int64', '', 'UINT8']))],
    ['name', (b) => (b.inputs[0]!.name = rand.pick([5, 'texts', '', null, 'input_ids ']))],
    ['data', (b) => (b.inputs[0]!.data = rand.pick(['x', 5, {}, null, true]))],
    ['outputs', (b) => (b.outputs = rand.pick(['score', [{}], [{ name: 5 }], [{ name: 'x' }], {}, 7]))],
    ['id', (b) => (b.id = rand.pick([5, {}, [], true, null]))],
    ['parameters', (b) => (b.parameters = rand.pick([[], 'x', 5, { a: {} }, { a: [1] }, { a: null }]))],
    [
      'inputs',
      (b) => ((b as Record<string, unknown>).inputs = rand.pick([5, 'x', {}, null, [], [null], [5]])),
    ],
  ];

  const kinds: [number, () => FuzzRequest][] = [
    [14, () => post('valid text', inferPath(), JSON.stringify(validText()), '2xx')],
    [10, () => post('valid input_ids', inferPath(), JSON.stringify(validIds()), '2xx')],
    [12, () => post('valid predict', predictPath, JSON.stringify(validPredict()), '2xx')],
    [
      6,
      () => ({
        kind: 'valid GET',
        method: rand.pick(['GET', 'GET', 'HEAD']),
        path: rand.pick([
          '/v2',
          '/v2/',
          '/v2/health/live',
          '/v2/health/ready',
          `/v2/models/${MODEL}`,
          `/v2/models/${MODEL}/versions/1`,
          `/v2/models/${MODEL}/ready`,
          '/metrics',
          '/v1/monitoring',
        ]),
        expect: '2xx',
      }),
    ],
    [
      7,
      () => {
        const [path, body] = validBody();
        return post('truncated JSON', path, body.slice(0, rand.int(body.length)), '4xx');
      },
    ],
    [
      6,
      () =>
        post(
          'random bytes',
          rand.pick([inferPath(), predictPath, '/v1/feedback']),
          rand.bytes(rand.int(3000)),
          '4xx',
        ),
    ],
    [
      6,
      () => {
        const [path, body] = validBody();
        const bytes = Buffer.from(body);
        const at = rand.int(bytes.length + 1);
        const bad = Buffer.from(
          rand.pick([[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf8, 0x88, 0x80, 0x80, 0x80]]),
        );
        return post(
          'invalid UTF-8',
          path,
          Buffer.concat([bytes.subarray(0, at), bad, bytes.subarray(at)]),
          '4xx',
          'body is not valid UTF-8',
        );
      },
    ],
    [
      5,
      () => {
        const huge = rand.pick([
          '1e400',
          '-1e400',
          '9007199254740993',
          '1e308',
          '123456789012345678901234567890',
          '-0.5',
          '65536',
          '2.5',
        ]);
        return rand.pick([
          () =>
            post(
              'huge numbers',
              inferPath(),
              `{"inputs":[{"name":"input_ids","shape":[1,2],"datatype":"INT64","data":[1,${huge}]}]}`,
              '4xx',
            ),
          () =>
            post(
              'huge numbers',
              inferPath(),
              `{"inputs":[{"name":"text","shape":[${huge}],"datatype":"BYTES","data":["a"]}]}`,
              '4xx',
            ),
          // A word index past the vocabulary is valid there (it decodes as out of vocabulary).
          () =>
            post(
              'huge numbers',
              predictPath,
              `{"instances":[[1,14,${huge === '65536' ? '1e20' : huge}]]}`,
              '4xx',
            ),
        ])();
      },
    ],
    [
      4,
      () => {
        const depth = 3 + rand.int(rand.next() < 0.5 ? 100 : 20_000);
        const nested = `${'['.repeat(depth)}1${']'.repeat(depth)}`;
        return rand.pick([
          () =>
            post(
              'deep nesting',
              inferPath(),
              `{"inputs":[{"name":"input_ids","shape":[1,1],"datatype":"INT64","data":${nested}}]}`,
              '4xx',
            ),
          () => post('deep nesting', predictPath, `{"instances":${nested}}`, '4xx'),
          () => post('deep nesting', inferPath(), `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`, '4xx'),
          () =>
            post(
              'deep nesting',
              inferPath(),
              `{"inputs":[],"parameters":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`,
              '4xx',
            ),
        ])();
      },
    ],
    [
      8,
      () => {
        const body = rand.next() < 0.6 ? validText() : validIds();
        rand.pick(wrongTypes)[1](body as MutableRequest);
        return post('wrong types', inferPath(), JSON.stringify(body), '4xx');
      },
    ],
    [
      3,
      () => {
        const bad = rand.pick<unknown>([5, null, {}, { text: 5 }, '', '   ', [1, -1], [1, 2.5], [1], []]);
        return post('wrong instance', predictPath, JSON.stringify({ instances: ['fine', bad] }), '4xx');
      },
    ],
    [
      2,
      () => {
        const size = BODY_LIMIT + 1 + rand.int(BODY_LIMIT);
        if (rand.next() < 0.5) {
          return post(
            'oversize',
            inferPath(),
            `{"inputs":[{"name":"text","data":["${'a'.repeat(size)}"]}]}`,
            '4xx',
          );
        }
        let sent = 0;
        const chunk = new Uint8Array(16 * 1024).fill(0x61);
        const stream = new ReadableStream<Uint8Array>({
          pull(controller) {
            if (sent >= size) return controller.close();
            sent += chunk.length;
            controller.enqueue(chunk);
          },
        });
        return { kind: 'oversize streamed', method: 'POST', path: predictPath, body: stream, expect: '4xx' };
      },
    ],
    [
      2,
      () => {
        const n = MAX_INSTANCES + 1 + rand.int(100);
        return rand.pick([
          () =>
            post(
              'too many instances',
              predictPath,
              JSON.stringify({ instances: new Array(n).fill('ok') }),
              '4xx',
            ),
          () =>
            post(
              'too many instances',
              inferPath(),
              JSON.stringify({
                inputs: [{ name: 'text', shape: [n], datatype: 'BYTES', data: new Array(n).fill('ok') }],
              }),
              '4xx',
            ),
        ])();
      },
    ],
    [
      4,
      () => {
        const [, body] = validBody();
        const name = rand.pick([
          'nope',
          'IMDB-sentiment',
          'imdb-sentiment2',
          '%00',
          'a%2Fb',
          '%2E%2E%2F',
          'x'.repeat(300),
        ]);
        return rand.pick([
          () => post('unknown model', `/v2/models/${name}/infer`, body, '4xx'),
          () =>
            post(
              'unknown version',
              `/v2/models/${MODEL}/versions/${rand.pick(['0', '2', 'latest', 'x'])}/infer`,
              body,
              '4xx',
            ),
          () => ({
            kind: 'unknown model',
            method: 'GET',
            path: `/v2/models/${name}`,
            expect: '4xx' as const,
          }),
          () => post('unknown model', `/v1/models/${name}:predict`, body, '4xx'),
        ])();
      },
    ],
    [
      5,
      () => {
        const segment = () =>
          rand.pick([
            () =>
              rand.pick([
                'v2',
                'v1',
                'models',
                MODEL,
                'versions',
                '1',
                'infer',
                'ready',
                'health',
                'live',
                'metrics',
                'feedback',
                `${MODEL}:predict`,
                '',
              ]),
            () => encodeURIComponent(rand.bytes(1 + rand.int(8)).toString('latin1')),
          ])();
        const path = `/${Array.from({ length: 1 + rand.int(6) }, segment).join('/')}`;
        const method = rand.pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']);
        const body = method === 'GET' || method === 'HEAD' ? undefined : rand.bytes(rand.int(200));
        return { kind: 'random route', method, path, ...(body ? { body } : {}), expect: 'any' };
      },
    ],
    [
      3,
      () => ({
        kind: 'garbage route',
        method: rand.pick(['GET', 'POST', 'PUT', 'DELETE']),
        path: `/zz/${encodeURIComponent(rand.bytes(1 + rand.int(20)).toString('latin1'))}`,
        expect: '4xx',
      }),
    ],
    [
      4,
      () => {
        const [path, body] = validBody();
        const bytes = Buffer.from(body);
        for (let flips = 1 + rand.int(3); flips > 0; flips--) bytes[rand.int(bytes.length)] = rand.int(256);
        return post('byte flips', path, bytes, 'any');
      },
    ],
    [
      2,
      () =>
        post(
          'feedback',
          '/v1/feedback',
          JSON.stringify(
            rand.pick<unknown>([
              { id: `x${rand.int(1e6)}`, label: 'pos' },
              { id: 5, label: 'pos' },
              { id: 'x' },
              { id: 'x', label: 'maybe' },
              [],
            ]),
          ),
          '4xx',
        ),
    ],
    [
      2,
      () => ({
        kind: 'wrong content type',
        method: 'POST',
        path: predictPath,
        body: JSON.stringify(validPredict()),
        headers: {
          'content-type': rand.pick([
            'text/plain',
            'application/octet-stream',
            'application/x-www-form-urlencoded',
          ]),
        },
        expect: '2xx',
      }),
    ],
  ];
  const total = kinds.reduce((n, [w]) => n + w, 0);
  return (): FuzzRequest => {
    let r = rand.int(total);
    for (const [weight, make] of kinds) {
      if (r < weight) return make();
      r -= weight;
    }
    throw new Error('unreachable');
  };
}

/** A full garbage collection (what `--expose-gc` offers, turned on from inside the process). */
function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

const mib = (bytes: number) => bytes / 2 ** 20;

let trained: TrainedModel;
let server: RunningServer;
const monitor = new CountingMonitor();

describe('fuzzing the server', () => {
  before(async () => {
    trained = await trainTestModel();
    server = await startServer({
      models: [{ name: MODEL, location: trained.model }],
      port: 0,
      monitor,
      modelControl: false,
      limits: { bodyLimit: BODY_LIMIT, maxInstances: MAX_INSTANCES },
      log: { info() {}, error: (msg, fields) => process.stderr.write(`${msg} ${JSON.stringify(fields)}\n`) },
    });
  });
  after(async () => {
    await server?.close();
    trained?.cleanup();
  });

  it(`answers ${REQUESTS} random and malformed requests with the right class of status, never 5xx`, async (t) => {
    const rand = prng(SEED);
    // Made as they are sent (the same sequence every run), so a sent body becomes garbage.
    const next = generator(rand, trained.texts);
    const byKind = new Map<string, { count: number; statuses: Map<number, number> }>();
    const failures: string[] = [];

    const send = async (r: FuzzRequest) => {
      let status: number;
      let text: string;
      try {
        const response = await fetch(`${server.url}${r.path}`, {
          method: r.method,
          headers: r.headers,
          body: r.body,
          ...(r.body instanceof ReadableStream ? { duplex: 'half' } : {}),
        } as RequestInit);
        status = response.status;
        text = await response.text();
      } catch (error) {
        failures.push(
          `${r.kind} ${r.method} ${r.path}: no answer (${(error as Error).message}; ${String((error as Error).cause)})`,
        );
        return;
      }
      const stats = byKind.get(r.kind) ?? { count: 0, statuses: new Map() };
      stats.count++;
      stats.statuses.set(status, (stats.statuses.get(status) ?? 0) + 1);
      byKind.set(r.kind, stats);
      const ok =
        status < 500 &&
        (r.expect === 'any' ||
          (r.expect === '2xx' ? status >= 200 && status < 300 : status >= 400 && status < 500));
      if (!ok) failures.push(`${r.kind} ${r.method} ${r.path}: ${status} ${text.slice(0, 200)}`);
      if (status >= 400 && r.method !== 'HEAD') {
        let error: unknown;
        try {
          error = (JSON.parse(text) as { error?: unknown }).error;
        } catch {
          error = undefined;
        }
        if (typeof error !== 'string')
          failures.push(
            `${r.kind} ${r.method} ${r.path}: ${status} without {"error"}: ${text.slice(0, 100)}`,
          );
        else if (r.error !== undefined && error !== r.error)
          failures.push(`${r.kind}: error '${error}', expected '${r.error}'`);
      }
    };

    // Warm up (JIT, allocator), then measure memory (after full collections) over the run,
    // and separately over its second half: a leak keeps growing, a working set does not.
    let index = 0;
    const runUntil = (end: number) =>
      Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (index < end) {
            index++;
            await send(next());
          }
        }),
      );
    await runUntil(200);
    collectGarbage();
    const before = process.memoryUsage();
    const started = performance.now();
    await runUntil(REQUESTS / 2 + 100);
    collectGarbage();
    const middle = process.memoryUsage();
    await runUntil(REQUESTS);
    const seconds = (performance.now() - started) / 1000;
    const peakRss = process.memoryUsage().rss;
    collectGarbage();
    const end = process.memoryUsage();
    const growthMb = mib(end.rss - before.rss);

    const summary = [...byKind]
      .sort((a, b) => b[1].count - a[1].count)
      .map(([kind, s]) => `${kind} ${s.count} [${[...s.statuses].map(([st, n]) => `${st}×${n}`).join(' ')}]`);
    t.diagnostic(
      `${REQUESTS} requests in ${seconds.toFixed(1)} s (${Math.round((REQUESTS - 200) / seconds)}/s, concurrency ${CONCURRENCY}); ` +
        `RSS after GC ${mib(before.rss).toFixed(0)} → ${mib(middle.rss).toFixed(0)} → ${mib(end.rss).toFixed(0)} MiB ` +
        `(+${growthMb.toFixed(1)} MiB; peak ${mib(peakRss).toFixed(0)} MiB), ` +
        `heap ${mib(before.heapUsed).toFixed(0)} → ${mib(middle.heapUsed).toFixed(0)} → ${mib(end.heapUsed).toFixed(0)} MiB; server and client share the process`,
    );
    for (const line of summary) t.diagnostic(line);

    assert.deepEqual(failures.slice(0, 20), [], `${failures.length} requests answered wrongly`);
    assert.equal(monitor.serverErrors, 0, 'no 5xx seen by monitoring');
    assert.ok(monitor.requests >= REQUESTS, `monitoring saw ${monitor.requests} requests`);
    assert.ok(
      byKind.get('valid text')!.count > 500 && byKind.get('oversize')!.count > 20,
      'every kind was sent',
    );
    assert.ok(growthMb < 100, `RSS grew by ${growthMb.toFixed(1)} MiB`);
    assert.ok(
      mib(end.heapUsed - middle.heapUsed) < 20,
      'the heap does not keep growing over the second half',
    );

    // Still up, still right.
    const live = await fetch(`${server.url}/v2/health/live`);
    assert.equal(live.status, 200);
    const predict = await fetch(`${server.url}/v1/models/${MODEL}:predict`, {
      method: 'POST',
      body: JSON.stringify({ instances: ['after the storm'] }),
    });
    assert.equal(predict.status, 200);
  });
});
