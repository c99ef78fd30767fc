/** Statistics, number formatting and markdown helpers for benchmark reports. */
import fs from 'node:fs';

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface Summary {
  runs: number;
  median: number;
  min: number;
  max: number;
}

export function summarize(values: number[]): Summary {
  return {
    runs: values.length,
    median: median(values),
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

/** Seconds with 3 significant digits (at least 2 decimals below 1 s). */
export function fmtSeconds(s: number): string {
  if (!Number.isFinite(s)) return 'n/a';
  if (s < 1) return `${s.toFixed(3)} s`;
  if (s < 10) return `${s.toFixed(2)} s`;
  if (s < 100) return `${s.toFixed(1)} s`;
  return `${s.toFixed(0)} s`;
}

export function fmtRatio(r: number): string {
  if (!Number.isFinite(r)) return 'n/a';
  return r < 10 ? `${r.toFixed(2)}x` : `${r.toFixed(1)}x`;
}

export function fmtCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Decimal megabytes, as throughput figures are usually quoted. */
export function fmtMB(bytes: number): string {
  const mb = bytes / 1e6;
  return mb < 10 ? mb.toFixed(2) : mb < 100 ? mb.toFixed(1) : mb.toFixed(0);
}

export function fmtMiB(kib: number | undefined): string {
  return kib === undefined ? 'n/a' : `${(kib / 1024).toFixed(0)} MiB`;
}

export function fmtBytes(bytes: number): string {
  if (bytes >= 1 << 30) return `${(bytes / (1 << 30)).toFixed(2)} GiB`;
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

/**
 * A GitHub-flavoured markdown table, padded the way `biome format` lays tables out (so the
 * written docs pass `biome check`); cells must not contain `|`.
 */
export function table(header: string[], rows: string[][], align?: ('l' | 'r')[]): string {
  const width = (text: string) => [...text].length;
  const right = (i: number) => (align?.[i] ?? 'l') === 'r';
  const widths = header.map((h, i) => Math.max(3, width(h), ...rows.map((row) => width(row[i] ?? ''))));
  const pad = (text: string, i: number) => {
    const fill = ' '.repeat(widths[i]! - width(text));
    return right(i) ? fill + text : text + fill;
  };
  const line = (cells: string[]) => `| ${cells.map(pad).join(' | ')} |`;
  const sep = `| ${widths.map((w, i) => (right(i) ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(header), sep, ...rows.map((row) => line(header.map((_, i) => row[i] ?? '')))].join('\n');
}

/**
 * Replaces the level-2 section starting with `heading` (up to the next `## ` heading) in a
 * markdown file, or appends it; everything else in the file is kept as it was.
 */
export function updateSection(file: string, heading: string, body: string): void {
  const section = `${heading}\n\n${body.trim()}\n`;
  let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '# Benchmarks\n';
  const lines = text.split('\n');
  const start = lines.findIndex((line) => line.trimEnd() === heading);
  if (start === -1) {
    text = `${text.trimEnd()}\n\n${section}`;
  } else {
    let end = lines.findIndex((line, i) => i > start && /^## /.test(line));
    if (end === -1) end = lines.length;
    const before = lines.slice(0, start).join('\n');
    const after = lines.slice(end).join('\n');
    text = `${before}${before ? '\n' : ''}${section}${after ? `\n${after}` : ''}`;
    if (!text.endsWith('\n')) text += '\n';
  }
  fs.writeFileSync(file, text);
}

/**
 * Like `updateSection`, but a section that is not in the file yet goes right after the section
 * `after` (before the heading that follows it) instead of at the end, when `after` is there.
 */
export function updateSectionAfter(file: string, heading: string, body: string, after: string): void {
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const lines = text.split('\n');
  const isHeading = (line: string, h: string) => line.trimEnd() === h;
  const anchor = lines.findIndex((line) => isHeading(line, after));
  if (lines.some((line) => isHeading(line, heading)) || anchor === -1) {
    updateSection(file, heading, body);
    return;
  }
  const next = lines.findIndex((line, i) => i > anchor && /^## /.test(line));
  if (next === -1) {
    updateSection(file, heading, body);
    return;
  }
  const before = lines.slice(0, next).join('\n').trimEnd();
  const rest = lines.slice(next).join('\n');
  fs.writeFileSync(file, `${before}\n\n${heading}\n\n${body.trim()}\n\n${rest}`);
}
