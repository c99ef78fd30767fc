/** `ledge lineage <path|digest>`: which stages, data and params produced it, and what used it. */
import type { Command } from 'commander';
import { type Digest, shortDigest } from '../../core/digest.js';
import { LedgeError } from '../../core/errors.js';
import type {
  DownstreamNode,
  LineageArtifact,
  LineageExecution,
  UpstreamNode,
} from '../../metadata/lineage.js';
import type { CommandContext } from '../context.js';
import { formatValue } from '../table.js';

interface LineageFlags {
  depth: string;
  upstreamOnly?: boolean;
  downstreamOnly?: boolean;
  json?: boolean;
}

type Flatten = (values: Record<string, unknown>) => Record<string, unknown>;

function artifactLine(node: LineageArtifact & { repeated?: true; truncated?: true }): string {
  const note = node.repeated ? '  (see above)' : node.truncated ? '  (depth limit: --depth to follow)' : '';
  return `${node.path}  ${shortDigest(node.digest as Digest)}${note}`;
}

function executionLine(e: LineageExecution): string {
  const run = e.runId === null ? '' : `, run ${e.runId}`;
  const commit = e.gitCommit ? `, commit ${e.gitCommit.slice(0, 12)}${e.gitDirty ? ' (dirty)' : ''}` : '';
  const restored = e.restoredFrom === undefined ? '' : `, restored from execution ${e.restoredFrom}`;
  return `${e.stage} (execution ${e.id}${run}) ${e.status} ${e.startedAt}${commit}${restored}`;
}

function paramsLine(e: LineageExecution, flatten: Flatten): string | undefined {
  const params = Object.entries(flatten(e.params));
  return params.length === 0
    ? undefined
    : `params: ${params.map(([k, v]) => `${k}=${formatValue(v)}`).join(' ')}`;
}

function upstreamLines(node: UpstreamNode, indent: string, flatten: Flatten, out: string[]): void {
  out.push(indent + artifactLine(node));
  const producer = node.producedBy;
  if (!producer) return;
  const others =
    producer.others === 0
      ? ''
      : `; ${producer.others} older execution${producer.others === 1 ? '' : 's'} wrote it too`;
  out.push(`${indent}  <- ${executionLine(producer.execution)}${others}`);
  const params = paramsLine(producer.execution, flatten);
  if (params) out.push(`${indent}       ${params}`);
  for (const input of producer.inputs) upstreamLines(input, `${indent}       `, flatten, out);
}

function downstreamLines(node: DownstreamNode, indent: string, flatten: Flatten, out: string[]): void {
  out.push(indent + artifactLine(node));
  for (const consumer of node.consumers) {
    out.push(`${indent}  -> ${executionLine(consumer.execution)}${consumer.repeated ? '  (see above)' : ''}`);
    if (consumer.repeated) continue;
    const params = paramsLine(consumer.execution, flatten);
    if (params) out.push(`${indent}       ${params}`);
    for (const output of consumer.outputs) downstreamLines(output, `${indent}       `, flatten, out);
  }
}

export function registerLineageCommand(program: Command, context: () => CommandContext): void {
  program
    .command('lineage')
    .description('show which stages, data and params produced an artifact, and what used it')
    .argument(
      '<target>',
      'a workspace path (as ledge.lock, its pointer file or its content says) or a sha256: digest',
    )
    .option('-d, --depth <n>', 'follow at most N stages each way', '10')
    .option('--upstream-only', 'only where it came from')
    .option('--downstream-only', 'only what used it')
    .option('--json', 'print the result as JSON')
    .action(async (target: string, flags: LineageFlags) => {
      const ctx = context();
      const depth = Number(flags.depth);
      if (!Number.isInteger(depth) || depth < 0)
        throw new LedgeError('usage', `--depth must be a non-negative integer, not '${flags.depth}'`);
      if (flags.upstreamOnly && flags.downstreamOnly)
        throw new LedgeError('usage', '--upstream-only and --downstream-only exclude each other');
      const [{ lineageOf }, { parseDigest }, { digestOfPath }, { flatten }] = await Promise.all([
        import('../../metadata/lineage.js'),
        import('../../core/digest.js'),
        import('../../pipeline/path-digest.js'),
        import('../../pipeline/metrics.js'),
      ]);
      const { resolved, lineage } = await ctx.withStore(async (store) => {
        const resolved = target.startsWith('sha256:')
          ? { path: undefined, digest: parseDigest(target), source: 'digest' as const }
          : await digestOfPath(store, store.ws.relativePath(target, ctx.cwd));
        const metadata = await ctx.openMetadata(store);
        try {
          const lineage = await lineageOf(metadata.db, resolved.digest, {
            depth,
            path: resolved.path,
            upstream: !flags.downstreamOnly,
            downstream: !flags.upstreamOnly,
          });
          return { resolved, lineage };
        } finally {
          await metadata.close();
        }
      });
      if (!lineage) {
        const what =
          resolved.path === undefined
            ? resolved.digest
            : `${resolved.source === 'workspace' ? 'the current content of ' : ''}${resolved.path} (${resolved.digest})`;
        throw new LedgeError('path-not-tracked', `nothing is recorded about ${what}`, {
          hint: 'lineage is what `ledge run` records, and no recorded stage read or wrote this version',
        });
      }
      if (flags.json) return ctx.json({ ...lineage, source: resolved.source });
      const lines: string[] = [];
      if (lineage.upstream) {
        lines.push('upstream (where it came from):');
        upstreamLines(lineage.upstream, '  ', flatten, lines);
        if (!lineage.upstream.producedBy) lines.push('    (no recorded stage wrote it)');
      }
      if (lineage.downstream) {
        if (lines.length > 0) lines.push('');
        lines.push('downstream (what used it):');
        downstreamLines(lineage.downstream, '  ', flatten, lines);
        if (lineage.downstream.consumers.length === 0) lines.push('    (no recorded stage read it)');
      }
      for (const line of lines) ctx.say(line);
    });
}
