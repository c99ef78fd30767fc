/**
 * Steady prediction load for the deployment benchmarks: autocannon (its API, in the benchmark
 * process) keeps `connections` keep-alive clients posting one review per request to a model's
 * `:predict` endpoint until stopped; every response is counted (non-2xx, connection errors and
 * timeouts of 10 s are failures).
 */
import { createRequire } from 'node:module';
import path from 'node:path';

interface AutocannonResult {
  latency: { p50: number; p99: number; max: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  '2xx': number;
  duration: number;
}
interface AutocannonInstance {
  stop(): void;
  on(event: 'done', listener: (result: AutocannonResult) => void): void;
}
type Autocannon = (options: Record<string, unknown>) => AutocannonInstance;

export interface LoadSummary {
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Autocannon's latency percentiles (whole milliseconds). */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  seconds: number;
}

export interface PredictLoadOptions {
  /** The ledge checkout, whose node_modules has autocannon. */
  root: string;
  /** The stable endpoint, e.g. http://127.0.0.1:8080. */
  url: string;
  model: string;
  texts: string[];
  connections: number;
}

export function startPredictLoad(options: PredictLoadOptions): { stop: () => Promise<LoadSummary> } {
  const require = createRequire(path.join(options.root, 'package.json'));
  const autocannon = require('autocannon') as Autocannon;
  const bodies = options.texts.slice(0, 2000).map((text) => JSON.stringify({ instances: [text] }));
  let next = 0;
  let resolveDone: (result: AutocannonResult) => void = () => {};
  const done = new Promise<AutocannonResult>((resolve) => {
    resolveDone = resolve;
  });
  const instance = autocannon({
    url: `${options.url}/v1/models/${options.model}:predict`,
    method: 'POST',
    connections: options.connections,
    duration: 3600,
    timeout: 10,
    headers: { 'content-type': 'application/json' },
    requests: [
      {
        setupRequest: (request: Record<string, unknown>) => ({
          ...request,
          body: bodies[next++ % bodies.length],
        }),
      },
    ],
  });
  instance.on('done', resolveDone);
  return {
    stop: async () => {
      instance.stop();
      const r = await done;
      return {
        ok: r['2xx'],
        non2xx: r.non2xx,
        errors: r.errors,
        timeouts: r.timeouts,
        p50Ms: r.latency.p50,
        p99Ms: r.latency.p99,
        maxMs: r.latency.max,
        seconds: r.duration,
      };
    },
  };
}
