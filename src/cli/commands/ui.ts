/**
 * `ledge ui [--host 127.0.0.1] [--port 8686] [--server URL…]`: the dashboard, served by this
 * process until Ctrl-C. The CLI wires in what the dashboard may not import itself: logs from
 * the content store and the pipeline's run comparison.
 */
import type { Command } from 'commander';
import { isDigest } from '../../core/digest.js';
import { LedgeError } from '../../core/errors.js';
import type { MetadataStore } from '../../metadata/metadata-store.js';
import type { Store } from '../../store/store.js';
import type { DashboardServices } from '../../ui/api.js';
import type { CommandContext } from '../context.js';
import { untilInterrupted } from '../until-interrupted.js';

interface UiFlags {
  host: string;
  port: string;
  server: string[];
  refresh: string;
  json?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** What the dashboard gets from the store and the pipeline: logs by digest, run diffs. */
export async function dashboardServices(
  store: Store,
  metadata: MetadataStore,
): Promise<Pick<DashboardServices, 'readLog' | 'diffRuns'>> {
  const { diffExecutions } = await import('../../pipeline/run-records.js');
  return {
    readLog: (digest) => {
      if (!isDigest(digest) || !store.cache.has(digest)) return undefined;
      try {
        return store.cache.readBuffer(digest).toString('utf8');
      } catch {
        return undefined;
      }
    },
    diffRuns: (a, b, options) => diffExecutions(metadata, a, b, options),
  };
}

function portOf(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65_535)
    throw new LedgeError('usage', `--port must be a port number (0 to 65535), not '${text}'`);
  return port;
}

export function registerUiCommand(program: Command, context: () => CommandContext): void {
  program
    .command('ui')
    .description('serve the dashboard: runs, models, deployments and live monitoring, in a browser')
    .option('--host <host>', 'address to listen on (anything but loopback exposes your records)', '127.0.0.1')
    .option('-p, --port <port>', 'port to listen on; 0 picks a free one', '8686')
    .option('-s, --server <url>', 'a running `ledge serve` to monitor live (repeat for more)', collect, [])
    .option('--refresh <seconds>', 'seconds between live monitoring updates in the browser', '1.5')
    .option('--json', 'print {"url"} as JSON once serving')
    .action(async (flags: UiFlags) => {
      const ctx = context();
      const port = portOf(flags.port);
      const refreshSeconds = Number(flags.refresh);
      if (!Number.isFinite(refreshSeconds) || refreshSeconds < 0.5 || refreshSeconds > 60)
        throw new LedgeError('usage', `--refresh must be between 0.5 and 60 seconds, not '${flags.refresh}'`);
      const [{ startUi, isLoopbackHost }, { normalizeServerUrl }] = await Promise.all([
        import('../../ui/ui-server.js'),
        import('../../ui/live-monitoring.js'),
      ]);
      const servers = flags.server.map(normalizeServerUrl);
      const store = await ctx.openStore();
      let metadata: MetadataStore | undefined;
      try {
        metadata = await ctx.openMetadata(store);
        const ui = await startUi({
          host: flags.host,
          port,
          metadata,
          servers,
          refreshSeconds,
          ...(await dashboardServices(store, metadata)),
        });
        if (!isLoopbackHost(flags.host)) {
          ctx.note(
            `serving on ${flags.host}: anyone who can reach this address can read your runs and models`,
          );
        }
        if (flags.json) ctx.json({ url: ui.url });
        else ctx.say(`Dashboard at ${ui.url} (Ctrl-C to stop)`);
        const opened = metadata;
        // Stopping is how it ends: after a clean close, exit 0 (as `ledge serve` does).
        await untilInterrupted(async () => {
          await ui.close();
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
