/**
 * Which commit a run must run, as a pure decision from its causes: a push (webhook) or a new
 * commit on the watched branch names the branch and the commit; when several were coalesced
 * into one run, the newest (the last to arrive) wins, so the follow-up run goes to the tip.
 * Runs asked for otherwise (a saved file, a schedule, a person) use the workspace as it is.
 */
import type { RunCause } from '../../metadata/control-runs.js';

export interface CommitTarget {
  branch: string;
  /** The pushed commit; undefined when the push named none (then: the branch's tip after fetching). */
  commit: string | undefined;
}

const SHA = /^[0-9a-f]{7,64}$/i;

export function commitTarget(causes: RunCause[]): CommitTarget | undefined {
  for (const cause of [...causes].reverse()) {
    if (cause.kind !== 'webhook' && cause.kind !== 'commit') continue;
    if (typeof cause.branch !== 'string' || cause.branch === '') continue;
    const commit = typeof cause.commit === 'string' && SHA.test(cause.commit) ? cause.commit : undefined;
    return { branch: cause.branch, commit };
  }
  return undefined;
}
