/**
 * Data safety of the real CLI under hostile conditions: processes killed mid-write, stale and
 * contended locks, workspace edits next to linked cache objects, and git checkouts of older
 * versions. Everything runs the real `ledge` binary against real files and a real git.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { finished, type LedgeResult, runLedge, startLedge, waitFor } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp-dir.js';

const isRoot = process.getuid?.() === 0;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sha256Hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/** Runs ledge and insists on success. */
async function ledge(cwd: string, args: string[], env?: Record<string, string>): Promise<LedgeResult> {
  const result = await runLedge(args, { cwd, env });
  assert.equal(result.code, 0, `ledge ${args.join(' ')} failed:\n${result.stderr}${result.stdout}`);
  return result;
}

async function ledgeJson<T>(cwd: string, args: string[], env?: Record<string, string>): Promise<T> {
  return JSON.parse((await ledge(cwd, [...args, '--json'], env)).stdout) as T;
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'ledge test',
      GIT_AUTHOR_EMAIL: 'test@ledge.invalid',
      GIT_COMMITTER_NAME: 'ledge test',
      GIT_COMMITTER_EMAIL: 'test@ledge.invalid',
    },
  });
}

async function newWorkspace(t: TestContext, options: { git?: boolean } = {}): Promise<string> {
  const root = tempDir(t, 'ledge-safety-');
  if (options.git) git(root, 'init', '-q');
  await ledge(root, ['init']);
  return root;
}

/** Writes `dirs` x `perDir` small files with distinct contents under `dir`; returns them. */
function writeManyFiles(dir: string, dirs: number, perDir: number): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (let d = 0; d < dirs; d++) {
    const sub = `d${String(d).padStart(3, '0')}`;
    fs.mkdirSync(path.join(dir, sub), { recursive: true });
    for (let i = 0; i < perDir; i++) {
      const bytes = Buffer.from(`file ${d}/${i}\n${'x'.repeat((d * 7 + i) % 97)}`);
      fs.writeFileSync(path.join(dir, sub, `f${i}.txt`), bytes);
      files.set(`${sub}/f${i}.txt`, bytes);
    }
  }
  return files;
}

/** Every file below `dir` (relative path -> bytes), symlinks followed. */
function readTree(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (abs: string, rel: string) => {
    for (const entry of fs.readdirSync(abs, { withFileTypes: true })) {
      const childAbs = path.join(abs, entry.name);
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      if (fs.statSync(childAbs).isDirectory()) walk(childAbs, childRel);
      else out.set(childRel, fs.readFileSync(childAbs));
    }
  };
  walk(dir, '');
  return out;
}

function assertSameTree(actualDir: string, expected: Map<string, Buffer>): void {
  const actual = readTree(actualDir);
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), `files of ${actualDir}`);
  for (const [rel, bytes] of expected) {
    assert.ok(actual.get(rel)!.equals(bytes), `${rel} differs from the original`);
  }
}

/** All paths below `dir` (files and symlinks, not directories), recursively; [] when absent. */
function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (abs: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(abs, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const entry of entries) {
      const child = path.join(abs, entry.name);
      if (entry.isDirectory()) walk(child);
      else out.push(child);
    }
  };
  walk(dir);
  return out;
}

const isTemp = (file: string) => path.basename(file).startsWith('.tmp-');

/** Temp files and staging directories anywhere in the workspace outside `.ledge/`. */
function workspaceTemps(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    let entries: fs.Dirent[] = [];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const abs = path.join(dir, entry.name);
      if (isTemp(abs)) found.push(path.relative(root, abs));
      else if (entry.isDirectory() && abs !== path.join(root, '.ledge')) walk(abs);
    }
  };
  walk(root);
  return found;
}

/**
 * Checks the cache independently of ledge: every loose object under a final name
 * (`sha256/ab/<62 hex>`) holds exactly the bytes its name promises. Temp files are the only
 * other names allowed there. Returns the number of leftover temp files in the whole cache.
 */
