/** Small formatting helpers for human output. */

/** `1 file`, `25,000 files`. */
export function count(n: number, what: string): string {
  return `${thousands(n)} ${what}${n === 1 ? '' : 's'}`;
}

/** `25,000` (toLocaleString would load ICU data: ~40 ms on the first call). */
export function thousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** `31.6 MiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}
