/**
 * `startUi`: the dashboard served by this process on `host:port` (127.0.0.1:8686 by default;
 * port 0 picks a free one). Returns the URL to open and `close()`.
 */
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { LedgeError } from '../core/errors.js';
import { createUiApp, type UiAppOptions } from './app.js';

export const DEFAULT_UI_HOST = '127.0.0.1';
export const DEFAULT_UI_PORT = 8686;

export interface UiOptions extends Omit<UiAppOptions, 'allowAnyHost'> {
  host?: string | undefined;
  port?: number | undefined;
}

export interface RunningUi {
  /** Where to open it: `http://127.0.0.1:8686/` */
  url: string;
  host: string;
  port: number;
  /** Stops listening and ends open connections. */
  close(): Promise<void>;
}

/** Whether `host` is a loopback address or name (only this machine can connect). */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

function browsableUrl(host: string, port: number): string {
  const shown = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}/`;
}

export async function startUi(options: UiOptions): Promise<RunningUi> {
  const host = options.host ?? DEFAULT_UI_HOST;
  const requestedPort = options.port ?? DEFAULT_UI_PORT;
  // On a public address, people reach it by whatever name or address they use.
  const app = createUiApp({ ...options, allowAnyHost: !isLoopbackHost(host) });
  const server = serve({ fetch: app.fetch, hostname: host, port: requestedPort });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('listening', () => resolve((server.address() as AddressInfo).port));
    server.once('error', (error: NodeJS.ErrnoException) => {
      const hint =
        error.code === 'EADDRINUSE'
          ? 'another program uses this port: choose another with --port (0 picks a free one)'
          : 'check --host and --port';
      reject(
        new LedgeError(
          'io',
          `cannot serve the dashboard on ${host}:${requestedPort}: ${error.code ?? error.message}`,
          {
            hint,
            cause: error,
          },
        ),
      );
    });
  });
  let closing: Promise<void> | undefined;
  return {
    url: browsableUrl(host, port),
    host,
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Browsers keep connections open; without this, close would wait for them.
        if ('closeAllConnections' in server) server.closeAllConnections();
      });
      return closing;
    },
  };
}
