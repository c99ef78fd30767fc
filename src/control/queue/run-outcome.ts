/**
 * How a finished `ledge run` child becomes a control run's status and reason, as a pure
 * decision from its exit, its `--json` summary and the tail of its stderr.
 */
import type { FinishedStatus } from '../../metadata/control-runs.js';

export interface RunExit {
  code: number | null;
  signal: string | null;
  /** `ledge run --json`'s summary, when it printed one. */
  summary?: { runId?: number; status?: string } | undefined;
  /** The last lines of what it wrote to stderr (stage output and `ledge: error:` lines). */
  stderrTail: string[];
}

export interface StopRequest {
  /** `cancelled` (someone asked) or `interrupted` (the server is shutting down). */
  as: 'cancelled' | 'interrupted';
  reason: string;
}

export interface RunOutcome {
  status: FinishedStatus;
  reason: string | null;
}

const GATE = /quality gate: (refusing .*|.* has no metric .*)$/;

export function runOutcome(exit: RunExit, stop?: StopRequest): RunOutcome {
  if (stop) return { status: stop.as, reason: stop.reason };
  if (exit.code === 0) {
    return {
      status: 'succeeded',
      reason: exit.summary?.status === 'up-to-date' ? 'nothing to do: every stage was up to date' : null,
    };
  }
  for (const line of [...exit.stderrTail].reverse()) {
    const gate = GATE.exec(line);
    if (gate) return { status: 'gated', reason: `quality gate: ${gate[1]}` };
  }
  if (exit.signal !== null || exit.code === 130 || exit.code === 143) {
    return {
      status: 'interrupted',
      reason: `ledge run was stopped by ${exit.signal ?? (exit.code === 130 ? 'SIGINT' : 'SIGTERM')} from outside the queue`,
    };
  }
  const error = [...exit.stderrTail].reverse().find((line) => line.startsWith('ledge: error: '));
  return {
    status: 'failed',
    reason: error ? error.slice('ledge: error: '.length) : `ledge run exited with code ${exit.code}`,
  };
}
