/**
 * Delayed labels: per model version a sliding window of outcomes (correct or not) that gives live
 * accuracy. A second label for the same prediction replaces the first one's outcome instead of
 * counting twice.
 */

/** One labelled prediction in an accuracy window. */
export interface Outcome {
  at: number;
  correct: boolean;
  /** False once it slid out of the window (a new label then adds a fresh outcome). */
  inWindow: boolean;
}

export interface AccuracyWindowOptions {
  /** Keep at most this many labels (default 1,000). */
  labels: number;
  /** Keep labels at most this old, in seconds (default: no age limit). */
  seconds?: number | undefined;
}

/** Outcomes of one model version, oldest first. */
export class AccuracyWindow {
  private outcomes: Outcome[] = [];
  private head = 0;
  private correctCount = 0;

  constructor(private readonly options: AccuracyWindowOptions) {}

  add(at: number, correct: boolean): Outcome {
    const outcome: Outcome = { at, correct, inWindow: true };
    this.outcomes.push(outcome);
    if (correct) this.correctCount++;
    while (this.size > this.options.labels) this.dropOldest();
    return outcome;
  }

  /** Replaces the outcome of a prediction labelled again. */
  relabel(outcome: Outcome, correct: boolean): void {
    if (outcome.correct === correct) return;
    if (outcome.inWindow) this.correctCount += correct ? 1 : -1;
    outcome.correct = correct;
  }

  /** Drops labels older than the age limit. */
  expire(now: number): void {
    if (this.options.seconds === undefined) return;
    const oldest = now - this.options.seconds * 1000;
    while (this.size > 0 && this.outcomes[this.head]!.at < oldest) this.dropOldest();
  }

  private dropOldest(): void {
    const outcome = this.outcomes[this.head]!;
    outcome.inWindow = false;
    if (outcome.correct) this.correctCount--;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.outcomes.length) {
      this.outcomes = this.outcomes.slice(this.head);
      this.head = 0;
    }
  }

  /** Labels in the window. */
  get size(): number {
    return this.outcomes.length - this.head;
  }

  get correct(): number {
    return this.correctCount;
  }

  /** Share of correct predictions, or null without labels. */
  get accuracy(): number | null {
    return this.size === 0 ? null : this.correctCount / this.size;
  }
}