function assertCacheSound(cacheDir: string): { temps: number; loose: number } {
  const objectsDir = path.join(cacheDir, 'sha256');
  let loose = 0;
  for (const file of listFiles(objectsDir)) {
    if (isTemp(file)) continue;
    const rel = path.relative(objectsDir, file).split(path.sep).join('/');
    assert.match(rel, /^[0-9a-f]{2}\/[0-9a-f]{62}$/, `unexpected file under a final name: ${rel}`);
    const hex = rel.replace('/', '');
    assert.equal(sha256Hex(fs.readFileSync(file)), hex, `cache object ${rel} does not match its name`);
    loose++;
  }
  return { temps: listFiles(cacheDir).filter(isTemp).length, loose };
}

/** A pointer file is either absent or complete, valid YAML naming `name`. Returns whether it exists. */
function assertPointerSound(pointerPath: string, name: string, type: 'file' | 'dir'): boolean {
  if (!fs.existsSync(pointerPath)) return false;
  const text = fs.readFileSync(pointerPath, 'utf8');
  const pointer = parseYaml(text) as Record<string, unknown>;
  assert.equal(pointer.version, 1, text);
  assert.equal(pointer.path, name, text);
  assert.equal(pointer.type, type, text);
  assert.match(String(pointer.digest), /^sha256:[0-9a-f]{64}$/, text);
  assert.equal(typeof pointer.size, 'number', text);
  return true;
}

interface FsckJson {
  checked: number;
  corrupt: string[];
}

async function assertFsckClean(root: string): Promise<FsckJson> {
  const result = await ledgeJson<FsckJson>(root, ['fsck']);
  assert.deepEqual(result.corrupt, [], 'fsck found corrupt objects');
  return result;
}

interface StatusJson {
  entries: { path: string; workspace: string; missingFromCache: number }[];
}

async function assertUpToDate(root: string, paths: string[]): Promise<void> {
  const status = await ledgeJson<StatusJson>(root, ['status']);
  assert.deepEqual(
    status.entries.map((e) => [e.path, e.workspace, e.missingFromCache]).sort(),
    paths.map((p) => [p, 'up-to-date', 0]).sort(),
  );
}

/**
 * Whether anything was created in the cache since `sinceMs`: a new entry in the cache
 * directory or in one of its subdirectories (shards, tmp/, packs/) changes that directory's
 * mtime. Cheap enough to poll while a child writes thousands of objects.
 */
function cacheActiveSince(cacheDir: string, sinceMs: number): boolean {
  let level = [cacheDir];
  for (let depth = 0; depth <= 2 && level.length > 0; depth++) {
    const next: string[] = [];
    for (const dir of level) {
      let st: fs.Stats;
      try {
        st = fs.statSync(dir);
      } catch {
        continue;
      }
      if (st.mtimeMs > sinceMs) return true;
      if (depth === 2) continue;
      let entries: fs.Dirent[] = [];
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
      } catch {
        // Removed meanwhile.
      }
      for (const entry of entries) if (entry.isDirectory()) next.push(path.join(dir, entry.name));
    }
    level = next;
  }
  return false;
}

/** Starts `ledge args`, waits for `ready` (or the end of the run), sleeps `delayMs`, SIGKILLs it. */
async function killDuring(
  t: TestContext,
  cwd: string,
  args: string[],
  ready: () => boolean,
  delayMs: number,
  env?: Record<string, string>,
): Promise<LedgeResult> {
  const child = startLedge(args, { cwd, env, t });
  const exit = finished(child);
  let exited = false;
  void exit.then(() => {
    exited = true;
  });
  await waitFor(() => exited || ready(), `ledge ${args.join(' ')} to start writing`);
  await sleep(delayMs);
  child.kill('SIGKILL');
  const result = await exit;
  if (result.signal !== 'SIGKILL') assert.equal(result.code, 0, `ledge ${args.join(' ')}: ${result.stderr}`);
  return result;
}

