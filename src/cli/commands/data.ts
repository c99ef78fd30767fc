/** Commands on the workspace and its cache: init, add, status, checkout, gc, fsck. */
import fs from 'node:fs';
import type { Command } from 'commander';
import type { Digest } from '../../core/digest.js';
import { isGitRepo } from '../../core/git.js';
import type { Store } from '../../store/store.js';
import type { CommandContext } from '../context.js';
import { count, formatBytes } from '../format.js';

/** Which stages of the workspace's ledge.yaml are stale, and why (undefined without a pipeline). */
async function pipelineStatus(store: Store) {
  const [{ PipelineExecutor }, { RunRecorder }, { loadPipeline }, { PIPELINE_FILE }] = await Promise.all([
    import('../../pipeline/executor.js'),
    import('../../pipeline/run-recorder.js'),
    import('./pipeline.js'),
    import('../../pipeline/pipeline-file.js'),
  ]);
  if (!fs.existsSync(store.ws.absolutePath(PIPELINE_FILE))) return undefined;
  const pipeline = await loadPipeline(store);
  const quiet = { stageStarting() {}, stageLine() {}, stageFinished() {}, note() {} };
  const recorder = new RunRecorder(
    () => Promise.reject(new Error('status does not open the metadata database')),
    store.ws.root,
    '',
  );
  const summary = await new PipelineExecutor(store, pipeline, recorder, quiet).run({
    targets: [],
    jobs: 1,
    force: false,
    dryRun: true,
    keepGoing: true,
    runCache: false,
    cause: 'status',
  });
  return summary.stages.map((s) => ({
    name: s.name,
    state: s.outcome === 'up-to-date' ? ('up-to-date' as const) : ('stale' as const),
    reasons: s.reasons,
  }));
}

