/**
 * Coalescing, as pure decisions: a trigger that arrives while a run is queued joins it (its
 * cause is added, its stages merged) instead of queueing another run. With one run active and
 * at most one queued, any burst of triggers becomes at most two runs. A forced request (a
 * person's `--force`) joins only a forced run, so at most one of each waits.
 */
import type { RunCause } from '../../metadata/control-runs.js';

export interface RunRequest {
  causes: RunCause[];
  /** Stages asked for; empty: the whole pipeline. */
  stages: string[];
}

/** Stages of two requests run together: everything if either wants everything, else both sets. */
export function mergeStages(a: string[], b: string[]): string[] {
  if (a.length === 0 || b.length === 0) return [];
  return [...new Set([...a, ...b])];
}

export function mergeRequests(a: RunRequest, b: RunRequest): RunRequest {
  return { causes: [...a.causes, ...b.causes], stages: mergeStages(a.stages, b.stages) };
}

export type EnqueuePlan =
  | { action: 'create'; request: RunRequest }
  | { action: 'merge'; into: number; request: RunRequest };

/** Whether a request (or run) asks for its stages to run even when up to date (`ledge run --force`). */
export function isForced(request: { causes: RunCause[] }): boolean {
  return request.causes.some((cause) => cause.force === true);
}

/**
 * What to do with a new request given the runs waiting in the queue (oldest first): join the
 * first that is forced as much as it is (a forced request would otherwise force a whole merged
 * run; an unforced one must not lose its force), else a new run.
 */
export function planEnqueue(waiting: ({ id: number } & RunRequest)[], request: RunRequest): EnqueuePlan {
  const into = waiting.find((run) => isForced(run) === isForced(request));
  if (!into) return { action: 'create', request };
  return { action: 'merge', into: into.id, request: mergeRequests(into, request) };
}

/** One line for a cause, as `ledge run --cause` records it and the dashboard shows it. */
export function describeCause(cause: RunCause): string {
  const text = (key: string) => (typeof cause[key] === 'string' ? (cause[key] as string) : undefined);
  const short = (sha: string | undefined) => (sha ? sha.slice(0, 12) : undefined);
  const parts: string[] = [];
  switch (cause.kind) {
    case 'webhook':
      parts.push(`webhook ${text('provider') ?? ''}`.trim());
      if (text('delivery')) parts.push(`delivery ${text('delivery')}`);
      if (text('commit')) parts.push(`commit ${short(text('commit'))}`);
      break;
    case 'commit':
      parts.push(`commit ${short(text('commit')) ?? '?'} on ${text('branch') ?? '?'}`);
      break;
    case 'schedule':
      parts.push(`schedule ${text('name') ?? text('cron') ?? ''}`.trim());
      if (cause.catchUp === true) parts.push('made up after a stop');
      break;
    case 'file': {
      const paths = Array.isArray(cause.paths) ? (cause.paths as string[]) : [];
      parts.push(
        `changed ${paths.slice(0, 3).join(', ')}${paths.length > 3 ? ` and ${paths.length - 3} more` : ''}`,
      );
      break;
    }
    case 'manual':
      parts.push(
        `manual${text('user') ? ` (${text('user')})` : ''}${text('note') ? `: ${text('note')}` : ''}`,
      );
      if (cause.force === true) parts.push('forced');
      break;
    default:
      parts.push(cause.kind);
  }
  // One line, whatever a note or a path holds.
  return parts.join(', ').replace(/[\u0000-\u001f\u007f]+/g, ' ');
}

/** The `--cause` text of a control run: `control run 7: webhook github, delivery …; schedule nightly`. */
export function causeText(runId: number, causes: RunCause[]): string {
  const seen = new Map<string, number>();
  for (const cause of causes) {
    const line = describeCause(cause);
    seen.set(line, (seen.get(line) ?? 0) + 1);
  }
  const lines = [...seen].map(([line, n]) => (n > 1 ? `${line} (×${n})` : line));
  const shown = lines.slice(0, 5).join('; ');
  return `${causePrefix(runId)} ${shown}${lines.length > 5 ? `; and ${lines.length - 5} more triggers` : ''}`;
}

/** How a pipeline run's cause starts when a control run started it (to find it again). */
export function causePrefix(runId: number): string {
  return `control run ${runId}:`;
}