/** A process that holds the workspace lock the way src/core/lock.ts writes it, until killed. */
async function startLockHolder(t: TestContext, lockPath: string): Promise<ChildProcess> {
  const script = `
    const fs = require('node:fs');
    const os = require('node:os');
    const holder = { pid: process.pid, host: os.hostname(), command: 'test lock holder', since: new Date().toISOString() };
    fs.writeFileSync(process.argv[1], JSON.stringify(holder), { flag: 'wx' });
    process.stdout.write('ready\\n');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['-e', script, lockPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`lock holder exited early (${code})`)));
  });
  return child;
}

/** The PID of a process that has exited. */
async function deadPid(): Promise<number> {
  const gone = spawn(process.execPath, ['-e', '']);
  await exitOf(gone);
  return gone.pid!;
}

function exitOf(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Resolves once `child` has written `text` to stderr. */
function stderrIncludes(child: ChildProcess, text: string): Promise<void> {
  let seen = '';
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      seen += chunk.toString('utf8');
      if (seen.includes(text)) resolve();
    });
    child.once('close', () => reject(new Error(`exited without printing '${text}'; stderr:\n${seen}`)));
  });
}

describe('safety: killed processes', () => {
  it('SIGKILL during `ledge add` of 20,000 files never leaves a half-written pointer or a corrupt object', async (t) => {
    const root = await newWorkspace(t);
    const data = path.join(root, 'big');
    const original = writeManyFiles(data, 100, 200);
    const cacheDir = path.join(root, '.ledge', 'cache');
    const pointer = path.join(root, 'big.ledge');

    let interrupted = 0;
    for (const delay of [50, 200, 450]) {
      const since = Date.now();
      const result = await killDuring(
        t,
        root,
        ['add', 'big'],
        () => cacheActiveSince(cacheDir, since),
        delay,
      );
      if (result.signal === 'SIGKILL') interrupted++;
      const pointerWritten = assertPointerSound(pointer, 'big', 'dir');
      const { temps, loose } = assertCacheSound(cacheDir);
      const fsck = await assertFsckClean(root);
      t.diagnostic(
        `killed after ${delay} ms: ${result.signal ?? `exit ${result.code}`}, pointer ${pointerWritten ? 'written' : 'absent'}, ` +
          `${fsck.checked} objects (${loose} loose), ${temps} temp files`,
      );
    }
    assert.ok(interrupted > 0, 'no kill landed while ledge add was running; the tree is too small');

    const tempsBefore = assertCacheSound(cacheDir).temps;
    await ledge(root, ['add', 'big']);
    assert.ok(assertPointerSound(pointer, 'big', 'dir'));
    await assertUpToDate(root, ['big']);
    assertSameTree(data, original);

    const gc = await ledgeJson<{ tempsRemoved: number; removed: number }>(root, ['gc']);
    const after = assertCacheSound(cacheDir);
    assert.equal(after.temps, 0, 'gc left temp files of the killed runs');
    assert.ok(gc.tempsRemoved >= tempsBefore, `gc removed ${gc.tempsRemoved} of ${tempsBefore} temp files`);
    const leftover = listFiles(cacheDir).filter(
      (f) => f.endsWith('.pack') && !fs.existsSync(`${f.slice(0, -5)}.idx`),
    );
    assert.deepEqual(leftover, [], 'packs without an index survived gc');
    const fsck = await assertFsckClean(root);
    assert.equal(fsck.checked, 20_001, '20,000 distinct files and one directory manifest');
  });

  it('SIGKILL during `ledge pull` from a directory remote: sound cache, and a rerun restores identical data', async (t) => {
    const a = await newWorkspace(t);
    const original = writeManyFiles(path.join(a, 'data'), 30, 200);
    await ledge(a, ['add', 'data']);
    await ledge(a, ['remote', 'add', 'origin', path.join(tempDir(t, 'ledge-remote-'), 'store'), '--default']);
    await ledge(a, ['push']);

    const b = tempDir(t, 'ledge-safety-b-');
    fs.mkdirSync(path.join(b, '.ledge'));
    fs.copyFileSync(path.join(a, 'data.ledge'), path.join(b, 'data.ledge'));
    fs.copyFileSync(path.join(a, '.ledge', 'config.yaml'), path.join(b, '.ledge', 'config.yaml'));
    const cacheDir = path.join(b, '.ledge', 'cache');
    const dataDir = path.join(b, 'data');

    const checkAfterKill = async (phase: string, result: LedgeResult) => {
      const { temps } = assertCacheSound(cacheDir);
      const fsck = await assertFsckClean(b);
      const placed = listFiles(dataDir).filter((f) => !isTemp(f));
      t.diagnostic(
        `killed while ${phase}: ${result.signal ?? `exit ${result.code}`}, ${fsck.checked} objects, ` +
          `${temps} temp files in the cache, ${workspaceTemps(b).length} temp entries in the workspace, ` +
          `${placed.length} files checked out`,
      );
      // Whatever checkout already placed under a final name is complete.
      for (const file of placed) {
        const rel = path.relative(dataDir, file).split(path.sep).join('/');
        assert.ok(fs.readFileSync(file).equals(original.get(rel)!), `partial file ${rel} in the workspace`);
      }
    };

    // While fetching: as soon as objects start arriving.
    const since = Date.now();
    await checkAfterKill(
      'fetching',
      await killDuring(t, b, ['pull'], () => cacheActiveSince(cacheDir, since), 200),
    );
    // While checking out: as soon as the data directory or its staging directory appears.
    await checkAfterKill(
      'checking out',
      await killDuring(t, b, ['pull'], () => fs.existsSync(dataDir) || workspaceTemps(b).length > 0, 5),
    );

    // A kill between creating a temp file in an existing directory and filling it leaves an
    // empty one named by the dead writer's PID (most kills while checking out did, before
    // staging directories); the rerun must neither take it for a user edit nor keep it.
    fs.mkdirSync(path.join(dataDir, 'd000'), { recursive: true });
    fs.writeFileSync(path.join(dataDir, 'd000', `.tmp-${await deadPid()}-t0-0123abcd-7`), '', {
      mode: 0o444,
    });

    await ledge(b, ['pull']);
    assertSameTree(dataDir, original);
    assert.deepEqual(workspaceTemps(b), [], 'temp files or staging directories left in the workspace');
    await assertUpToDate(b, ['data']);
    await assertFsckClean(b);
    await ledge(b, ['gc']);
    assert.equal(assertCacheSound(cacheDir).temps, 0);
  });
});

describe('safety: workspace lock', () => {
  it('takes over a lock left by a dead process', async (t) => {
    const root = await newWorkspace(t);
    fs.writeFileSync(path.join(root, 'a.txt'), 'a\n');
    const lockPath = path.join(root, '.ledge', 'lock');
    const holder = {
      pid: await deadPid(),
      host: os.hostname(),
      command: 'ledge add',
      since: new Date().toISOString(),
    };
    fs.writeFileSync(lockPath, JSON.stringify(holder));

    await ledge(root, ['add', 'a.txt']);
    assert.ok(assertPointerSound(path.join(root, 'a.txt.ledge'), 'a.txt', 'file'));
    assert.equal(fs.existsSync(lockPath), false, 'the lock is released after the command');
  });

  it("stops what a dead holder left running in this workspace, and nothing of another's", async (t) => {
    const root = await newWorkspace(t);
    fs.writeFileSync(path.join(root, 'c.txt'), 'c\n');
    const dead = await deadPid();
    fs.writeFileSync(
      path.join(root, '.ledge', 'lock'),
      JSON.stringify({
        pid: dead,
        host: os.hostname(),
        command: 'ledge run',
        since: new Date().toISOString(),
      }),
    );
    // What a `ledge run` killed with SIGKILL leaves: its stage's process group, still running.
    const stage = (workspace: string) => {
      const child = spawn('sleep', ['60'], {
        detached: true,
        stdio: 'ignore',
        env: { ...process.env, LEDGE_LOCK_HOLDER: String(dead), LEDGE_WORKSPACE: workspace },
      });
      t.after(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      });
      return child;
    };
    const orphan = stage(root);
    const another = stage(path.join(root, 'elsewhere'));
    const orphanExit = exitOf(orphan);

    const result = await ledge(root, ['add', 'c.txt']);
    assert.match(
      result.stderr,
      new RegExp(`stopped a process group left running by PID ${dead} \\(ledge run\\)`),
    );
    await orphanExit;
    assert.equal(orphan.signalCode, 'SIGTERM');
    assert.equal(another.exitCode ?? another.signalCode, null, "another workspace's process is left alone");
  });

  it('waits for a live holder and takes over once that holder is killed', async (t) => {
    const root = await newWorkspace(t);
    fs.writeFileSync(path.join(root, 'b.txt'), 'b\n');
    const holder = await startLockHolder(t, path.join(root, '.ledge', 'lock'));
    const child = startLedge(['add', 'b.txt'], { cwd: root, t });
    await stderrIncludes(child, `waiting for the workspace lock held by PID ${holder.pid}`);
    assert.equal(child.exitCode, null, 'ledge add must wait while the holder lives');
    holder.kill('SIGKILL');
    const result = await finished(child);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(assertPointerSound(path.join(root, 'b.txt.ledge'), 'b.txt', 'file'));
  });

  it('with LEDGE_LOCK_TIMEOUT=1 and a live holder, fails with one line naming the holder', async (t) => {
    const root = await newWorkspace(t);
    fs.writeFileSync(path.join(root, 'c.txt'), 'c\n');
    const lockPath = path.join(root, '.ledge', 'lock');
    const holder = await startLockHolder(t, lockPath);
    const lockBefore = fs.readFileSync(lockPath, 'utf8');

    const started = Date.now();
    const result = await runLedge(['add', 'c.txt'], { cwd: root, env: { LEDGE_LOCK_TIMEOUT: '1' } });
    assert.equal(result.code, 1, result.stderr);
    assert.ok(Date.now() - started >= 900, 'it waited about a second first');
    const errors = result.stderr.split('\n').filter((line) => line.startsWith('ledge: error:'));
    assert.equal(errors.length, 1, result.stderr);
    assert.match(errors[0]!, new RegExp(`^ledge: error: workspace is locked by PID ${holder.pid}\\b`));
    assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack trace');
    // Besides the error, at most the notice that it was waiting.
    const others = result.stderr
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('ledge: error:'));
    for (const line of others) assert.match(line, /^ledge: waiting for the workspace lock held by PID \d+/);
    assert.equal(fs.existsSync(path.join(root, 'c.txt.ledge')), false);
    assert.equal(fs.readFileSync(lockPath, 'utf8'), lockBefore, "the holder's lock is untouched");
  });

  it('two concurrent `ledge add` on one workspace: the second waits, both succeed', async (t) => {
    const root = await newWorkspace(t);
    writeManyFiles(path.join(root, 'big'), 20, 200);
    fs.writeFileSync(path.join(root, 'small.txt'), 'small\n');
    const lockPath = path.join(root, '.ledge', 'lock');

    const first = startLedge(['add', 'big'], { cwd: root, t });
    await waitFor(() => {
      try {
        return JSON.parse(fs.readFileSync(lockPath, 'utf8')).pid === first.pid;
      } catch {
        return first.exitCode !== null;
      }
    }, 'the first add to take the lock');
    // Freeze the first add while it holds the lock, so the second surely finds it busy.
    first.kill('SIGSTOP');
    assert.equal(first.exitCode, null, 'the first add finished before it could be paused');
    const second = startLedge(['add', 'small.txt'], { cwd: root, t });
    await stderrIncludes(second, `waiting for the workspace lock held by PID ${first.pid} (ledge add big`);
    assert.equal(second.exitCode, null);
    first.kill('SIGCONT');
    const [r1, r2] = await Promise.all([finished(first), finished(second)]);
    assert.equal(r1.code, 0, r1.stderr);
    assert.equal(r2.code, 0, r2.stderr);
    assert.ok(assertPointerSound(path.join(root, 'big.ledge'), 'big', 'dir'));
    assert.ok(assertPointerSound(path.join(root, 'small.txt.ledge'), 'small.txt', 'file'));
    await assertUpToDate(root, ['big', 'small.txt']);
    await assertFsckClean(root);
  });
});

/** Cache files with the same inode as `file`. */
function cacheFilesSharingInode(cacheDir: string, file: string): string[] {
  const { ino, dev } = fs.statSync(file);
  return listFiles(cacheDir).filter((f) => {
    const st = fs.lstatSync(f);
    return st.ino === ino && st.dev === dev;
  });
}

describe('safety: the cache is never changed through the workspace', () => {
  it('copy mode (default): appending to a workspace file leaves the cached object intact', async (t) => {
    const root = await newWorkspace(t);
    const original = randomBytes(100_000);
    const file = path.join(root, 'model.bin');
    fs.writeFileSync(file, original);
    await ledge(root, ['add', 'model.bin']);
    assert.deepEqual(cacheFilesSharingInode(path.join(root, '.ledge', 'cache'), file), []);

    fs.appendFileSync(file, 'local change');
    await assertFsckClean(root);
    const status = await ledgeJson<StatusJson>(root, ['status']);
    assert.equal(status.entries[0]!.workspace, 'modified');
    // The cached bytes are still the original ones: a forced checkout brings them back.
    await ledge(root, ['checkout', '--force']);
    assert.ok(fs.readFileSync(file).equals(original));
    await assertUpToDate(root, ['model.bin']);
  });

  it('LEDGE_LINK=hardlink: workspace files are read-only hardlinks of cache objects', async (t) => {
    const root = await newWorkspace(t);
    const env = { LEDGE_LINK: 'hardlink' };
    const cacheDir = path.join(root, '.ledge', 'cache');
    const files = { 'a.bin': randomBytes(50_000), 'sub/b.txt': Buffer.from('hello\n') };
    for (const [rel, bytes] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(root, 'data', rel)), { recursive: true });
      fs.writeFileSync(path.join(root, 'data', rel), bytes);
    }
    const assertLinked = () => {
      for (const [rel, bytes] of Object.entries(files)) {
        const abs = path.join(root, 'data', rel);
        const st = fs.lstatSync(abs);
        assert.ok(st.isFile(), `${rel} is a file`);
        assert.equal(st.mode & 0o777, 0o444, `${rel} is read-only`);
        assert.ok(st.nlink >= 2, `${rel} is hardlinked`);
        assert.equal(cacheFilesSharingInode(cacheDir, abs).length, 1, `${rel} is linked to one cache object`);
        assert.ok(fs.readFileSync(abs).equals(bytes));
        if (!isRoot) {
          // Root bypasses mode bits; anyone else cannot write through the link.
          assert.throws(() => fs.appendFileSync(abs, 'x'), { code: 'EACCES' });
        }
      }
    };
    await ledge(root, ['add', 'data'], env);
    assertLinked();
    fs.rmSync(path.join(root, 'data'), { recursive: true });
    await ledge(root, ['checkout'], env);
    assertLinked();
    await assertUpToDate(root, ['data']);
    await assertFsckClean(root);
  });

  it('LEDGE_LINK=symlink: workspace entries are symlinks into the cache', async (t) => {
    const root = await newWorkspace(t);
    const env = { LEDGE_LINK: 'symlink' };
    const cacheDir = fs.realpathSync(path.join(root, '.ledge', 'cache'));
    const files = { 'a.bin': randomBytes(20_000), 'sub/b.txt': Buffer.from('hello\n') };
    for (const [rel, bytes] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(root, 'data', rel)), { recursive: true });
      fs.writeFileSync(path.join(root, 'data', rel), bytes);
    }
    const assertLinked = () => {
      for (const [rel, bytes] of Object.entries(files)) {
        const abs = path.join(root, 'data', rel);
        assert.ok(fs.lstatSync(abs).isSymbolicLink(), `${rel} is a symlink`);
        const target = fs.realpathSync(abs);
        assert.ok(target.startsWith(cacheDir + path.sep), `${rel} points into the cache, not at ${target}`);
        assert.equal(fs.statSync(target).mode & 0o222, 0, `the object behind ${rel} is read-only`);
        assert.ok(fs.readFileSync(abs).equals(bytes));
      }
    };
    await ledge(root, ['add', 'data'], env);
    assertLinked();
    fs.rmSync(path.join(root, 'data', 'sub', 'b.txt'));
    await ledge(root, ['checkout'], env);
    assertLinked();
    await assertUpToDate(root, ['data']);
    await assertFsckClean(root);
  });

  it('stores identical content once', async (t) => {
    const root = await newWorkspace(t);
    const same = randomBytes(10_000);
    fs.mkdirSync(path.join(root, 'data', 'sub'), { recursive: true });
    fs.writeFileSync(path.join(root, 'data', 'one.bin'), same);
    fs.writeFileSync(path.join(root, 'data', 'sub', 'two.bin'), same);
    fs.writeFileSync(path.join(root, 'data', 'other.bin'), randomBytes(10_000));
    fs.writeFileSync(path.join(root, 'copy.bin'), same);
    await ledge(root, ['add', 'data', 'copy.bin']);
    // one.bin = two.bin = copy.bin, other.bin, and the directory manifest.
    const fsck = await assertFsckClean(root);
    assert.equal(fsck.checked, 3);
    const loose = assertCacheSound(path.join(root, '.ledge', 'cache')).loose;
    assert.ok(loose <= 3, `${loose} loose objects for 3 distinct contents`);
  });
});

describe('safety: checkout after git checkout', () => {
  it('restores the older directory version, deleting files it lacks; refuses to lose uncached edits', async (t) => {
    const root = await newWorkspace(t, { git: true });
    const data = path.join(root, 'data');
    const write = (files: Record<string, string>) => {
      for (const [rel, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(data, rel)), { recursive: true });
        fs.writeFileSync(path.join(data, rel), text);
      }
    };
    write({ 'a.txt': 'a v1\n', 'b.txt': 'b\n' });
    const v1 = readTree(data);
    await ledge(root, ['add', 'data']);
    git(root, 'add', '-A');
    git(root, 'commit', '-q', '-m', 'v1');

    write({ 'a.txt': 'a v2\n', 'c.txt': 'c (new in v2)\n', 'sub/d.txt': 'd (new in v2)\n' });
    const v2 = readTree(data);
    await ledge(root, ['add', 'data']);
    git(root, 'commit', '-q', '-am', 'v2');
    const branch = git(root, 'rev-parse', '--abbrev-ref', 'HEAD').trim();

    git(root, 'checkout', '-q', 'HEAD~1');
    await ledge(root, ['checkout']);
    assertSameTree(data, v1);
    assert.equal(fs.existsSync(path.join(data, 'sub')), false, 'the directory only v2 had is gone');
    await assertUpToDate(root, ['data']);

    git(root, 'checkout', '-q', branch);
    fs.writeFileSync(path.join(data, 'a.txt'), 'an edit that exists only here\n');
    const refused = await runLedge(['checkout'], { cwd: root });
    assert.equal(refused.code, 1, refused.stderr);
    const lines = refused.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, refused.stderr);
    assert.match(lines[0]!, /^ledge: error: .*data\/a\.txt.*--force/);
    assert.equal(fs.readFileSync(path.join(data, 'a.txt'), 'utf8'), 'an edit that exists only here\n');
    assert.equal(fs.existsSync(path.join(data, 'c.txt')), false, 'a refused checkout writes nothing');

    await ledge(root, ['checkout', '--force']);
    assertSameTree(data, v2);
    await assertUpToDate(root, ['data']);
    await assertFsckClean(root);
  });
});
