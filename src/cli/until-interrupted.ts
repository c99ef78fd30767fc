/**
 * How long-running commands (`ledge ui`, `ledge server`) end: they serve until Ctrl-C or
 * SIGTERM, then `close` runs and the command exits 0 (stopping is their normal end).
 */
import { onInterrupt } from '../core/interrupt.js';

export function untilInterrupted(close: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    onInterrupt(async () => {
      await close();
      resolve();
      return 0;
    });
  });
}
