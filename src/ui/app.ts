/**
 * The dashboard's HTTP application (Hono): the page, its stylesheet and browser modules, and
 * the JSON API. Read only, and careful with what it shows: a strict Content-Security-Policy
 * (scripts, styles and connections from this origin only, nothing inline), no framing, and —
 * when it listens on loopback — only requests addressed to a loopback name, so a web page
 * cannot read it through DNS rebinding.
 */
import { Hono } from 'hono';
import { secureHeaders } from 'hono/secure-headers';
import { VERSION } from '../core/version.js';
import { apiErrorResponse, createApi, type DashboardServices } from './api.js';
import { loadClientModules } from './client-assets.js';
import { listModelInfo, listRuns } from './dashboard-queries.js';
import { escapeHtml, renderPage, staticContent } from './page.js';
import { ICON_SVG, STYLES } from './styles.js';

export interface UiAppOptions extends DashboardServices {
  /**
   * Accept requests whatever their Host header says (when serving on a non-loopback address
   * on purpose). Default: only `localhost`, `127.x.x.x` and `[::1]`.
   */
  allowAnyHost?: boolean | undefined;
  /** The browser modules by path (default: read from the built package). */
  clientModules?: Map<string, string> | undefined;
}

const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])(:\d+)?$/i;

/** Whether a Host header names this machine's loopback interface. */
export function isLoopbackHostHeader(host: string | undefined): boolean {
  return host !== undefined && LOOPBACK_HOST.test(host.trim());
}

export function createUiApp(options: UiAppOptions): Hono {
  const modules = options.clientModules ?? loadClientModules();
  const app = new Hono();

  app.use('*', async (c, next) => {
    // In-memory requests (tests) carry no Host header: their URL says where they go.
    const host = c.req.header('host') ?? new URL(c.req.url).host;
    if (!options.allowAnyHost && !isLoopbackHostHeader(host)) {
      return c.text('This dashboard answers only requests to localhost or 127.0.0.1.\n', 403);
    }
    await next();
  });
  app.use(
    '*',
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        connectSrc: ["'self'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
      crossOriginEmbedderPolicy: false,
      // Plain http on this machine: HSTS has no meaning here.
      strictTransportSecurity: false,
      referrerPolicy: 'no-referrer',
      xFrameOptions: 'DENY',
    }),
  );

  app.get('/', async (c) => {
    let noscript: string;
    try {
      const [runs, models] = await Promise.all([
        listRuns(options.metadata, { limit: 50 }),
        listModelInfo(options.metadata),
      ]);
      noscript = staticContent(runs, models);
    } catch (error) {
      noscript = `<p>The records cannot be read: ${escapeHtml(apiErrorResponse(error).body.error)}</p>`;
    }
    c.header('Cache-Control', 'no-store');
    return c.html(renderPage({ version: VERSION, noscript }));
  });

  app.get('/assets/styles.css', (c) => {
    c.header('Content-Type', 'text/css; charset=utf-8');
    return c.body(STYLES);
  });
  app.get('/assets/icon.svg', (c) => {
    c.header('Content-Type', 'image/svg+xml');
    return c.body(ICON_SVG);
  });
  app.get('/assets/client/*', (c) => {
    const name = c.req.path.slice('/assets/client/'.length);
    const text = modules.get(name);
    if (text === undefined) return c.text('Not found\n', 404);
    c.header('Content-Type', 'text/javascript; charset=utf-8');
    c.header('Cache-Control', 'no-cache');
    return c.body(text);
  });

  app.route('/api', createApi(options));

  app.notFound((c) =>
    c.req.path.startsWith('/api/')
      ? c.json({ error: `no such API endpoint: ${c.req.path}` }, 404)
      : c.text('Not found\n', 404),
  );
  // Errors become responses here and nowhere else.
  app.onError((error, c) => {
    const { status, body } = apiErrorResponse(error);
    return c.json(body, status);
  });
  return app;
}
