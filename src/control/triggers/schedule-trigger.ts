/**
 * Cron schedules (parsed by croner): each entry asks for a run at every time its expression
 * names. Time comes from an injected clock, so tests move it forward instead of waiting.
 * Times missed while the server was down are not made up.
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
  ) {}

  async start(): Promise<void> {
    this.stopped = false;
    for (const entry of this.entries) {
      const cron = new Cron(entry.cron, { paused: true, timezone: entry.timezone ?? 'UTC' });
      this.arm(entry, cron, this.clock.now());
    }
  }

  /** Waits for the first time after `from`. */
  private arm(entry: ScheduleEntry, cron: Cron, from: Date): void {
    if (this.stopped) return;
    const due = cron.nextRun(from);
    if (!due) return;
    const cancel = this.clock.setTimer(Math.max(0, due.getTime() - this.clock.now().getTime()), () => {
      this.cancels.delete(cancel);
      if (this.clock.now() < due) return this.arm(entry, cron, from); // woke early (long waits)
      this.log.info('schedule fired', {
        cron: entry.cron,
        name: entry.name,
        scheduledFor: due.toISOString(),
      });
      void this.enqueue({
        causes: [
          {
            kind: 'schedule',
            at: this.clock.now().toISOString(),
            cron: entry.cron,
            ...(entry.name ? { name: entry.name } : {}),
            scheduledFor: due.toISOString(),
          },
        ],
        stages: entry.stages,
      }).catch((error: unknown) => this.log.error('scheduled run not queued', { cron: entry.cron, error }));
      this.arm(entry, cron, due);
    });
    this.cancels.add(cancel);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const cancel of this.cancels) cancel();
    this.cancels.clear();
  }
}
