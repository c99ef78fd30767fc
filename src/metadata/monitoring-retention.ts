/**
 * How long a serving process keeps monitoring history: window summaries and serving events older
 * than `keepDays` are deleted when it starts and then every `intervalMs` (an hour by default), so
 * a device that serves for months does not grow its metadata database without bound (a window
 * every 10 s is 8,640 rows a day per model version). Pruning runs off the request path, on a
 * timer that does not keep the process alive; a failure is reported, never thrown.
 */
import type { MonitoringRecords } from './monitoring-records.js';

export interface RetentionOptions {
  /** Days of history to keep; 0 keeps everything (nothing is started). */
  keepDays: number;
  /** Between prunes (default an hour). */
  intervalMs?: number;
  now?: () => number;
  onPruned?: (deleted: { windows: number; events: number }, before: string) => void;
  onError?: (error: unknown) => void;
}

export interface MonitoringRetention {
  /** The prune in progress or last started (resolves, never rejects). */
  readonly settled: Promise<void>;
  stop(): void;
}

const DAY_MS = 86_400_000;
const NOTHING: MonitoringRetention = { settled: Promise.resolve(), stop: () => {} };

export function startMonitoringRetention(
  records: Pick<MonitoringRecords, 'prune'>,
  options: RetentionOptions,
): MonitoringRetention {
  const { keepDays } = options;
  if (!(Number.isFinite(keepDays) && keepDays >= 0))
    throw new RangeError(`days of monitoring history must be a number ≥ 0, not ${keepDays}`);
  if (keepDays === 0) return NOTHING;
  const now = options.now ?? Date.now;
  let running = false;
  let stopped = false;
  const prune = async (): Promise<void> => {
    if (running || stopped) return;
    running = true;
    const before = new Date(now() - keepDays * DAY_MS).toISOString();
    try {
      const deleted = await records.prune(before);
      options.onPruned?.(deleted, before);
    } catch (error) {
      options.onError?.(error);
    } finally {
      running = false;
    }
  };
  const state = { settled: prune() };
  const timer = setInterval(() => {
    state.settled = prune();
  }, options.intervalMs ?? 3_600_000);
  timer.unref();
  return {
    get settled() {
      return state.settled;
    },
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
