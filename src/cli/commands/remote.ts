/** `ledge remote add|list|remove|default`: where objects are pushed to and pulled from. */
import type { Command } from 'commander';
import { LedgeError } from '../../core/errors.js';
import type { CommandContext } from '../context.js';

interface AddOptions {
  default?: boolean;
  local?: boolean;
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
}

function requireRemote(remotes: Record<string, unknown>, name: string): void {
  if (!remotes[name])
    throw new LedgeError('usage', `no remote named '${name}'`, { hint: 'see `ledge remote list`' });
}

export function registerRemoteCommands(program: Command, context: () => CommandContext): void {
  const remote = program
    .command('remote')
    .description('manage remotes: local directories and S3-compatible storage');

  remote
    .command('add')
    .description('add a remote: /path, file:///path or s3://bucket/prefix')
    .argument('<name>', 'a short name, e.g. origin')
    .argument('<url>', 'where objects go')
    .option('-d, --default', 'make it the default remote')
    .option('--local', 'write to .ledge/config.local.yaml (not committed) instead of config.yaml')
    .option('--endpoint <url>', 'S3 endpoint URL, for S3-compatible servers (MinIO, Ceph, ...)')
    .option('--region <region>', 'S3 region')
    .option('--force-path-style', 'address S3 buckets by path instead of virtual host')
    .action(async (name: string, url: string, opts: AddOptions) => {
      const ctx = context();
      if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
        throw new LedgeError('usage', `remote name '${name}' is invalid`, {
          hint: 'use letters, digits, ., _ and -',
        });
      }
      const { parseRemoteUrl } = await import('../../store/remote/open-remote.js');
      await ctx.withStore(async (store) => {
        parseRemoteUrl(url, { baseDir: store.ws.root, name });
        if (store.ws.config.remotes[name]) {
          throw new LedgeError('usage', `remote '${name}' already exists`, {
            hint: `remove it first with \`ledge remote remove ${name}\``,
          });
        }
        store.ws.updateConfig(opts.local ? 'local' : 'shared', (config) => {
          config.remotes ??= {};
          config.remotes[name] = {
            url,
            ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
            ...(opts.region ? { region: opts.region } : {}),
            ...(opts.forcePathStyle ? { force_path_style: true } : {}),
          };
          if (opts.default) config.core = { ...config.core, remote: name };
        });
        ctx.say(`added remote ${name} -> ${url}${opts.default ? ' (default)' : ''}`);
      });
    });

  remote
    .command('list')
    .description('list remotes')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { json?: boolean }) => {
      const ctx = context();
      await ctx.withStore(async (store) => {
        const config = store.ws.config;
        const rows = Object.entries(config.remotes).map(([name, settings]) => ({
          name,
          url: settings.url,
          default: name === config.remote,
          ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
          ...(settings.region ? { region: settings.region } : {}),
        }));
        if (opts.json) return ctx.json(rows);
        if (rows.length === 0) ctx.say('No remotes. Add one with `ledge remote add NAME URL --default`.');
        for (const row of rows) {
          const extra = row.endpoint ? ` (endpoint ${row.endpoint})` : '';
          ctx.say(`${row.default ? '*' : ' '} ${row.name}\t${row.url}${extra}`);
        }
      });
    });

  remote
    .command('remove')
    .description('remove a remote (its stored objects are left alone)')
    .argument('<name>')
    .action(async (name: string) => {
      const ctx = context();
      await ctx.withStore(async (store) => {
        requireRemote(store.ws.config.remotes, name);
        for (const which of ['shared', 'local'] as const) {
          store.ws.updateConfig(which, (config) => {
            if (config.remotes) delete config.remotes[name];
            if (config.core?.remote === name) delete config.core.remote;
          });
        }
        store.state.forgetRemote(name);
        ctx.say(`removed remote ${name}`);
      });
    });

  remote
    .command('default')
    .description('set the default remote')
    .argument('<name>')
    .action(async (name: string) => {
      const ctx = context();
      await ctx.withStore(async (store) => {
        requireRemote(store.ws.config.remotes, name);
        store.ws.updateConfig('shared', (config) => {
          config.core = { ...config.core, remote: name };
        });
        ctx.say(`default remote is now ${name}`);
      });
    });
}