export function registerDataCommands(program: Command, context: () => CommandContext): void {
  program
    .command('init')
    .description('create a ledge workspace (.ledge/) in the current directory')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { json?: boolean }) => {
      const ctx = context();
      const { Workspace } = await import('../../store/workspace.js');
      const { isGitRepo } = await import('../../core/git.js');
      const { workspace, created } = Workspace.init(ctx.cwd);
      const git = isGitRepo(workspace.root);
      if (opts.json) return ctx.json({ root: workspace.root, created, git });
      ctx.say(
        created
          ? `Initialized ledge workspace in ${workspace.root}${git ? '' : ' (not a git repository: pointer files will not be versioned until you git init)'}`
          : `ledge workspace already initialized in ${workspace.root}`,
      );
      if (created && git) ctx.say('Commit .ledge/config.yaml and .ledge/.gitignore.');
    });

  program
    .command('add')
    .description('store files or directories in the cache and write <path>.ledge pointer files to commit')
    .argument('<paths...>', 'files or directories to track')
    .option('--json', 'print the result as JSON')
    .action(async (paths: string[], opts: { json?: boolean }) => {
      const ctx = context();
      const { addPaths } = await import('../../store/add.js');
      const results = await ctx.withLockedStore(`ledge add ${paths.join(' ')}`, (store) =>
        addPaths(store, paths, { cwd: ctx.cwd, progress: ctx.progress }),
      );
      if (opts.json) return ctx.json(results);
      for (const r of results) {
        const what =
          r.type === 'dir' ? `${count(r.files, 'file')}, ${formatBytes(r.size)}` : formatBytes(r.size);
        ctx.say(`${r.changed ? 'added' : 'unchanged'} ${r.path} (${what}) -> ${r.pointerPath}`);
      }
      if (results.some((r) => r.changed)) {
        const pointers = results.filter((r) => r.changed).map((r) => r.pointerPath);
        ctx.say(`To track the changes with git: git add ${pointers.join(' ')} .gitignore`);
      }
    });

  program
    .command('status')
    .description('compare tracked paths with their pointer files, the cache and the default remote')
    .argument('[paths...]', 'tracked paths (default: all)')
    .option('--json', 'print the result as JSON')
    .option('-r, --remote [name]', 'ask the remote what it holds instead of using what ledge last saw')
    .action(async (paths: string[], opts: { json?: boolean; remote?: string | boolean }) => {
      const ctx = context();
      const [{ status }, { resolveTracked }, { remoteKnowledge }] = await Promise.all([
        import('../../store/status.js'),
        import('../../store/tracked-paths.js'),
        import('../../store/transfer.js'),
      ]);
      const entries = await ctx.withStore(async (store) => {
        const tracked = resolveTracked(store.ws, paths, ctx.cwd);
        const remoteName = typeof opts.remote === 'string' ? opts.remote : store.ws.config.remote;
        const remote = remoteName
          ? await remoteKnowledge(
              store,
              tracked,
              remoteName,
              opts.remote !== undefined && opts.remote !== false,
            )
          : undefined;
        const result = await status(store, tracked, { progress: ctx.progress, remote });
        const stages = paths.length === 0 ? await pipelineStatus(store) : undefined;
        return { remote: remoteName, entries: result, ...(stages ? { stages } : {}) };
      });
      if (opts.json) return ctx.json(entries);
      if (entries.stages) {
        ctx.say('Pipeline stages (ledge.yaml):');
        for (const s of entries.stages) {
          ctx.say(
            `  ${s.name}: ${s.state === 'up-to-date' ? 'up to date' : `stale (${s.reasons.join('; ')})`}`,
          );
        }
      }
      if (entries.entries.length === 0) {
        if (!entries.stages) ctx.say('No tracked paths. Track data with `ledge add <path>`.');
        return;
      }
      for (const e of entries.entries) {
        const notes: string[] = [];
        if (e.workspace === 'up-to-date') notes.push('up to date');
        else if (e.workspace === 'missing') notes.push('missing from workspace (ledge checkout)');
        else if (e.changes) {
          const c = e.changes;
          notes.push(
            `modified (${c.added.length} added, ${c.modified.length} modified, ${c.deleted.length} deleted)`,
          );
        } else notes.push('modified');
        if (e.missingFromCache > 0)
          notes.push(`${count(e.missingFromCache, 'object')} missing from cache (ledge pull)`);
        if (e.notPushed !== undefined && e.notPushed > 0) {
          notes.push(`${count(e.notPushed, 'object')} not pushed to ${entries.remote} (ledge push)`);
        }
        ctx.say(`${e.path}: ${notes.join('; ')}`);
        if (e.changes) {
          const lines = [
            ...e.changes.added.map((p) => `    added:    ${p}`),
            ...e.changes.modified.map((p) => `    modified: ${p}`),
            ...e.changes.deleted.map((p) => `    deleted:  ${p}`),
          ];
          for (const line of lines.slice(0, 20)) ctx.say(line);
          if (lines.length > 20) ctx.say(`    … and ${lines.length - 20} more (--json lists all)`);
        }
      }
    });

  program
    .command('checkout')
    .description('make the workspace match the pointer files (after git checkout, or to undo edits)')
    .argument('[paths...]', 'tracked paths (default: all)')
    .option('-f, --force', 'overwrite workspace changes that are not in the cache')
    .option('--json', 'print the result as JSON')
    .action(async (paths: string[], opts: { force?: boolean; json?: boolean }) => {
      const ctx = context();
      const [{ checkout }, { resolveTrackedAndOutputs }] = await Promise.all([
        import('../../store/checkout.js'),
        import('../../pipeline/pipeline-outputs.js'),
      ]);
      const results = await ctx.withLockedStore('ledge checkout', (store) =>
        checkout(store, resolveTrackedAndOutputs(store.ws, paths, ctx.cwd), {
          force: opts.force,
          progress: ctx.progress,
        }),
      );
      if (opts.json) return ctx.json(results);
      for (const r of results) {
        if (r.written === 0 && r.deleted === 0) ctx.say(`${r.path}: up to date`);
        else ctx.say(`${r.path}: ${count(r.written, 'file')} written, ${count(r.deleted, 'file')} deleted`);
      }
    });

  program
    .command('gc')
    .description('remove cache objects that nothing references')
    .option('-w, --workspace', 'keep what the workspace pointer files reference (the default)')
    .option('-a, --all-commits', 'also keep what any git commit references')
    .option('-n, --dry-run', 'only report what would be removed')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { allCommits?: boolean; dryRun?: boolean; json?: boolean }) => {
      const ctx = context();
      const [{ gc }, outputs] = await Promise.all([
        import('../../store/gc.js'),
        import('../../pipeline/pipeline-outputs.js'),
      ]);
      const result = await ctx.withLockedStore('ledge gc', async (store) => {
        // Stage outputs recorded in ledge.lock (and, with --all-commits, in any commit's) stay.
        const extraRoots = outputs.lockedOutputs(store.ws).map((t) => t.pointer);
        if (opts.allCommits && isGitRepo(store.ws.root)) {
          extraRoots.push(...(await outputs.lockedOutputsInHistory(store.ws)));
        }
        // Downloaded datasets are referenced from the cache's download index only.
        const { downloadedDigests } = await import('../../ml/data/download.js');
        for (const digest of downloadedDigests(store.cache)) {
          extraRoots.push({ version: 1, path: 'download', type: 'file', digest, size: 0 });
        }
        // Stage logs and registered models are referenced from the metadata database only.
        if (store.ws.config.dbUrl || fs.existsSync(ctx.metadataTarget(store))) {
          const metadata = await ctx.openMetadata(store);
          try {
            for (const digest of await metadata.logDigests()) {
              extraRoots.push({ version: 1, path: 'log', type: 'file', digest: digest as Digest, size: 0 });
            }
            // Registered model versions (bundles and .onnx files) stay materialisable.
            const { registeredModelDigests } = await import('../../metadata/model-registry.js');
            for (const { digest, kind } of await registeredModelDigests(metadata.db)) {
              extraRoots.push({
                version: 1,
                path: 'model',
                type: kind === 'bundle' ? 'dir' : 'file',
                digest,
                size: 0,
              });
            }
          } finally {
            await metadata.close();
          }
        }
        return gc(store, { allCommits: opts.allCommits, dryRun: opts.dryRun, extraRoots });
      });
      if (opts.json) return ctx.json(result);
      const verb = opts.dryRun ? 'would remove' : 'removed';
      ctx.say(
        `${verb} ${count(result.removed, 'object')} (${formatBytes(result.removedBytes)}), kept ${count(result.kept, 'object')}`,
      );
      if (result.tempsRemoved > 0)
        ctx.say(`${verb} ${count(result.tempsRemoved, 'temporary file')} of interrupted writes`);
      if (result.unknownManifests.length > 0) {
        ctx.note(
          `${count(result.unknownManifests.length, 'referenced directory manifest')} not in the cache; their files could not be protected`,
        );
      }
    });

  program
    .command('fsck')
    .description('re-hash every cache object and report corrupt ones')
    .option('--repair', 'replace corrupt objects with verified copies from the remote')
    .option('-r, --remote <name>', 'remote to repair from (default: the default remote)')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { repair?: boolean; remote?: string; json?: boolean }) => {
      const ctx = context();
      const { fsck } = await import('../../store/fsck.js');
      const run = (store: Parameters<typeof fsck>[0]) =>
        fsck(store, { repair: opts.repair, remote: opts.remote, progress: ctx.progress });
      const result = opts.repair
        ? await ctx.withLockedStore('ledge fsck --repair', run)
        : await ctx.withStore(run);
      const unresolved = opts.repair ? result.unrepaired.length : result.corrupt.length;
      if (unresolved > 0) process.exitCode = 1;
      if (opts.json) return ctx.json(result);
      if (result.corrupt.length === 0) ctx.say(`${count(result.checked, 'object')} checked, all intact`);
      for (const digest of result.corrupt) {
        const fate = result.repaired.includes(digest)
          ? 'repaired from remote'
          : result.unrepaired.includes(digest)
            ? 'removed; no intact copy on the remote'
            : 'run `ledge fsck --repair`';
        ctx.say(`corrupt: ${digest} (${fate})`);
      }
      if (result.corrupt.length > 0)
        ctx.say(`${count(result.checked, 'object')} checked, ${result.corrupt.length} corrupt`);
    });
}
