/**
 * Structured logs for servers: one JSON object per line, `{"time", "level", "msg", …fields}`,
 * to a writable stream (stderr by default). Small on purpose (no logging dependency on devices).
 * Fields whose names look like secrets are replaced with "[redacted]", and URLs lose their
 * credentials, so a careless caller cannot leak a token into the logs.
 */
import type { Writable } from 'node:stream';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

export interface JsonLoggerOptions {
  /** Where lines go (default: process.stderr). */
  stream?: Writable;
  /** Lines below this level are dropped (default: info; `LEDGE_LOG_LEVEL` overrides). */
  level?: LogLevel;
  /** Fields added to every line, e.g. `{server: 'edge-1'}`. */
  base?: LogFields;
  /** The clock (ms since the epoch), for tests. */
  now?: () => number;
}

const SECRET_KEY = /pass(word)?|secret|token|authorization|cookie|api[-_]?key|credential|private[-_]?key/i;

/** A URL without user, password or query (query strings often carry tokens); other text unchanged. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    parsed.search = '';
    return parsed.toString();
  } catch {
    return '[unparsable url]';
  }
}

function redact(value: unknown, depth: number): unknown {
  if (value instanceof Error) {
    const code = (value as NodeJS.ErrnoException).code;
    return code ? { message: value.message, code } : { message: value.message };
  }
  if (depth > 3 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const out: LogFields = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) ? '[redacted]' : redact(item, depth + 1);
  }
  return out;
}

function isLogLevel(value: string | undefined): value is LogLevel {
  return value !== undefined && value in LEVELS;
}

export function createJsonLogger(options: JsonLoggerOptions = {}): Logger {
  const stream = options.stream ?? process.stderr;
  const envLevel = process.env.LEDGE_LOG_LEVEL;
  const threshold = LEVELS[options.level ?? (isLogLevel(envLevel) ? envLevel : 'info')];
  const base = options.base ? (redact(options.base, 0) as LogFields) : {};
  const now = options.now ?? Date.now;
  const write = (level: LogLevel, msg: string, fields?: LogFields) => {
    if (LEVELS[level] < threshold) return;
    const line: LogFields = { time: new Date(now()).toISOString(), level, msg, ...base };
    if (fields) Object.assign(line, redact(fields, 0));
    let text: string;
    try {
      text = JSON.stringify(line);
    } catch {
      text = JSON.stringify({ time: line.time, level, msg, note: 'fields not serialisable' });
    }
    try {
      stream.write(`${text}\n`);
    } catch {
      // A closed stream must not take the server down.
    }
  };
  return {
    debug: (msg, fields) => write('debug', msg, fields),
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
  };
}

/** A logger that drops everything. */
export const SILENT_LOGGER: Logger = { debug() {}, info() {}, warn() {}, error() {} };
