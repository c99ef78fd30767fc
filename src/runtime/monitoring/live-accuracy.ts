/**
 * Delayed labels: the recent logged predictions (id → what was predicted), bounded in count and
 * age, and per model version a sliding window of outcomes (correct or not) that gives live
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

/** What feedback needs to know about a logged prediction. */
export interface RecentPrediction<Series> {
  series: Series;
  label: string;
  at: number;
  /** Set once labelled. */
  outcome: Outcome | undefined;
  /** Its position in the ring of ids. */
  slot: number;
}

export interface RecentPredictionsOptions {
  /** At most this many (default 100,000); the oldest go first. */
  maxEntries: number;
  /** Forgotten after this many seconds (default 86,400: a day). */
  maxAgeSeconds: number;
}

/**
 * Logged predictions by id, bounded: a Map for lookups and a ring of ids in insertion (time)
 * order for eviction, so dropping the oldest never iterates the Map (iterating a Map from the
 * front after many deletions skips their holes: slow at 100,000 entries).
 */
export class RecentPredictions<Series> {
  private readonly entries = new Map<string, RecentPrediction<Series>>();
  private readonly ring: (string | undefined)[];
  private head = 0;
  private tail = 0;
  private used = 0;

  constructor(private readonly options: RecentPredictionsOptions) {
    this.ring = new Array<string | undefined>(options.maxEntries).fill(undefined);
  }

  add(id: string, series: Series, label: string, at: number): void {
    if (this.used === this.ring.length) this.dropOldest();
    const slot = this.head;
    this.ring[slot] = id;
    // A repeated id (a client reusing ids) replaces the entry; its old slot is then stale.
    this.entries.set(id, { series, label, at, outcome: undefined, slot });
    this.head = slot + 1 === this.ring.length ? 0 : slot + 1;
    this.used++;
  }

  /** The prediction, unless unknown or expired. */
  get(id: string, now: number): RecentPrediction<Series> | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    if (entry.at < now - this.options.maxAgeSeconds * 1000) return undefined;
    return entry;
  }

  /** Forgets expired entries from the oldest end. */
  expire(now: number): void {
    const oldest = now - this.options.maxAgeSeconds * 1000;
    while (this.used > 0) {
      const id = this.ring[this.tail];
      const entry = id === undefined ? undefined : this.entries.get(id);
      if (entry && entry.slot === this.tail && entry.at >= oldest) break;
      this.dropOldest();
    }
  }

  private dropOldest(): void {
    const id = this.ring[this.tail];
    if (id !== undefined && this.entries.get(id)?.slot === this.tail) this.entries.delete(id);
    this.ring[this.tail] = undefined;
    this.tail = this.tail + 1 === this.ring.length ? 0 : this.tail + 1;
    this.used--;
  }

  get size(): number {
    return this.entries.size;
  }
}
