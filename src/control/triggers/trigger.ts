/** What every trigger is: something that, once started, asks the queue for runs until stopped. */
import type { RunRequest } from '../queue/coalesce.js';

export type Enqueue = (request: RunRequest) => Promise<unknown>;

export interface Trigger {
  /** `schedule`, `watch`, `git` (for logs). */
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}
