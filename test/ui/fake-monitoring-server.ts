/**
 * A stand-in for a running `ledge serve`: a real HTTP server on loopback answering
 * `GET /v1/monitoring` with a snapshot shaped like the inference server's monitor gives
 * (src/runtime/monitoring/create-monitor.ts), changing on every request: throughput goes up by
 * one each time, and `drifting` makes the OOV-rate drift cross its threshold and alert.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeMonitoringServer {
  url: string;
  /** How many snapshots were served. */
  readonly requests: number;
  /** Throughput in the next snapshot (it then goes up by one per snapshot). */
  throughput: number;
  /** Whether the OOV-rate drift is over its threshold. */
  drifting: boolean;
  close(): Promise<void>;
}

const EDGES = Array.from({ length: 11 }, (_, i) => i / 10);
const THRESHOLDS = { psi: 0.2, ks: 0.15 };

function snapshot(state: { throughput: number; drifting: boolean; tick: number }, now: number) {
  const second = Math.floor(now / 1000);
  const series = Array.from({ length: 60 }, (_, i) => {
    const throughput = Math.max(0, state.throughput - (59 - i) * 0.5);
    return {
      t: (second - 59 + i) * 1000,
      requests: throughput,
      errors: 0,
      predictions: throughput,
      throughput,
      p50Ms: 2 + (i % 5) * 0.1,
      p95Ms: 6 + (i % 7) * 0.2,
      p99Ms: 11 + (i % 3),
    };
  });
  const feature = (psi: number, ks: number) => ({
    psi,
    ks,
    alert: psi > THRESHOLDS.psi || ks > THRESHOLDS.ks,
    thresholds: THRESHOLDS,
  });
  const oov = state.drifting ? feature(0.46, 0.31) : feature(0.03, 0.04);
  return {
    monitoring: 'on',
    server: 'fake-server:1',
    time: new Date(now).toISOString(),
    uptimeSeconds: state.tick,
    thresholds: { ...THRESHOLDS, minSamples: 50 },
    models: [
      {
        model: 'imdb-sentiment',
        version: '2',
        loaded: true,
        loadSeconds: 0.12,
        requests: 1200 + state.tick * 10,
        errors: 3,
        serverErrors: 0,
        predictions: 1200 + state.tick * 10,
        throughput: state.throughput,
        predictionsPerSecond: state.throughput,
        latencyMs: { p50: 2.1, p95: 6.4, p99: 12.5 },
        scores: {
          edges: EDGES,
          counts: [30, 12, 8, 6, 5, 5, 7, 9, 14, 34],
          reference: [0.22, 0.1, 0.06, 0.05, 0.05, 0.05, 0.05, 0.07, 0.1, 0.25],
        },
        alerting: oov.alert,
        drift: {
          samples: 500,
          windowSize: 500,
          minSamples: 50,
          evaluatedAt: new Date(now).toISOString(),
          thresholds: THRESHOLDS,
          features: {
            token_count: feature(0.05, 0.06),
            oov_rate: oov,
            score: feature(0.02, 0.03),
          },
        },
        accuracy: { value: 0.9, labelled: 120, correct: 108, windowLabels: 1000, windowSeconds: null },
        series,
      },
    ],
  };
}

export async function startFakeMonitoringServer(): Promise<FakeMonitoringServer> {
  const state = { throughput: 40, drifting: false, tick: 0, requests: 0 };
  const server = http.createServer((request, response) => {
    if (request.method !== 'GET' || request.url !== '/v1/monitoring') {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    state.requests++;
    const body = JSON.stringify(snapshot(state, Date.now()));
    state.tick++;
    state.throughput++;
    response.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return state.requests;
    },
    get throughput() {
      return state.throughput;
    },
    set throughput(value: number) {
      state.throughput = value;
    },
    get drifting() {
      return state.drifting;
    },
    set drifting(value: boolean) {
      state.drifting = value;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A loopback port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
