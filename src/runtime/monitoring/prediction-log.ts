/**
 * The prediction log: one JSON line per sampled prediction, appended asynchronously to
 * `predictions.jsonl` in a directory, rotated by size (`predictions.1.jsonl` is the newest
 * full file, up to `keepFiles` files in all). Requests never wait for the disk: lines queue in
 * a bounded buffer, and when the disk cannot keep up the excess is dropped and counted.
 *
 *     {"time":"…","id":"…","model":"imdb-sentiment","version":"3","score":0.93,"label":"pos",
 *      "tokens":182,"oovRate":0.02,"text":"…"}                  (or "text_sha256":"<hex>")
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from './json-logger.js';
import type { PredictionEvent } from './monitor.js';

export interface PredictionLogOptions {
  /** The directory holding the log files (created when missing). */
  dir: string;
  /** Base name (default `predictions.jsonl`); rotated files are `predictions.1.jsonl`, … */
  fileName?: string;
  /** Rotate when the current file would grow past this (default 16 MiB). */
  maxFileBytes?: number;
  /** Files kept, the current one included (default 4: at most ~64 MiB). */
  keepFiles?: number;
  /** Store `text_sha256` (hex sha256 of the UTF-8 text) instead of the text (default false). */
  hashText?: boolean;
  /** Lines waiting for the disk before new ones are dropped (default 10,000). */
  maxBufferedLines?: number;
  /** Characters waiting for the disk before new lines are dropped (default 8 Mi). */
  maxBufferedChars?: number;
}

export interface PredictionLogStats {
  written: number;
  dropped: number;
  /** Lines waiting for the disk. */
  buffered: number;
  file: string;
}

interface Pending {
  at: number;
  event: PredictionEvent;
}

export function textSha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export class PredictionLog {
  readonly file: string;
  private readonly maxFileBytes: number;
  private readonly keepFiles: number;
  private readonly hashText: boolean;
  private readonly maxBufferedLines: number;
  private readonly maxBufferedChars: number;
  private buffer: Pending[] = [];
  private bufferedChars = 0;
  private handle: fs.promises.FileHandle | undefined;
  private size = 0;
  private draining: Promise<void> | undefined;
  private closed = false;
  private lastErrorLogged = 0;
  written = 0;
  dropped = 0;

  constructor(
    options: PredictionLogOptions,
    private readonly logger: Logger,
  ) {
    this.file = path.join(options.dir, options.fileName ?? 'predictions.jsonl');
    this.maxFileBytes = options.maxFileBytes ?? 16 * 1024 * 1024;
    this.keepFiles = Math.max(1, Math.floor(options.keepFiles ?? 4));
    this.hashText = options.hashText ?? false;
    this.maxBufferedLines = options.maxBufferedLines ?? 10_000;
    this.maxBufferedChars = options.maxBufferedChars ?? 8 * 1024 * 1024;
  }

  /** Queues a line; never blocks, never throws. */
  append(event: PredictionEvent, at: number): void {
    const chars = event.text.length + 200;
    if (
      this.closed ||
      this.buffer.length >= this.maxBufferedLines ||
      (this.bufferedChars + chars > this.maxBufferedChars && this.buffer.length > 0)
    ) {
      this.dropped++;
      return;
    }
    this.buffer.push({ at, event });
    this.bufferedChars += chars;
    if (!this.draining) this.draining = this.drain();
  }

  stats(): PredictionLogStats {
    return { written: this.written, dropped: this.dropped, buffered: this.buffer.length, file: this.file };
  }

  /** Waits until every queued line is on disk (or dropped). */
  async flush(): Promise<void> {
    while (this.draining) await this.draining;
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close().catch(() => {});
  }

  private line(p: Pending): string {
    const e = p.event;
    const record: Record<string, unknown> = {
      time: new Date(p.at).toISOString(),
      id: e.id,
      model: e.model,
      version: e.version,
      score: e.score,
      label: e.label,
      tokens: e.tokens,
      oovRate: e.oovRate,
    };
    if (this.hashText) record.text_sha256 = textSha256(e.text);
    else record.text = e.text;
    return `${JSON.stringify(record)}\n`;
  }

  private async drain(): Promise<void> {
    // Let the request that queued the first line finish before doing any work.
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      while (this.buffer.length > 0) {
        const batch = this.buffer;
        this.buffer = [];
        this.bufferedChars = 0;
        try {
          await this.write(batch);
        } catch (error) {
          this.dropped += batch.length;
          this.reportError(error);
          await this.handle?.close().catch(() => {});
          this.handle = undefined;
        }
      }
    } finally {
      this.draining = undefined;
    }
  }

  private async write(batch: Pending[]): Promise<void> {
    await this.open();
    let chunk = '';
    let chunkBytes = 0;
    let lines = 0;
    for (const pending of batch) {
      const text = this.line(pending);
      const bytes = Buffer.byteLength(text);
      if (this.size + chunkBytes + bytes > this.maxFileBytes && this.size + chunkBytes > 0) {
        if (chunk) await this.writeChunk(chunk, chunkBytes, lines);
        chunk = '';
        chunkBytes = 0;
        lines = 0;
        await this.rotate();
      }
      chunk += text;
      chunkBytes += bytes;
      lines++;
    }
    if (chunk) await this.writeChunk(chunk, chunkBytes, lines);
  }

  private async open(): Promise<fs.promises.FileHandle> {
    if (this.handle) return this.handle;
    await fs.promises.mkdir(path.dirname(this.file), { recursive: true });
    const handle = await fs.promises.open(this.file, 'a');
    this.size = (await handle.stat()).size;
    this.handle = handle;
    return handle;
  }

  private async writeChunk(chunk: string, bytes: number, lines: number): Promise<void> {
    const handle = await this.open();
    await handle.write(chunk);
    this.size += bytes;
    this.written += lines;
  }

  /** predictions.jsonl → predictions.1.jsonl → … ; the oldest beyond `keepFiles` is removed. */
  private async rotate(): Promise<void> {
    await this.open();
    await this.handle?.close();
    this.handle = undefined;
    const ext = path.extname(this.file);
    const base = this.file.slice(0, this.file.length - ext.length);
    const nth = (i: number) => (i === 0 ? this.file : `${base}.${i}${ext}`);
    await fs.promises.rm(nth(this.keepFiles - 1), { force: true });
    for (let i = this.keepFiles - 2; i >= 0; i--) {
      await fs.promises.rename(nth(i), nth(i + 1)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
    }
    this.size = 0;
  }

  private reportError(error: unknown): void {
    const now = Date.now();
    if (now - this.lastErrorLogged < 60_000) return;
    this.lastErrorLogged = now;
    this.logger.error('prediction log: cannot write, dropping lines', {
      file: this.file,
      error,
      dropped: this.dropped,
    });
  }
}
