/**
 * The recent logged predictions, by id, so a delayed label (`POST /v1/feedback`) can be joined
 * to what was predicted: bounded in count and age, oldest forgotten first.
 *
 * A server remembers 100,000 of them by default while answering thousands a second, so this is
 * built to cost the garbage collector nothing: no object and no string is kept per prediction.
 * A ring of typed-array columns holds each prediction's time, model version and label (both
 * interned), and a 64-bit fingerprint of its id (two independent 32-bit hashes); an
 * open-addressing table of fingerprints (linear probing, backward-shift deletion) finds the ring
 * slot of an id. Two ids share a fingerprint with probability 2^-64 per pair: a label can then
 * meet the wrong prediction with a probability far below anything a dashboard shows. Outcomes
 * (a labelled prediction's place in its accuracy window) are kept only for labelled ones.
 */
import type { Outcome } from './live-accuracy.js';

/** What feedback needs to know about a logged prediction. */
export interface RecentPrediction<Series> {
  series: Series;
  label: string;
  at: number;
  /** Set once labelled (`setOutcome`). */
  outcome: Outcome | undefined;
  /** Its position in the ring. */
  slot: number;
}

export interface RecentPredictionsOptions {
  /** At most this many (default 100,000); the oldest go first. */
  maxEntries: number;
  /** Forgotten after this many seconds (default 86,400: a day). */
  maxAgeSeconds: number;
}

/** FNV-1a of the UTF-16 code units. */
function hashA(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A second, independent hash: multiply-rotate per code unit, Murmur3's finalizer. */
function hashB(id: string): number {
  let h = 0x9747b28c ^ id.length;
  for (let i = 0; i < id.length; i++) {
    h = Math.imul(h ^ id.charCodeAt(i), 0x5bd1e995);
    h = (h << 13) | (h >>> 19);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Small values (model versions, labels) numbered in the order they are first seen. */
class Interned<T> {
  readonly values: T[] = [];
  private readonly numbers = new Map<T, number>();

  numberOf(value: T): number {
    let n = this.numbers.get(value);
    if (n === undefined) {
      n = this.values.length;
      this.values.push(value);
      this.numbers.set(value, n);
    }
    return n;
  }
}

export class RecentPredictions<Series> {
  // The ring, oldest at `tail`, next write at `head`.
  private readonly fingerprintA: Uint32Array;
  private readonly fingerprintB: Uint32Array;
  private readonly at: Float64Array;
  private readonly seriesOf: Uint32Array;
  private readonly labelOf: Uint32Array;
  private head = 0;
  private tail = 0;
  private used = 0;
  // The index: table position → ring slot + 1 (0: empty).
  private readonly table: Int32Array;
  private readonly mask: number;
  private live = 0;
  private readonly series = new Interned<Series>();
  private readonly labels = new Interned<string>();
  private readonly outcomes = new Map<number, Outcome>();

  constructor(private readonly options: RecentPredictionsOptions) {
    const n = options.maxEntries;
    this.fingerprintA = new Uint32Array(n);
    this.fingerprintB = new Uint32Array(n);
    this.at = new Float64Array(n);
    this.seriesOf = new Uint32Array(n);
    this.labelOf = new Uint32Array(n);
    let capacity = 16;
    while (capacity < n * 2) capacity *= 2;
    this.table = new Int32Array(capacity);
    this.mask = capacity - 1;
  }

  add(id: string, series: Series, label: string, at: number): void {
    if (this.used === this.at.length) this.dropOldest();
    const slot = this.head;
    const a = hashA(id);
    const b = hashB(id);
    this.fingerprintA[slot] = a;
    this.fingerprintB[slot] = b;
    this.at[slot] = at;
    this.seriesOf[slot] = this.series.numberOf(series);
    this.labelOf[slot] = this.labels.numberOf(label);
    this.outcomes.delete(slot);
    // A repeated id (a client reusing ids) points at its latest prediction; its old slot is stale.
    const position = this.find(a, b);
    if (position >= 0) {
      this.table[position] = slot + 1;
    } else {
      let p = a & this.mask;
      while (this.table[p] !== 0) p = (p + 1) & this.mask;
      this.table[p] = slot + 1;
      this.live++;
    }
    this.head = slot + 1 === this.at.length ? 0 : slot + 1;
    this.used++;
  }

  /** The prediction, unless unknown or expired. */
  get(id: string, now: number): RecentPrediction<Series> | undefined {
    const position = this.find(hashA(id), hashB(id));
    if (position < 0) return undefined;
    const slot = this.table[position]! - 1;
    const at = this.at[slot]!;
    if (at < now - this.options.maxAgeSeconds * 1000) return undefined;
    return {
      series: this.series.values[this.seriesOf[slot]!]!,
      label: this.labels.values[this.labelOf[slot]!]!,
      at,
      outcome: this.outcomes.get(slot),
      slot,
    };
  }

  /** Remembers the outcome a label gave the prediction in `slot`. */
  setOutcome(slot: number, outcome: Outcome): void {
    this.outcomes.set(slot, outcome);
  }

  /** Forgets expired entries from the oldest end. */
  expire(now: number): void {
    const oldest = now - this.options.maxAgeSeconds * 1000;
    while (this.used > 0 && this.at[this.tail]! < oldest) this.dropOldest();
  }

  /** Predictions that can still be labelled. */
  get size(): number {
    return this.live;
  }

  /** Table position of the fingerprint, or -1. */
  private find(a: number, b: number): number {
    let p = a & this.mask;
    for (;;) {
      const entry = this.table[p]!;
      if (entry === 0) return -1;
      const slot = entry - 1;
      if (this.fingerprintA[slot] === a && this.fingerprintB[slot] === b) return p;
      p = (p + 1) & this.mask;
    }
  }

  private dropOldest(): void {
    const slot = this.tail;
    const position = this.find(this.fingerprintA[slot]!, this.fingerprintB[slot]!);
    // Only when the id still points here (not at a later prediction reusing it).
    if (position >= 0 && this.table[position] === slot + 1) this.removeAt(position);
    this.outcomes.delete(slot);
    this.tail = slot + 1 === this.at.length ? 0 : slot + 1;
    this.used--;
  }

  /** Backward-shift deletion: later entries of the probe run move up into the hole. */
  private removeAt(position: number): void {
    let hole = position;
    let p = (hole + 1) & this.mask;
    for (;;) {
      const entry = this.table[p]!;
      if (entry === 0) break;
      const home = this.fingerprintA[entry - 1]! & this.mask;
      // The entry may move into the hole when its home is not in (hole, p] (cyclically).
      const between = hole <= p ? home > hole && home <= p : home > hole || home <= p;
      if (!between) {
        this.table[hole] = entry;
        hole = p;
      }
      p = (p + 1) & this.mask;
    }
    this.table[hole] = 0;
    this.live--;
  }
}
