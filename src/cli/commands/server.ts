/**
 * `ledge server`: the control plane of this workspace (docs/control-plane.md): the run queue,
 * the triggers of `.ledge/server.yaml`, the REST API and the dashboard, served until SIGTERM or
 * Ctrl-C. Logs are JSON lines on stderr; stdout gets the URL (or `{"url"}` with --json).
 */
import path from 'node:path';
import type { Command } from 'commander';
import { LedgeError } from '../../core/errors.js';
import type { MetadataStore } from '../../metadata/metadata-store.js';
import type { CommandContext } from '../context.js';
import { untilInterrupted } from '../until-interrupted.js';
import { dashboardServices } from './ui.js';

interface ServerFlags {
  host?: string;
  port?: string;
  publicRead?: boolean;
  onShutdown?: string;
  json?: boolean;
}

function portOf(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65_535)
    throw new LedgeError('usage', `--port must be a port number (0 to 65535), not '${text}'`);
  return port;
}

/** How this process runs ledge again, for the `ledge run` children. */
export function ledgeCommand(): string[] {
  const bin = process.argv[1];
  if (!bin) throw new LedgeError('io', 'cannot tell how ledge was started (no script path)');
  return [process.execPath, path.resolve(bin)];
}

export function registerServerCommand(program: Command, context: () => CommandContext): void {
  program
    .command('server')
    .description('run the control plane: run queue, triggers, REST API and dashboard, until stopped')
    .option('--host <host>', 'address to listen on (default: server.yaml host, else 127.0.0.1)')
    .option(
      '-p, --port <port>',
      'port to listen on; 0 picks a free one (default: server.yaml port, else 8787)',
    )
    .option('--public-read', 'let anyone who reaches it read the dashboard and the API without a token')
    .option('--on-shutdown <what>', 'on SIGTERM: cancel the running run, or let it finish (cancel|finish)')
    .option('--json', 'print {"url"} as JSON once serving')
    .action(async (flags: ServerFlags) => {
      const ctx = context();
      if (flags.onShutdown !== undefined && flags.onShutdown !== 'cancel' && flags.onShutdown !== 'finish')
        throw new LedgeError('usage', `--on-shutdown must be cancel or finish, not '${flags.onShutdown}'`);
      const [
        { readServerConfig },
        { startControlServer },
        { jsonLogger },
        { createUiApp },
        { isLoopbackHost },
      ] = await Promise.all([
        import('../../control/server-config.js'),
        import('../../control/server/control-server.js'),
        import('../../control/log.js'),
        import('../../ui/app.js'),
        import('../../ui/ui-server.js'),
      ]);
      const store = await ctx.openStore();
      let metadata: MetadataStore | undefined;
      try {
        const config = readServerConfig(store.ws.ledgeDir, store.ws.root);
        if (flags.host !== undefined) config.host = flags.host;
        if (flags.port !== undefined) config.port = portOf(flags.port);
        if (flags.publicRead) config.public_read = true;
        if (flags.onShutdown === 'cancel' || flags.onShutdown === 'finish')
          config.on_shutdown = flags.onShutdown;
        metadata = await ctx.openMetadata(store);
        const log = jsonLogger((line) => process.stderr.write(line));
        const dashboard = createUiApp({
          metadata,
          ...(await dashboardServices(store, metadata)),
          allowAnyHost: !isLoopbackHost(config.host),
          controlPlane: true,
        });
        const server = await startControlServer({
          root: store.ws.root,
          ledgeDir: store.ws.ledgeDir,
          stateDir: store.ws.stateDir,
          lockPath: store.ws.lockPath,
          metadata,
          config,
          ledge: ledgeCommand(),
          log,
          dashboard,
        });
        if (!isLoopbackHost(config.host) && config.public_read)
          ctx.note(`serving on ${config.host} with public read: anyone who can reach it can read your runs`);
        if (flags.json) ctx.json({ url: server.url });
        else ctx.say(`Control server at ${server.url} (Ctrl-C to stop)`);
        const opened = metadata;
        // Stopping is how it ends: after a clean close, exit 0 (as `ledge serve` does).
        await untilInterrupted(async () => {
          await server.close();
          await opened.close();
          store.close();
        });
      } catch (error) {
        await metadata?.close();
        store.close();
        throw error;
      }
    });
}
