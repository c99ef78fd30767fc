/**
 * The local target's stable endpoint: a reverse proxy (node:http) forwarding every request to
 * the backend serving now. Which backend that is, is read once per request, so switching is
 * one assignment: requests that started keep their backend, later ones get the new one. It
 * counts requests in flight per backend, so the supervisor retires an old backend only once
 * the proxy is done with it, and uses one keep-alive agent per backend, dropped with it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the proxy needs of a backend. */
export interface ProxyBackend {
  port: number | undefined;
  agent: http.Agent;
  deploymentId: number | null;
  /** Counts a request in flight; the returned function ends it. */
  track(): () => void;
}

export interface ReverseProxyOptions {
  /** The backend to send the next request to; undefined when none serves. */
  current: () => ProxyBackend | undefined;
  /** Why nothing serves (the 503 body), when `current` is undefined. */
  unavailable: () => string;
}

/** Headers that belong to one connection, never forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function forwardable(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  const named = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase()),
  );
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(key) || named.has(key)) continue;
    out[key] = value;
  }
  return out;
}

function sendError(res: http.ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: message });
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...(status === 503 ? { 'retry-after': '1' } : {}),
  });
  res.end(body);
}

export function createReverseProxy(options: ReverseProxyOptions): http.Server {
  const server = http.createServer((req, res) => {
    const backend = options.current();
    if (!backend || backend.port === undefined) {
      req.resume();
      sendError(res, 503, options.unavailable());
      return;
    }
    const done = backend.track();
    const headers = forwardable(req.headers);
    const from = req.socket.remoteAddress;
    if (from) {
      const prior = req.headers['x-forwarded-for'];
      headers['x-forwarded-for'] = prior ? `${prior}, ${from}` : from;
    }
    const upstream = http.request({
      host: '127.0.0.1',
      port: backend.port,
      method: req.method,
      path: req.url,
      headers,
      agent: backend.agent,
    });
    upstream.on('response', (answer) => {
      const out = forwardable(answer.headers);
      if (backend.deploymentId !== null) out['x-ledge-deployment'] = String(backend.deploymentId);
      res.writeHead(answer.statusCode ?? 502, out);
      answer.pipe(res);
      answer.on('end', done);
      answer.on('error', () => {
        done();
        res.destroy();
      });
    });
    upstream.on('error', (error) => {
      done();
      sendError(
        res,
        502,
        `the model server did not answer: ${(error as NodeJS.ErrnoException).code ?? error.message}`,
      );
    });
    // A client that goes away takes its upstream request with it.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
      done();
    });
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 5000;
  return server;
}

/** Starts listening; rejects with the listen error (EADDRINUSE…). */
export function listen(server: http.Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** Stops listening at once and waits for the open connections to finish (closing idle ones). */
export function closeServer(server: http.Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}
