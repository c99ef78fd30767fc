/**
 * Container logs as the engine sends them (`GET /containers/{id}/logs`): for a container
 * without a TTY, frames of an 8-byte header (stream type 0/1/2, three zero bytes, a big-endian
 * length) followed by that many bytes; with a TTY, the raw text. Pure.
 */

/** Whether `bytes` starts like a multiplexed frame (stdin/stdout/stderr byte, then three zeros). */
function isMultiplexed(bytes: Buffer): boolean {
  return bytes.length >= 8 && bytes[0]! <= 2 && bytes[1] === 0 && bytes[2] === 0 && bytes[3] === 0;
}

/** The text of a log body, frames joined in order (stdout and stderr interleaved as written). */
export function demultiplexLogs(bytes: Buffer): string {
  if (!isMultiplexed(bytes)) return bytes.toString('utf8');
  const parts: Buffer[] = [];
  let at = 0;
  while (at + 8 <= bytes.length) {
    const length = bytes.readUInt32BE(at + 4);
    parts.push(bytes.subarray(at + 8, Math.min(bytes.length, at + 8 + length)));
    at += 8 + length;
  }
  return Buffer.concat(parts).toString('utf8');
}

/** The last `count` non-empty lines of a log text. */
export function lastLines(text: string, count: number): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trimEnd())
    .filter((line) => line.trim().length > 0)
    .slice(-count);
}
