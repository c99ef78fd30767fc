/**
 * The text API: `POST /v1/models/{name}:predict` (texts, `{"text"}` objects or Keras-style
 * integer sequences in, labels, scores and prediction ids out), `POST /v1/feedback` (a delayed
 * label for a prediction id), and monitoring's views: `GET /v1/monitoring`, `GET /metrics`.
 */
import { badRequest, modelNotFound, ServerError, tooManyInstances } from '../http-errors.js';
import { predictTexts } from '../inference.js';
import type { ModelVersion } from '../model-slots.js';
import { readJsonBody } from '../request-body.js';
import { incomingOf, route, type ServerApp, type ServerContext } from '../server-context.js';

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Largest index accepted in a Keras-style sequence. */
const MAX_SEQUENCE_INDEX = 0x7fffffff;

/** One instance as text: a string, `{"text": "…"}`, or a Keras-style sequence of word indices. */
function instanceText(instance: unknown, index: number, model: ModelVersion): string {
  let text: string;
  if (typeof instance === 'string') text = instance;
  else if (isObject(instance) && typeof instance.text === 'string') text = instance.text;
  else if (Array.isArray(instance)) {
    for (const n of instance) {
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_SEQUENCE_INDEX)
        throw badRequest(`instances[${index}]: a sequence holds non-negative integer word indices only`);
    }
    text = model.model.vocabulary.decode(instance as number[]);
  } else {
    throw badRequest(
      `instances[${index}] must be a text, {"text": "..."} or a sequence of word indices [1, 14, 22, ...]`,
    );
  }
  if (text.trim() === '') throw badRequest(`instances[${index}] is empty`);
  return text;
}

export function registerTextRoutes(app: ServerApp, ctx: ServerContext): void {
  route(app, 'POST', ['/v1/models/:target'], 'predict', async (c) => {
    const target = c.req.param('target') ?? '';
    if (!target.endsWith(':predict'))
      throw new ServerError(
        'route-not-found',
        `no route for POST ${c.req.path}; did you mean ${c.req.path}:predict?`,
      );
    const name = target.slice(0, -':predict'.length);
    if (!ctx.models.get(name)) throw modelNotFound(name, undefined);
    c.set('model', name);
    const body = await readJsonBody(c.req.raw, incomingOf(c), ctx.limits.bodyLimit);
    if (!isObject(body) || !Array.isArray(body.instances))
      throw badRequest('expected {"instances": ["text", ...]}');
    const { instances } = body;
    if (instances.length === 0) throw badRequest('instances is empty');
    if (instances.length > ctx.limits.maxInstances)
      throw tooManyInstances(instances.length, ctx.limits.maxInstances);
    const { model, release } = ctx.models.acquire(name);
    c.set('version', model.version);
    try {
      const texts = instances.map((instance, i) => instanceText(instance, i, model));
      const result = await predictTexts(ctx, model, texts);
      c.set('queueSeconds', result.queueSeconds);
      const predictions = texts.map((_, i) => ({
        label: result.labels[i]!,
        score: result.score[i]!,
        id: result.ids[i]!,
      }));
      return c.json({ predictions });
    } finally {
      release();
    }
  });

  route(app, 'POST', ['/v1/feedback'], 'feedback', async (c) => {
    const body = await readJsonBody(c.req.raw, incomingOf(c), ctx.limits.bodyLimit);
    if (!isObject(body)) throw badRequest('expected {"id": "<prediction id>", "label": "<true label>"}');
    const { id, label } = body;
    if (typeof id !== 'string' || id === '' || id.length > 200)
      throw badRequest('id must be the prediction id a prediction returned');
    if (typeof label !== 'string' || label === '') throw badRequest('label must be a non-empty string');
    const known = new Set(ctx.models.list().flatMap((m) => m.model.labels));
    if (known.size > 0 && !known.has(label))
      throw badRequest(`label '${label.slice(0, 100)}' is not one of ${[...known].join(', ')}`);
    const { matched } = ctx.monitor.feedback(id, label);
    if (!matched) throw new ServerError('not-matched', `no logged prediction has id '${id}'`);
    return c.json({ matched });
  });

  route(app, 'GET', ['/v1/monitoring'], 'monitoring', (c) => c.json(ctx.monitor.snapshot()));

  route(app, 'GET', ['/metrics'], 'metrics', async (c) => {
    const { contentType, body } = await ctx.monitor.metrics();
    return c.body(body, 200, { 'Content-Type': contentType });
  });
}
