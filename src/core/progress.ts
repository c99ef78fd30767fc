/**
 * Progress reporting, passed into long operations as an option. The CLI supplies a terminal
 * bar on a TTY and `silentProgress` when piped or under CI; libraries never print.
 */
export interface Progress {
  /** Begins a phase, e.g. ('hashing', 25000, 'files'). `total` may be unknown (undefined). */
  start(label: string, total: number | undefined, unit?: string): void;
  /** Advances the current phase by `count` items and optionally `bytes`. */
  advance(count: number, bytes?: number): void;
  /** Ends the current phase. */
  stop(): void;
}

export const silentProgress: Progress = {
  start() {},
  advance() {},
  stop() {},
};
