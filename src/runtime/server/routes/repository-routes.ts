/**
 * The model repository extension (as Triton and MLServer define it), for hot swap over HTTP:
 *
 *     POST /v2/repository/index                 [{"name", "version", "state"}]
 *     POST /v2/repository/models/{name}/load    {"parameters": {"location": "<bundle>", "version": "2"}}
 *     POST /v2/repository/models/{name}/unload
 *
 * A load without `location` reloads the serving bundle under the same version; with a
 * `location` and no `version`, the version after the serving one (1 for a new model).
 */
import { badRequest, modelNotFound } from '../http-errors.js';
import { readJsonBody } from '../request-body.js';
import {
  incomingOf,
  route,
  type ServerApp,
  type ServerContext,
  type ServerContextOf,
} from '../server-context.js';
import { parseParameters } from '../tensors.js';

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** A body that may be absent: `{}` then. */
async function optionalBody(c: ServerContextOf, ctx: ServerContext): Promise<Record<string, unknown>> {
  const length = c.req.header('content-length');
  const chunked = c.req.header('transfer-encoding') !== undefined;
  if (!chunked && (length === undefined || length === '0')) return {};
  const body = await readJsonBody(c.req.raw, incomingOf(c), ctx.limits.bodyLimit);
  if (!isObject(body)) throw badRequest('expected a JSON object');
  return body;
}

export function registerRepositoryRoutes(app: ServerApp, ctx: ServerContext): void {
  route(app, 'POST', ['/v2/repository/index'], 'repository', (c) =>
    c.json(
      ctx.models.versions().map((v) => ({
        name: v.name,
        version: v.version,
        state: v.state === 'ready' ? 'READY' : 'UNLOADING',
      })),
    ),
  );

  route(app, 'POST', ['/v2/repository/models/:name/load'], 'repository', async (c) => {
    const name = c.req.param('name') ?? '';
    const body = await optionalBody(c, ctx);
    const parameters = parseParameters(body.parameters, 'load') ?? {};
    const { location, version } = parameters;
    if (location !== undefined && (typeof location !== 'string' || location === ''))
      throw badRequest('parameters.location must be the path of a model bundle');
    if (version !== undefined && typeof version !== 'string')
      throw badRequest('parameters.version must be a string, e.g. "2"');
    const serving = ctx.models.get(name);
    if (location === undefined && !serving)
      throw badRequest(`model '${name}' is not loaded; give parameters.location, the bundle to load`);
    const loaded = await ctx.models.load(
      name,
      version ?? (location === undefined ? serving!.version : ctx.versionAfter(name)),
      location ?? serving!.location,
    );
    c.set('model', loaded.name);
    c.set('version', loaded.version);
    return c.json({ name: loaded.name, version: loaded.version });
  });

  route(app, 'POST', ['/v2/repository/models/:name/unload'], 'repository', async (c) => {
    const name = c.req.param('name') ?? '';
    const serving = ctx.models.get(name);
    if (!serving) throw modelNotFound(name, undefined);
    await optionalBody(c, ctx);
    await ctx.models.unload(name);
    return c.json({ name, version: serving.version });
  });
}
