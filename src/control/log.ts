/**
 * Structured JSON logs of the control server: one object per line (`time`, `level`, `msg`,
 * fields). Secrets never reach the sink: anything shaped like a ledge API token is masked in
 * the finished line, whatever field it hid in.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

const TOKEN_PATTERN = /ledge_[A-Za-z0-9_-]{8,}/g;

/** `text` with every token-shaped string replaced by `ledge_***`. */
export function redactTokens(text: string): string {
  return text.replace(TOKEN_PATTERN, 'ledge_***');
}

export function jsonLogger(write: (line: string) => void, now: () => Date = () => new Date()): Logger {
  const log = (level: LogLevel, msg: string, fields: Record<string, unknown> = {}) => {
    const line = JSON.stringify({ time: now().toISOString(), level, msg, ...fields }, (_key, value) =>
      value instanceof Error ? value.message : value,
    );
    write(`${redactTokens(line)}\n`);
  };
  return {
    log,
    info: (msg, fields) => log('info', msg, fields),
    warn: (msg, fields) => log('warn', msg, fields),
    error: (msg, fields) => log('error', msg, fields),
  };
}

/** Discards everything (libraries used without a server). */
export const silentLogger: Logger = { log() {}, info() {}, warn() {}, error() {} };
