/**
 * The IMDB movie-review dataset (Large Movie Review Dataset, Maas et al., ACL 2011) in its
 * official layout, `aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt`, read straight from the
 * `.tar.gz` (streamed through gunzip and the tar parser, nothing extracted to disk) or from a
 * directory. The rest of the archive (`unsup/`, `urls_*.txt`, `imdb.vocab`, `*.feat`) is skipped.
 *
 * `readImdb` streams reviews in archive order; `loadImdb` returns them all, sorted by
 * (split, label, id). Sources are resolved by `imdb-source.ts` (path, file://, http(s)://,
 * `LEDGE_IMDB`, or the official archive).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Parser, type ReadEntry } from 'tar';
import { isErrno, LedgeError } from '../../core/errors.js';
import type { Progress } from '../../core/progress.js';
import {
  describeImdbSource,
  type FetchSourceOptions,
  fetchImdbSource,
  type ResolveSourceOptions,
  resolveImdbSource,
} from './imdb-source.js';

export type ImdbSplit = 'train' | 'test';
export type ImdbLabel = 'neg' | 'pos';

/** The order `loadImdb` sorts by: train before test, neg before pos (neg = 0, pos = 1). */
export const IMDB_SPLITS: readonly ImdbSplit[] = ['train', 'test'];
export const IMDB_LABELS: readonly ImdbLabel[] = ['neg', 'pos'];

export interface Review {
  split: ImdbSplit;
  label: ImdbLabel;
  /** The id from the file name, unique within (split, label). */
  id: number;
  /** The reviewer's rating, 1..10 (1–4 for neg, 7–10 for pos in the official data). */
  rating: number;
  /** The review as published, UTF-8 decoded (HTML `<br />` left in; the tokenizer drops it). */
  text: string;
}

export interface ReadLayoutOptions {
  /** Which splits to read (default both); a missing split is no error if another is found. */
  splits?: readonly ImdbSplit[] | undefined;
  /** Read progress: bytes of an archive, files of a directory. */
  progress?: Progress | undefined;
  /** How to name the source in errors (default the path). */
  display?: string | undefined;
}

export interface ReadImdbOptions extends ReadLayoutOptions, FetchSourceOptions, ResolveSourceOptions {}

/**
 * Streams the reviews of `source` (a path, `file://` or `http(s)://` URL; default
 * `$LEDGE_IMDB`, else the official archive), in the order the archive or directory holds them.
 * URLs are downloaded once into `options.cache` and verified.
 */
export async function* readImdb(source?: string, options: ReadImdbOptions = {}): AsyncGenerator<Review> {
  const resolved = resolveImdbSource(source, options);
  const local = await fetchImdbSource(resolved, options);
  const layout = { ...options, display: options.display ?? describeImdbSource(resolved) };
  if (local.kind === 'directory') yield* readImdbDirectory(local.path, layout);
  else yield* readImdbArchive(local.path, layout);
}

/** Every review of `source`, sorted by (split, label, id): see `compareReviews`. */
export async function loadImdb(source?: string, options: ReadImdbOptions = {}): Promise<Review[]> {
  const reviews: Review[] = [];
  for await (const review of readImdb(source, options)) reviews.push(review);
  return reviews.sort(compareReviews);
}

/** Train before test, neg before pos, then by id. */
export function compareReviews(a: Review, b: Review): number {
  return (
    IMDB_SPLITS.indexOf(a.split) - IMDB_SPLITS.indexOf(b.split) ||
    IMDB_LABELS.indexOf(a.label) - IMDB_LABELS.indexOf(b.label) ||
    a.id - b.id
  );
}

/** `<id>_<rating>.txt` → its numbers, or undefined when the name does not follow the layout. */
export function parseReviewName(name: string): { id: number; rating: number } | undefined {
  const match = /^(\d{1,15})_(\d{1,2})\.txt$/.exec(name);
  if (!match) return undefined;
  const rating = Number(match[2]);
  if (rating < 1 || rating > 10) return undefined;
  return { id: Number(match[1]), rating };
}

