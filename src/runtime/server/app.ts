/**
 * The inference server's HTTP application (Hono): the routes of each API, request accounting
 * for monitoring and shutdown, and the one place errors become responses — a ServerError as
 * `{"error": "…"}` with its status, anything else logged and answered 500 `internal error`.
 */
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ServerError } from './http-errors.js';
import { registerOipRoutes, routeNotFound } from './routes/oip-routes.js';
import { registerRepositoryRoutes } from './routes/repository-routes.js';
import { registerTextRoutes } from './routes/text-routes.js';
import type { ServerApp, ServerContext, ServerEnv } from './server-context.js';

export function createApp(ctx: ServerContext): ServerApp {
  const app = new Hono<ServerEnv>({ strict: false });

  app.use('*', async (c, next) => {
    const started = performance.now();
    ctx.state.inFlight++;
    try {
      await next();
    } finally {
      ctx.state.inFlight--;
      // While draining, clients must reconnect (and find the port closed) rather than keep
      // a connection alive that holds the shutdown up.
      if (ctx.state.draining) {
        try {
          c.res.headers.set('Connection', 'close');
        } catch {
          // An immutable response (none of ours): its connection closes with the server.
        }
      }
      try {
        ctx.monitor.onRequest({
          model: c.get('model') ?? '',
          version: c.get('version') ?? '',
          endpoint: c.get('endpoint') ?? 'unknown',
          status: c.res.status,
          durationSeconds: (performance.now() - started) / 1000,
          queueSeconds: c.get('queueSeconds') ?? 0,
        });
      } catch (error) {
        ctx.log.error('monitoring failed on a request', { error: String(error) });
      }
    }
  });

  registerOipRoutes(app, ctx);
  if (ctx.modelControl) registerRepositoryRoutes(app, ctx);
  registerTextRoutes(app, ctx);

  app.notFound((c) => {
    const error = routeNotFound(c.req.method, c.req.path);
    return c.json({ error: error.message }, error.status);
  });

  app.onError((error, c) => {
    if (error instanceof ServerError) return c.json({ error: error.message }, error.status);
    if (error instanceof HTTPException && error.status < 500)
      return c.json({ error: error.message || 'bad request' }, error.status);
    ctx.log.error('internal error', {
      method: c.req.method,
      path: c.req.path,
      error: error instanceof Error ? (error.stack ?? error.message) : String(error),
    });
    return c.json({ error: 'internal error' }, 500);
  });

  return app;
}
