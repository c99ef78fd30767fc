/**
 * Cron schedules (parsed by croner): each entry asks for a run at every time its expression
 * names. Time comes from an injected clock, so tests move it forward instead of waiting.
 *
 * Catch-up (as anacron, or a Kubernetes CronJob's startingDeadlineSeconds): the last time each
 * schedule fired is kept in the metadata store; times that passed while the server was down
 * (or the machine slept) become one run at the next start, not one per missed time, unless the
 * entry says `catchUp: false` or the newest missed time is older than `catchUpWithinMs`.
 */
import { Cron } from 'croner';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { Enqueue, Trigger } from './trigger.js';

export interface ScheduleEntry {
  name?: string | undefined;
  cron: string;
  timezone?: string | undefined;
  stages: string[];
  /** Make up for times missed while stopped (default true). */
  catchUp?: boolean | undefined;
  /** Only when the newest missed time is at most this old (default: however old). */
  catchUpWithinMs?: number | undefined;
}

/** Where the last fire time of each schedule is kept (TriggerRecords). */
export interface ScheduleMemory {
  getState(key: string): Promise<string | undefined>;
  setState(key: string, value: string): Promise<void>;
}

const COUNT_LIMIT = 1000;

/** The times of `cron` in (after, until]: the newest and how many (counted up to 1000). */
export function missedTimes(
  cron: Cron,
  after: Date,
  until: Date,
): { latest: Date; count: number } | undefined {
  const latest = cron.previousRuns(1, new Date(until.getTime() + 1))[0];
  if (!latest || latest <= after) return undefined;
  let count = 0;
  for (let t = cron.nextRun(after); t && t <= until && count < COUNT_LIMIT; t = cron.nextRun(t)) count++;
  return { latest, count };
}

export class ScheduleTrigger implements Trigger {
  readonly name = 'schedule';
  private readonly cancels = new Set<() => void>();
  private stopped = false;

  constructor(
    private readonly entries: ScheduleEntry[],
    private readonly enqueue: Enqueue,
    private readonly clock: Clock,
    private readonly log: Logger,
    /** Without it, nothing is remembered and nothing made up. */
    private readonly memory?: { state: ScheduleMemory; keyPrefix: string },
  ) {}

  async start(): Promise<void> {
    this.stopped = false;
    const now = this.clock.now();
    for (const entry of this.entries) {
      const cron = new Cron(entry.cron, { paused: true, timezone: entry.timezone ?? 'UTC' });
      await this.catchUp(entry, cron, now);
      this.arm(entry, cron, now);
    }
  }

  private key(entry: ScheduleEntry): string {
    return `${this.memory?.keyPrefix ?? ''}${entry.name ?? entry.cron}`;
  }

  /** At start: one run for the times missed since the schedule last fired. */
  private async catchUp(entry: ScheduleEntry, cron: Cron, now: Date): Promise<void> {
    if (!this.memory) return;
    const last = await this.memory.state.getState(this.key(entry));
    if (last === undefined || Number.isNaN(Date.parse(last))) {
      // First start with this schedule: nothing was missed yet.
      await this.memory.state.setState(this.key(entry), now.toISOString());
      return;
    }
    const missed = missedTimes(cron, new Date(last), now);
    if (!missed) return;
    const details = {
      cron: entry.cron,
      name: entry.name,
      missed: missed.count,
      latest: missed.latest.toISOString(),
      lastFired: last,
    };
    const lateMs = now.getTime() - missed.latest.getTime();
    if (entry.catchUp === false || (entry.catchUpWithinMs !== undefined && lateMs > entry.catchUpWithinMs)) {
      this.log.info(
        entry.catchUp === false
          ? 'schedule: times missed while stopped are not made up (catch_up: false)'
          : 'schedule: times missed while stopped are too old to make up (catch_up_within)',
        details,
      );
      await this.memory.state.setState(this.key(entry), missed.latest.toISOString());
      return;
    }
    this.log.info('schedule: making up for times missed while stopped, in one run', details);
    await this.fire(entry, missed.latest, { catchUp: true, missed: missed.count });
  }

  /** Asks for one run for the time `due`; remembers it once the run is queued. */
  private async fire(entry: ScheduleEntry, due: Date, extra: Record<string, unknown> = {}): Promise<void> {
    this.log.info('schedule fired', {
      cron: entry.cron,
      name: entry.name,
      scheduledFor: due.toISOString(),
      ...extra,
    });
    try {
      await this.enqueue({
        causes: [
          {
            kind: 'schedule',
            at: this.clock.now().toISOString(),
            cron: entry.cron,
            ...(entry.name ? { name: entry.name } : {}),
            scheduledFor: due.toISOString(),
            ...extra,
          },
        ],
        stages: entry.stages,
      });
      // Not remembered when not queued (shutting down): the next start makes it up.
      await this.memory?.state.setState(this.key(entry), due.toISOString());
    } catch (error) {
      this.log.error('scheduled run not queued', { cron: entry.cron, error });
    }
  }

  /** Waits for the first time after `from`. */
  private arm(entry: ScheduleEntry, cron: Cron, from: Date): void {
    if (this.stopped) return;
    const due = cron.nextRun(from);
    if (!due) return;
    const cancel = this.clock.setTimer(Math.max(0, due.getTime() - this.clock.now().getTime()), () => {
      this.cancels.delete(cancel);
      const now = this.clock.now();
      if (now < due) return this.arm(entry, cron, from); // woke early (long waits)
      // Woken late (a machine that slept): the times passed meanwhile are one run too.
      const missed = missedTimes(cron, new Date(due.getTime() - 1), now) ?? { latest: due, count: 1 };
      void this.fire(entry, missed.latest, missed.count > 1 ? { missed: missed.count } : {});
      this.arm(entry, cron, missed.latest);
    });
    this.cancels.add(cancel);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const cancel of this.cancels) cancel();
    this.cancels.clear();
  }
}
