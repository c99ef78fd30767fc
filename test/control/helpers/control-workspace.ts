/**
 * A tiny pipeline in a real git repository for control-plane tests: `sh -c` stages that write
 * files, one of which can be held open (it waits for a `release` file) to test overlap,
 * coalescing, cancelling and killing the server mid-run.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { ControlRunRecords } from '../../../src/metadata/control-runs.js';
import { MetadataStore } from '../../../src/metadata/metadata-store.js';
import { LEDGE_BIN } from '../../helpers/cli.js';
import { tempDir, writeTree } from '../../helpers/temp-dir.js';

/**
 * `prepare` copies input.txt; `train` waits while `hold` exists (so a test can keep a run
 * going), records its pid, appends to .counts/train, writes model.txt.
 */
export const PIPELINE = `stages:
  prepare:
    cmd: mkdir -p .counts && echo x >> .counts/prepare && cp input.txt prepared.txt
    deps: [input.txt]
    outs: [prepared.txt]
  train:
    cmd:
      - mkdir -p .pids && echo $$ > .pids/train && while [ -f hold ]; do sleep 0.05; done
      - mkdir -p .counts && echo x >> .counts/train
      - cat prepared.txt params.yaml > model.txt
    deps: [prepared.txt]
    params: [train.epochs]
    outs: [model.txt]
`;

export function controlWorkspace(t: TestContext, files: Record<string, string> = {}): string {
  const root = tempDir(t, 'ledge-control-');
  execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: root });
  execFileSync('git', ['config', 'user.email', 'test@example.com'], { cwd: root });
  execFileSync('git', ['config', 'user.name', 'Test'], { cwd: root });
  writeTree(root, {
    'input.txt': 'one\n',
    'params.yaml': 'train:\n  epochs: 3\n',
    'ledge.yaml': PIPELINE,
    '.gitignore': '.counts/\n.pids/\nhold\n',
    ...files,
  });
  execFileSync(process.execPath, [LEDGE_BIN, 'init'], { cwd: root, stdio: 'ignore' });
  execFileSync('git', ['add', '-A'], { cwd: root });
  execFileSync('git', ['commit', '-q', '-m', 'pipeline'], { cwd: root });
  return root;
}

export function countOf(root: string, stage: string): number {
  const file = path.join(root, '.counts', stage);
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').length - 1 : 0;
}

export function metadataPath(root: string): string {
  return path.join(root, '.ledge', 'state', 'metadata.db');
}

export async function openRecords(
  t: TestContext,
  root: string,
): Promise<{ metadata: MetadataStore; records: ControlRunRecords }> {
  const metadata = await MetadataStore.open(metadataPath(root));
  t.after(() => metadata.close());
  return { metadata, records: new ControlRunRecords(metadata, `${os.hostname()}:${root}`) };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function until<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
