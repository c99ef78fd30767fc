/** Aligned columns and compared values for human output (runs diff, metrics show/diff). */

/** Rows of cells as lines, each column padded to its widest cell, two spaces apart. */
export function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

/** A number for people: integers as they are, others to 6 significant digits (--json has all). */
export function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
}

/** A metric or param value: strings as they are, absent as `-`, numbers rounded, else JSON. */
export function formatValue(value: unknown): string {
  if (value === undefined) return '-';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return formatNumber(value);
  return JSON.stringify(value);
}

/** The change column: a signed delta for numbers, else added / removed / changed (blank if same). */
export function formatChange(row: { change: string; delta?: number }): string {
  if (row.delta !== undefined)
    return row.delta > 0 ? `+${formatNumber(row.delta)}` : row.delta === 0 ? '0' : formatNumber(row.delta);
  return row.change === 'unchanged' ? '' : row.change;
}
