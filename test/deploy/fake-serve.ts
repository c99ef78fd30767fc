/**
 * A stand-in for `ledge serve` in supervisor tests: it takes the same arguments, prints the same
 * "serving NAME version V at URL" line, answers /v2/health/ready, /v1/models/NAME:predict and
 * /v2/models/NAME like the real server (a few milliseconds per request, so some are in flight
 * during a swap), and drains on SIGTERM. What it does is read from `behavior.json` in the
 * "bundle" directory it is given:
 *
 *     {"mode": "ok" | "exit-at-start" | "never-ready" | "bad-score", "delayMs": 3}
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const bundle = args[args.indexOf('serve') + 1]!;
const name = flag('--name') ?? 'fake';
const version = flag('--model-version') ?? '1';
const behavior = JSON.parse(fs.readFileSync(path.join(bundle, 'behavior.json'), 'utf8')) as {
  mode: 'ok' | 'exit-at-start' | 'never-ready' | 'bad-score';
  delayMs?: number;
};

if (behavior.mode === 'exit-at-start') {
  process.stderr.write(`ledge: error: cannot load ${bundle}: not a model\n`);
  process.exit(1);
}

let closing = false;
const json = (res: http.ServerResponse, status: number, value: unknown) => {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (req.url === '/v2/health/ready') {
      const ready = behavior.mode !== 'never-ready' && !closing;
      return json(res, ready ? 200 : 503, { ready });
    }
    if (req.url === `/v2/models/${name}`) return json(res, 200, { name, versions: [version] });
    if (req.url === `/v1/models/${name}:predict`) {
      const score = behavior.mode === 'bad-score' ? 7 : 0.75;
      setTimeout(
        () => json(res, 200, { predictions: [{ label: 'pos', score, version }] }),
        behavior.delayMs ?? 3,
      );
      return;
    }
    json(res, 404, { error: 'not found' });
  });
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`serving ${name} version ${version} at http://127.0.0.1:${port}\n`);
});
process.on('SIGTERM', () => {
  closing = true;
  process.stderr.write('ledge: shutting down: finishing requests in flight\n');
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
