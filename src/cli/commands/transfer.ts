/** `ledge push|fetch|pull`: move objects between the cache and a remote. */
import type { Command } from 'commander';
import { LedgeError } from '../../core/errors.js';
import type { TransferResult } from '../../store/transfer.js';
import type { CommandContext } from '../context.js';
import { count, formatBytes } from '../format.js';

interface TransferFlags {
  remote?: string;
  jobs?: string;
  json?: boolean;
  force?: boolean;
}

function jobsOf(flags: TransferFlags): number | undefined {
  if (flags.jobs === undefined) return undefined;
  const jobs = Number(flags.jobs);
  if (!Number.isInteger(jobs) || jobs < 1) {
    throw new LedgeError('usage', `--jobs must be a positive integer, not '${flags.jobs}'`);
  }
  return jobs;
}

function summary(verb: string, r: TransferResult, seconds: number): string {
  const rate = seconds > 0 && r.bytes > 0 ? `, ${formatBytes(r.bytes / seconds)}/s` : '';
  const missing =
    r.missingLocally > 0 ? `; ${r.missingLocally} objects not in the local cache were skipped` : '';
  return `${verb} ${count(r.transferred, 'object')} (${formatBytes(r.bytes)}${rate}), ${r.skipped} already there, remote ${r.remote}${missing}`;
}

export function registerTransferCommands(program: Command, context: () => CommandContext): void {
  const withFlags = (command: Command) =>
    command
      .argument('[paths...]', 'tracked paths (default: all)')
      .option('-r, --remote <name>', 'remote to use (default: the default remote)')
      .option('-j, --jobs <n>', 'parallel transfers (default 16)')
      .option('--json', 'print the result as JSON');

  withFlags(program.command('push').description('upload the objects the remote lacks'))
    .option('--verify-remote', 'ask the remote what it holds even for versions pushed before')
    .action(async (paths: string[], flags: TransferFlags & { verifyRemote?: boolean }) => {
      const ctx = context();
      const [{ push }, { resolveTrackedAndOutputs }] = await Promise.all([
        import('../../store/transfer.js'),
        import('../../pipeline/pipeline-outputs.js'),
      ]);
      const started = performance.now();
      const result = await ctx.withLockedStore('ledge push', (store) =>
        push(store, resolveTrackedAndOutputs(store.ws, paths, ctx.cwd), {
          remote: flags.remote,
          jobs: jobsOf(flags),
          progress: ctx.progress,
          verifyRemote: flags.verifyRemote,
        }),
      );
      if (flags.json) return ctx.json(result);
      if (result.objects === 0 && result.upToDate) {
        ctx.say(`everything up to date on ${result.remote} (${count(result.upToDate, 'tracked path')})`);
        return;
      }
      ctx.say(summary('pushed', result, (performance.now() - started) / 1000));
    });

  withFlags(
    program.command('fetch').description('download missing objects into the cache (workspace untouched)'),
  ).action(async (paths: string[], flags: TransferFlags) => {
    const ctx = context();
    const [{ fetch }, { resolveTrackedAndOutputs }] = await Promise.all([
      import('../../store/transfer.js'),
      import('../../pipeline/pipeline-outputs.js'),
    ]);
    const started = performance.now();
    const result = await ctx.withLockedStore('ledge fetch', (store) =>
      fetch(store, resolveTrackedAndOutputs(store.ws, paths, ctx.cwd), {
        remote: flags.remote,
        jobs: jobsOf(flags),
        progress: ctx.progress,
      }),
    );
    if (flags.json) return ctx.json(result);
    ctx.say(summary('fetched', result, (performance.now() - started) / 1000));
  });

  withFlags(program.command('pull').description('fetch, then check out'))
    .option('-f, --force', 'overwrite workspace changes that are not in the cache')
    .action(async (paths: string[], flags: TransferFlags) => {
      const ctx = context();
      const [{ fetch }, { resolveTrackedAndOutputs }, { checkout }] = await Promise.all([
        import('../../store/transfer.js'),
        import('../../pipeline/pipeline-outputs.js'),
        import('../../store/checkout.js'),
      ]);
      const started = performance.now();
      const { fetched, checkedOut } = await ctx.withLockedStore('ledge pull', async (store) => {
        const tracked = resolveTrackedAndOutputs(store.ws, paths, ctx.cwd);
        const fetched = await fetch(store, tracked, {
          remote: flags.remote,
          jobs: jobsOf(flags),
          progress: ctx.progress,
        });
        const checkedOut = await checkout(store, tracked, { force: flags.force, progress: ctx.progress });
        return { fetched, checkedOut };
      });
      if (flags.json) return ctx.json({ fetch: fetched, checkout: checkedOut });
      ctx.say(summary('fetched', fetched, (performance.now() - started) / 1000));
      for (const r of checkedOut) {
        ctx.say(
          `${r.path}: ${count(r.written, 'file')} written, ${r.deleted} deleted, ${r.unchanged} unchanged`,
        );
      }
    });
}
