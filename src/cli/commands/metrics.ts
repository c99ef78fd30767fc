/** `ledge metrics show|diff`: the metrics files stages write, now and at a git revision. */
import type { Command } from 'commander';
import { LedgeError } from '../../core/errors.js';
import type { Store } from '../../store/store.js';
import type { CommandContext } from '../context.js';
import { formatChange, formatValue, table } from '../table.js';

/**
 * Workspace-relative metrics files: the given ones, else those ledge.yaml declares
 * (undefined: leave the choice to the reader, which may add more).
 */
function givenPaths(store: Store, paths: string[], cwd: string): string[] | undefined {
  if (paths.length === 0) return undefined;
  return [...new Set(paths.map((p) => store.ws.relativePath(p, cwd)))];
}

async function declaredOrFail(store: Store): Promise<string[]> {
  const [{ declaredMetricsFiles }, { PIPELINE_FILE }] = await Promise.all([
    import('../../pipeline/metrics-files.js'),
    import('../../pipeline/pipeline-file.js'),
  ]);
  const declared = declaredMetricsFiles(store.ws.root);
  if (declared === undefined) {
    throw new LedgeError('path-not-found', `no ${PIPELINE_FILE} in the workspace root ${store.ws.root}`, {
      hint: 'name the metrics files: ledge metrics show FILE…',
    });
  }
  return declared;
}

export function registerMetricsCommands(program: Command, context: () => CommandContext): void {
  const metrics = program
    .command('metrics')
    .description('show and compare the JSON metrics files stages write');

  metrics
    .command('show')
    .description('print the metrics files ledge.yaml declares (or the given files), one key per line')
    .argument('[paths...]', 'metrics JSON files (default: those ledge.yaml declares)')
    .option('--json', 'print {path: {key: value}} as JSON (null for a missing file)')
    .action(async (paths: string[], flags: { json?: boolean }) => {
      const ctx = context();
      const { readWorkspaceMetrics } = await import('../../pipeline/metrics-files.js');
      const files = await ctx.withStore(async (store) =>
        readWorkspaceMetrics(
          store.ws.root,
          givenPaths(store, paths, ctx.cwd) ?? (await declaredOrFail(store)),
        ),
      );
      if (flags.json)
        return ctx.json(Object.fromEntries(files.map((file) => [file.path, file.values ?? null])));
      if (files.length === 0) return ctx.say('No metrics files: ledge.yaml declares none.');
      const rows: string[][] = [];
      for (const file of files) {
        if (!file.values) rows.push([file.path, '(missing)']);
        else if (Object.keys(file.values).length === 0) rows.push([file.path, '(empty)']);
        else
          for (const [key, value] of Object.entries(file.values))
            rows.push([file.path, key, formatValue(value)]);
      }
      for (const line of table(rows)) ctx.say(line);
    });

  metrics
    .command('diff')
    .description('compare the metrics in the workspace with those at a git revision')
    .argument('[rev]', 'git revision to compare with', 'HEAD')
    .argument(
      '[paths...]',
      'metrics JSON files (default: those ledge.yaml declares and ledge.lock at REV lists)',
    )
    .option('-a, --all', 'also show metrics that did not change')
    .option('--json', 'print the result as JSON')
    .action(async (rev: string, paths: string[], flags: { all?: boolean; json?: boolean }) => {
      const ctx = context();
      const [{ readMetricsAtRevision, readWorkspaceMetrics }, { diffMetricsFiles }] = await Promise.all([
        import('../../pipeline/metrics-files.js'),
        import('../../pipeline/metrics.js'),
      ]);
      const { old, current } = await ctx.withStore(async (store) => {
        const old = readMetricsAtRevision(store, rev, givenPaths(store, paths, ctx.cwd));
        if (old.files.length === 0) await declaredOrFail(store);
        const current = readWorkspaceMetrics(
          store.ws.root,
          old.files.map((file) => file.path),
        );
        return { old, current };
      });
      const rows = diffMetricsFiles(old.files, current, { all: flags.all });
      const nowhere = old.files
        .filter((file, i) => file.values === undefined && current[i]!.values === undefined)
        .map((file) => file.path);
      if (flags.json) return ctx.json({ rev: old.rev, commit: old.commit, rows, missing: nowhere });
      for (const file of nowhere) ctx.note(`${file}: neither in the workspace nor at ${rev}`);
      if (old.files.length === 0)
        return ctx.say(`No metrics files: ledge.yaml declares none and ledge.lock at ${rev} lists none.`);
      if (rows.length === 0) return ctx.say(`No metrics changed since ${rev} (${old.commit.slice(0, 12)}).`);
      const lines = table([
        ['path', 'key', rev, 'workspace', 'change'],
        ...rows.map((row) => [
          row.path,
          row.key,
          formatValue(row.old),
          formatValue(row.new),
          formatChange(row),
        ]),
      ]);
      for (const line of lines) ctx.say(line);
    });
}
