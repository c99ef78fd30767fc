/**
 * The Open Inference Protocol (KServe V2) REST API: health, server and model metadata, model
 * readiness and inference. Shapes follow the specification
 * (github.com/kserve/open-inference-protocol, specification/protocol/inference_rest.md).
 */
import { VERSION } from '../../../core/version.js';
import { modelNotFound, ServerError } from '../http-errors.js';
import { predictTexts, scoreDocs } from '../inference.js';
import type { ModelVersion } from '../model-slots.js';
import { readJsonBody } from '../request-body.js';
import {
  incomingOf,
  route,
  type ServerApp,
  type ServerContext,
  type ServerContextOf,
} from '../server-context.js';
import { parseInferRequest, TEXT_INPUT, type TensorMetadata } from '../tensors.js';

/** The platform name the protocol gives ONNX models run by ONNX Runtime. */
export const PLATFORM = 'onnx_onnxv1';

/** Model metadata: the ONNX signature plus the `text` input the server preprocesses. */
export function modelMetadata(model: ModelVersion) {
  const { tensors } = model.model;
  const inputs: TensorMetadata[] = [
    { name: tensors.input, datatype: 'INT64', shape: [-1, -1] },
    { name: TEXT_INPUT, datatype: 'BYTES', shape: [-1] },
  ];
  const outputs: TensorMetadata[] = [
    { name: tensors.score, datatype: 'FP32', shape: [-1] },
    { name: tensors.logit, datatype: 'FP32', shape: [-1] },
  ];
  return { name: model.name, versions: [model.version], platform: PLATFORM, inputs, outputs };
}

const MODEL = '/v2/models/:name';
const VERSIONED = '/v2/models/:name/versions/:version';

function servingModel(c: ServerContextOf, ctx: ServerContext): ModelVersion {
  const name = c.req.param('name') ?? '';
  const version = c.req.param('version');
  const model = ctx.models.get(name, version);
  if (!model) throw modelNotFound(name, version);
  c.set('model', model.name);
  c.set('version', model.version);
  return model;
}

export function registerOipRoutes(app: ServerApp, ctx: ServerContext): void {
  route(app, 'GET', ['/v2/health/live'], 'health', (c) => c.json({ live: true }));

  route(app, 'GET', ['/v2/health/ready'], 'health', (c) => {
    const ready = ctx.models.ready && !ctx.state.draining;
    return c.json({ ready }, ready ? 200 : 503);
  });

  route(app, 'GET', ['/v2'], 'metadata', (c) =>
    c.json({ name: 'ledge', version: VERSION, extensions: ctx.modelControl ? ['model_repository'] : [] }),
  );

  route(app, 'GET', [MODEL, VERSIONED], 'metadata', (c) => c.json(modelMetadata(servingModel(c, ctx))));

  route(app, 'GET', [`${MODEL}/ready`, `${VERSIONED}/ready`], 'health', (c) => {
    const model = servingModel(c, ctx);
    const ready = !ctx.state.draining;
    return c.json({ name: model.name, ready }, ready ? 200 : 503);
  });

  route(app, 'POST', [`${MODEL}/infer`, `${VERSIONED}/infer`], 'infer', async (c) => {
    const name = c.req.param('name') ?? '';
    const version = c.req.param('version');
    // Unknown models are refused before the body is read; the version is leased after it is.
    servingModel(c, ctx);
    const body = await readJsonBody(c.req.raw, incomingOf(c), ctx.limits.bodyLimit);
    const { model, release } = ctx.models.acquire(name, version);
    c.set('version', model.version);
    try {
      const { tensors } = model.model;
      const request = parseInferRequest(
        body,
        {
          input: tensors.input,
          outputs: [tensors.score, tensors.logit],
          buckets: model.model.features.buckets,
        },
        ctx.limits.maxInstances,
      );
      const scored =
        request.input.kind === 'text'
          ? await predictTexts(ctx, model, request.input.texts)
          : await scoreDocs(model, request.input.rows);
      c.set('queueSeconds', scored.queueSeconds);
      const batch = scored.score.length;
      const outputs = request.outputs.map((output) => ({
        name: output,
        datatype: 'FP32',
        shape: [batch],
        data: Array.from(output === tensors.score ? scored.score : scored.logit),
      }));
      return c.json({
        model_name: model.name,
        model_version: model.version,
        ...(request.id === undefined ? {} : { id: request.id }),
        outputs,
      });
    } finally {
      release();
    }
  });
}

/** Thrown for every path the server does not know. */
export const routeNotFound = (method: string, path: string) =>
  new ServerError(
    'route-not-found',
    `no route for ${method} ${path.length > 200 ? `${path.slice(0, 200)}…` : path}`,
  );
