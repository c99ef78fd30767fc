/**
 * Starts the real `ledge server` (bin/ledge.js) in a workspace on port 0 and reads its URL;
 * keeps its stderr (the JSON log) for assertions. Killed when the test ends.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { TestContext } from 'node:test';
import { LEDGE_BIN } from '../../helpers/cli.js';

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** Everything it logged so far (stderr). */
  log(): string;
  /** Resolves with the exit code (or signal) once it exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function startServer(
  t: TestContext,
  root: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const baseEnv: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env))
    if (!key.startsWith('LEDGE_') || key === 'LEDGE_TEST') baseEnv[key] = value;
  const child = spawn(process.execPath, [LEDGE_BIN, 'server', '--port', '0', '--json', ...args], {
    cwd: root,
    env: { ...baseEnv, CI: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ledge server did not start:\n${stderr}`)), 60_000);
    const check = () => {
      const line = stdout.split('\n').find((l) => l.includes('"url"'));
      if (line) {
        clearTimeout(timer);
        resolve((JSON.parse(stdout) as { url: string }).url);
      }
    };
    child.stdout!.on('data', check);
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`ledge server exited with ${code}:\n${stderr}`));
    });
  });
  return { child, url: url.replace(/\/$/, ''), log: () => stderr, exited };
}

export async function api(
  url: string,
  method: string,
  token?: string,
  body?: unknown,
  headers: Record<string, string> = {},
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers of many shapes, checked by the assertions
): Promise<{ status: number; body: any; text: string }> {
  const response = await fetch(url, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: response.status, body: parsed, text };
}
