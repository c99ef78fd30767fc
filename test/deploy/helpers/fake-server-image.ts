/**
 * Images of a fake model server for the engine target's tests, built with ledge's own image
 * code on the busybox base (test/image/helpers/busybox-base.ts): `nc -ll -e` runs a shell
 * handler per connection that speaks just enough HTTP for `/v2/health/ready` and
 * `/v1/models/<name>:predict` (a fixed score; the version in the body and a header, so a test
 * sees which version answered). It listens on `$LEDGE_PORT`, as ledge's real server image
 * does, and carries the same `ai.ledge.model.*` labels and an image health check (wget).
 *
 * Behaviours, for the failure paths: `never-ready` answers 503 on readiness; `crash` exits 1
 * at once with a fatal line; `failPort` exits 3 when started on that port (it passes its checks
 * on a spare port, then fails at the switch onto the stable one).
 * A model layer of `modelBytes` random bytes makes a model-only update measurable.
 */
import crypto from 'node:crypto';
import {
  appendLayers,
  type BlobStore,
  buildLayer,
  type Image,
  type LayerFile,
  withConfig,
} from '../../../src/image/index.js';

const HANDLER = `#!/bin/sh
# One HTTP exchange on stdin/stdout (started by nc -ll -e per connection).
read -r method target proto
len=0
while read -r line; do
  line=$(printf '%s' "$line" | tr -d '\\r')
  [ -z "$line" ] && break
  case "$line" in [Cc]ontent-[Ll]ength:*) len=\${line#*: };; esac
done
[ "$len" -gt 0 ] 2>/dev/null && head -c "$len" >/dev/null
reply() {
  printf 'HTTP/1.1 %s\\r\\nContent-Type: application/json\\r\\nContent-Length: %s\\r\\nx-model-version: %s\\r\\nConnection: close\\r\\n\\r\\n%s' "$1" "\${#2}" "$LEDGE_MODEL_VERSION" "$2"
}
case "$target" in
  /v2/health/ready)
    if [ "$FAKE_READY" = no ]; then reply '503 Service Unavailable' '{"ready":false}'
    else reply '200 OK' '{"ready":true}'; fi;;
  /v1/models/*:predict)
    reply '200 OK' "{\\"predictions\\":[{\\"label\\":\\"positive\\",\\"score\\":0.75}],\\"model_version\\":\\"$LEDGE_MODEL_VERSION\\"}";;
  *) reply '404 Not Found' '{"error":"not found"}';;
esac
`;

const START = `#!/bin/sh
echo "fake model server $LEDGE_MODEL_NAME version $LEDGE_MODEL_VERSION on port $LEDGE_PORT"
if [ "$FAKE_BEHAVIOUR" = crash ]; then
  echo "fatal: cannot load the model from /model: Protobuf parsing failed" >&2
  exit 1
fi
if [ -n "$FAKE_FAIL_PORT" ] && [ "$LEDGE_PORT" = "$FAKE_FAIL_PORT" ]; then
  echo "fatal: cannot listen on port $LEDGE_PORT" >&2
  exit 3
fi
exec nc -ll -p "$LEDGE_PORT" -e /app/handler.sh
`;

const APPLETS = ['nc', 'tr', 'head', 'printf'];

export interface FakeServerOptions {
  name?: string;
  version: string;
  behaviour?: 'ok' | 'never-ready' | 'crash';
  /** Exit 3 when started on this port. */
  failPort?: number;
  /** Size of a random model layer (default: a small text file). */
  modelBytes?: number;
  /** The model digest label (default: derived from name and version). */
  modelDigest?: string;
}

export interface FakeServerImage {
  image: Image;
  /** The model layer's compressed size. */
  modelLayerSize: number;
  modelDigest: string;
}

/** The app layer, the same for every version (so a model-only update moves only the model layer). */
function appFiles(): LayerFile[] {
  return [
    { path: '/app/handler.sh', content: HANDLER, mode: 0o755 },
    { path: '/app/start.sh', content: START, mode: 0o755 },
    ...APPLETS.map((name): LayerFile => ({ path: `/bin/${name}`, type: 'symlink', target: 'busybox' })),
  ];
}

export async function fakeServerImage(
  store: BlobStore,
  base: Image,
  options: FakeServerOptions,
): Promise<FakeServerImage> {
  const name = options.name ?? 'fake-model';
  const modelDigest =
    options.modelDigest ??
    `sha256:${crypto.createHash('sha256').update(`${name}@${options.version}`).digest('hex')}`;
  const app = await buildLayer(appFiles(), { store });
  const weights = options.modelBytes
    ? crypto.randomBytes(options.modelBytes)
    : Buffer.from(`weights of ${name} ${options.version}\n`);
  const model = await buildLayer([{ path: '/model/model.bin', content: weights }], {
    store,
    compression: options.modelBytes ? 'none' : 'gzip',
  });
  const env: Record<string, string> = {
    LEDGE_MODEL_NAME: name,
    LEDGE_MODEL_VERSION: options.version,
    LEDGE_PORT: '8080',
  };
  if (options.behaviour === 'crash') env.FAKE_BEHAVIOUR = 'crash';
  if (options.behaviour === 'never-ready') env.FAKE_READY = 'no';
  if (options.failPort) env.FAKE_FAIL_PORT = String(options.failPort);
  const image = withConfig(
    appendLayers(base, [
      { layer: app, createdBy: 'fake server' },
      { layer: model, createdBy: 'model' },
    ]),
    {
      entrypoint: ['/app/start.sh'],
      cmd: null,
      env,
      exposedPorts: [8080],
      healthcheck: {
        test: 'wget -q -O /dev/null http://127.0.0.1:$LEDGE_PORT/v2/health/ready',
        intervalMs: 1000,
        timeoutMs: 2000,
        startPeriodMs: 2000,
        retries: 2,
      },
      labels: {
        'ai.ledge.model.name': name,
        'ai.ledge.model.version': options.version,
        'ai.ledge.model.digest': modelDigest,
      },
    },
  );
  return { image, modelLayerSize: model.descriptor.size, modelDigest };
}
