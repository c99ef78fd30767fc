/**
 * What asked for a control run, in words: one short line per cause for tables (as `ledge run
 * --cause` summarises them), and a sentence for the chain from a change to a deployment.
 */
import type { QueueRun } from '../api-types.js';
import { formatTime } from './format.js';

type Cause = QueueRun['causes'][number];

function textOf(cause: Cause, key: string): string | undefined {
  return typeof cause[key] === 'string' ? (cause[key] as string) : undefined;
}

const shortSha = (sha: string | undefined) => (sha ? sha.slice(0, 12) : undefined);

function changedPaths(cause: Cause): string {
  const paths = Array.isArray(cause.paths) ? cause.paths.map(String) : [];
  return `${paths.slice(0, 3).join(', ')}${paths.length > 3 ? ` and ${paths.length - 3} more` : ''}`;
}

/** One line per cause, as `ledge run --cause` summarises them. */
export function causeLine(cause: Cause): string {
  const text = (key: string) => textOf(cause, key);
  switch (cause.kind) {
    case 'manual':
      return `manual${text('user') ? ` (${text('user')})` : ''}${text('note') ? `: ${text('note')}` : ''}${cause.force === true ? ', forced' : ''}`;
    case 'webhook':
      return `webhook ${text('provider') ?? ''}${text('delivery') ? `, delivery ${text('delivery')}` : ''}${text('commit') ? `, commit ${shortSha(text('commit'))}` : ''}`;
    case 'commit':
      return `commit ${shortSha(text('commit')) ?? '?'} on ${text('branch') ?? '?'}`;
    case 'schedule':
      return `schedule ${text('name') ?? text('cron') ?? ''}${cause.catchUp === true ? ', made up after a stop' : ''}`.trim();
    case 'file':
      return `changed ${changedPaths(cause)}`;
    default:
      return cause.kind;
  }
}

/** The causes of one run on one line: at most three, then how many more. */
export function causesLine(causes: Cause[]): string {
  const lines = causes.map(causeLine);
  return lines.length <= 3
    ? lines.join('; ')
    : `${lines.slice(0, 2).join('; ')} and ${lines.length - 2} more`;
}

const PROVIDERS: Record<string, string> = { github: 'GitHub', gitlab: 'GitLab' };

/**
 * A cause as a sentence for the chain: `params.yaml changed`, `push 4f1c2d3e5a6b to main
 * (GitHub webhook, delivery …)`, `schedule nightly`, `manual run by ci: from the dashboard`.
 */
export function causeSentence(cause: Cause): string {
  const text = (key: string) => textOf(cause, key);
  switch (cause.kind) {
    case 'file':
      return `${changedPaths(cause) || 'watched files'} changed`;
    case 'webhook': {
      const provider = text('provider') ?? '';
      const commit = shortSha(text('commit'));
      return `push ${commit ? `${commit} ` : ''}to ${text('branch') ?? 'the watched branch'} (${PROVIDERS[provider] ?? provider} webhook${text('delivery') ? `, delivery ${text('delivery')}` : ''})`;
    }
    case 'commit':
      return `new commit ${shortSha(text('commit')) ?? '?'} on ${text('branch') ?? '?'}${text('remote') ? ` of ${text('remote')}` : ''}`;
    case 'schedule': {
      const missed =
        typeof cause.missed === 'number' && cause.missed > 1 ? ` (${cause.missed} times missed)` : '';
      return `schedule ${text('name') ?? text('cron') ?? ''}${text('scheduledFor') ? ` for ${formatTime(text('scheduledFor')!)} UTC` : ''}${cause.catchUp === true ? `, made up after a stop${missed}` : ''}`;
    }
    case 'manual':
      return `manual run${text('user') ? ` by ${text('user')}` : ''}${text('note') ? `: ${text('note')}` : ''}${cause.force === true ? ' (forced)' : ''}`;
    default:
      return cause.kind;
  }
}