/** Streams the reviews of a `.tar.gz` (or plain `.tar`) file. */
export async function* readImdbArchive(
  file: string,
  options: ReadLayoutOptions = {},
): AsyncGenerator<Review> {
  const display = options.display ?? `'${file}'`;
  let size: number | undefined;
  try {
    size = fs.statSync(file).size;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) {
      throw new LedgeError('path-not-found', `IMDB archive ${display} does not exist`, { cause: error });
    }
    throw error;
  }
  const progress = options.progress;
  progress?.start(`reading ${path.basename(file)}`, size, 'bytes');
  const input = fs.createReadStream(file, { highWaterMark: 1 << 18 });
  try {
    yield* readImdbStream(counting(input, progress), { ...options, display });
  } finally {
    input.destroy();
    progress?.stop();
  }
}

async function* counting(
  input: AsyncIterable<Buffer>,
  progress: Progress | undefined,
): AsyncIterable<Buffer> {
  for await (const chunk of input) {
    progress?.advance(chunk.length, chunk.length);
    yield chunk;
  }
}

/** Where a review file sits in the layout: `[…/]aclImdb/<split>/<label>/<name>`. */
const REVIEW_PATH = /(?:^|\/)aclImdb\/(train|test)\/(pos|neg)\/([^/]+)$/;
const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);
/** Tar warnings that mean the bytes are not an intact archive. */
const FATAL_WARNINGS = new Set(['TAR_BAD_ARCHIVE', 'TAR_ENTRY_INVALID', 'TAR_ABORT']);

/** Streams the reviews of archive bytes (gzip-compressed or not), as they arrive. */
export async function* readImdbStream(
  input: AsyncIterable<Uint8Array>,
  options: ReadLayoutOptions = {},
): AsyncGenerator<Review> {
  const display = options.display ?? 'the archive';
  const wanted = wantedSplits(options.splits);
  const keys = new ReviewKeys(display);
  const ready: Review[] = [];
  const splitsSeen = new Set<string>();
  let entries = 0;
  let failure: unknown;
  const fail = (error: unknown) => {
    failure ??= error;
  };
  const archiveError = (message: string, cause?: unknown) =>
    entries === 0
      ? new LedgeError('invalid-dataset', `IMDB source ${display} is not a .tar.gz or .tar archive`, {
          hint: 'give the aclImdb_v1.tar.gz archive or a directory holding aclImdb/',
          cause: cause ?? new Error(message),
        })
      : new LedgeError('corrupt-object', `IMDB archive ${display} is damaged: ${message}`, {
          hint: 'download or copy it again',
          cause,
        });

  const parser = new Parser({
    zstd: false,
    filter: (entryPath, entry) => {
      entries++;
      if (!FILE_TYPES.has((entry as ReadEntry).type)) return false;
      const match = REVIEW_PATH.exec(entryPath);
      if (!match || match[3]!.startsWith('.')) return false;
      splitsSeen.add(match[1]!);
      return wanted.has(match[1] as ImdbSplit);
    },
    onReadEntry: (entry: ReadEntry) => {
      const match = REVIEW_PATH.exec(entry.path)!;
      const name = parseReviewName(match[3]!);
      if (!name) {
        fail(badName(display, entry.path));
        entry.resume();
        return;
      }
      const chunks: Buffer[] = [];
      entry.on('data', (chunk: Buffer) => chunks.push(chunk));
      entry.on('end', () => {
        const review: Review = {
          split: match[1] as ImdbSplit,
          label: match[2] as ImdbLabel,
          id: name.id,
          rating: name.rating,
          text: decodeText(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)),
        };
        try {
          keys.add(review, entry.path);
          ready.push(review);
        } catch (error) {
          fail(error);
        }
      });
    },
    onwarn: (code, message) => {
      if (FATAL_WARNINGS.has(code)) fail(archiveError(message));
    },
  });
  const finished = new Promise<void>((resolve) => {
    parser.on('end', () => resolve());
    parser.on('error', (error: Error) => {
      fail(archiveError(error.message, error));
      resolve();
    });
  });

  let yielded = 0;
  for await (const chunk of input) {
    parser.write(
      Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength),
    );
    if (failure) throw failure;
    if (ready.length > 0) {
      const batch = ready.splice(0);
      yielded += batch.length;
      yield* batch;
    }
  }
  parser.end();
  await finished;
  if (failure) throw failure;
  yielded += ready.length;
  yield* ready.splice(0);
  if (yielded === 0) throw noReviews(display, wanted, splitsSeen);
}

