/**
 * The terminal progress bar behind the `Progress` interface: drawn on stderr when it is a
 * TTY, and never when piped, with `--quiet`, or under CI (`CI=true`).
 */
import cliProgress from 'cli-progress';
import { type Progress, silentProgress } from '../core/progress.js';
import { formatBytes } from './format.js';

export function wantsProgress(quiet: boolean): boolean {
  const ci = process.env.CI;
  return (
    !quiet && process.stderr.isTTY === true && (ci === undefined || ci === '' || ci === 'false' || ci === '0')
  );
}

export function terminalProgress(quiet: boolean): Progress {
  if (!wantsProgress(quiet)) return silentProgress;
  let bar: cliProgress.SingleBar | undefined;
  let bytes = 0;
  return {
    start(label, total, unit = 'items') {
      bar?.stop();
      bytes = 0;
      bar = new cliProgress.SingleBar(
        {
          format: `${label} [{bar}] {value}/{total} ${unit} {bytes} {eta_formatted}`,
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: true,
          etaBuffer: 50,
          fps: 10,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total ?? 0, 0, { bytes: '' });
    },
    advance(count, advanceBytes = 0) {
      bytes += advanceBytes;
      bar?.increment(count, { bytes: bytes > 0 ? formatBytes(bytes) : '' });
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