/** Streams the reviews of a directory: `aclImdb/` itself or the directory holding it. */
export async function* readImdbDirectory(
  dir: string,
  options: ReadLayoutOptions = {},
): AsyncGenerator<Review> {
  const display = options.display ?? `'${dir}'`;
  const wanted = wantedSplits(options.splits);
  const nested = path.join(dir, 'aclImdb');
  const root = isDirectory(nested) ? nested : dir;
  const splitsSeen = new Set<string>();
  const files: { split: ImdbSplit; label: ImdbLabel; id: number; rating: number; file: string }[] = [];
  for (const split of IMDB_SPLITS) {
    for (const label of IMDB_LABELS) {
      const labelDir = path.join(root, split, label);
      let names: string[];
      try {
        names = fs.readdirSync(labelDir);
      } catch (error) {
        if (isErrno(error, 'ENOENT', 'ENOTDIR')) continue;
        throw error;
      }
      splitsSeen.add(split);
      if (!wanted.has(split)) continue;
      const found: typeof files = [];
      for (const name of names) {
        if (name.startsWith('.')) continue;
        const parsed = parseReviewName(name);
        if (!parsed) throw badName(display, path.relative(dir, path.join(labelDir, name)));
        found.push({ split, label, ...parsed, file: path.join(labelDir, name) });
      }
      files.push(...found.sort((a, b) => a.id - b.id));
    }
  }
  if (files.length === 0) throw noReviews(display, wanted, splitsSeen);
  const keys = new ReviewKeys(display);
  const progress = options.progress;
  progress?.start('reading reviews', files.length, 'files');
  try {
    for (const { file, ...key } of files) {
      const data = fs.readFileSync(file);
      progress?.advance(1, data.length);
      const review: Review = { ...key, text: decodeText(data) };
      keys.add(review, path.relative(dir, file));
      yield review;
    }
  } finally {
    progress?.stop();
  }
}

function wantedSplits(splits: readonly ImdbSplit[] | undefined): Set<ImdbSplit> {
  const wanted = new Set(splits ?? IMDB_SPLITS);
  for (const split of wanted) {
    if (!IMDB_SPLITS.includes(split)) {
      throw new LedgeError('usage', `unknown IMDB split '${split}'`, {
        hint: 'the splits are train and test',
      });
    }
  }
  if (wanted.size === 0)
    throw new LedgeError('usage', 'no IMDB split requested', { hint: 'ask for train, test or both' });
  return wanted;
}

/** Rejects a second review with the same (split, label, id): ids must identify reviews. */
class ReviewKeys {
  private readonly seen = new Set<string>();
  constructor(private readonly display: string) {}

  add(review: Review, where: string): void {
    const key = `${review.split}/${review.label}/${review.id}`;
    if (this.seen.has(key)) {
      throw new LedgeError(
        'invalid-dataset',
        `IMDB source ${this.display} has two ${key} reviews ('${where}')`,
        {
          hint: 'each <id> may appear once per split and label',
        },
      );
    }
    this.seen.add(key);
  }
}

const utf8 = new TextDecoder('utf-8');

function decodeText(data: Uint8Array): string {
  return utf8.decode(data);
}

function isDirectory(file: string): boolean {
  try {
    return fs.statSync(file).isDirectory();
  } catch {
    return false;
  }
}

function badName(display: string, where: string): LedgeError {
  return new LedgeError('invalid-dataset', `IMDB source ${display} has a bad review file name '${where}'`, {
    hint: 'reviews are named <id>_<rating>.txt with a rating of 1..10, e.g. aclImdb/train/pos/0_9.txt',
  });
}

function noReviews(display: string, wanted: Set<ImdbSplit>, seen: Set<string>): LedgeError {
  const asked = wanted.size === 1 ? [...wanted][0] : `{${[...wanted].join(',')}}`;
  const others = [...seen].filter((s) => !wanted.has(s as ImdbSplit));
  return new LedgeError(
    'invalid-dataset',
    `IMDB source ${display} holds no aclImdb/${asked}/{pos,neg}/<id>_<rating>.txt reviews`,
    {
      hint: others.length
        ? `it holds the ${others.join(' and ')} split only; read that one`
        : 'give the aclImdb_v1.tar.gz archive or a directory holding aclImdb/',
    },
  );
}
