/**
 * What users see when they get something wrong: every failure is exactly one line on stderr
 * starting with `ledge: error:` (a stack trace only with --verbose or LEDGE_DEBUG=1), the
 * documented exit code (1 failure, 2 usage error), and nothing in the workspace or the cache
 * lost or changed. Runs the real CLI on real files.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { type LedgeResult, type LedgeRunOptions, runLedge } from '../helpers/cli.js';
import { startS3Server } from '../helpers/s3-server.js';
import { tempDir } from '../helpers/temp-dir.js';

const isRoot = process.getuid?.() === 0;

function hasSetpriv(): boolean {
  try {
    execFileSync('setpriv', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * A workspace built once with the CLI (`data/` and `model.bin` tracked) and copied for each
 * test, so every test starts from the same state cheaply.
 */
let template: string;

before(async () => {
  template = fs.mkdtempSync(path.join(os.tmpdir(), 'ledge-bad-template-'));
  const ws = path.join(template, 'ws');
  fs.mkdirSync(path.join(ws, 'data', 'sub'), { recursive: true });
  fs.writeFileSync(path.join(ws, 'data', 'a.txt'), 'alpha\n');
  fs.writeFileSync(path.join(ws, 'data', 'sub', 'b.txt'), 'beta\n');
  fs.writeFileSync(path.join(ws, 'model.bin'), Buffer.alloc(4096, 7));
  for (const args of [['init'], ['add', 'data', 'model.bin']]) {
    const result = await runLedge(args, { cwd: ws });
    assert.equal(result.code, 0, result.stderr);
  }
});

after(() => {
  if (template) fs.rmSync(template, { recursive: true, force: true });
});

interface Workspace {
  /** A scratch directory holding the workspace (and room for paths outside it). */
  base: string;
  root: string;
}

function workspace(t: TestContext): Workspace {
  const base = tempDir(t, 'ledge-bad-');
  fs.cpSync(template, base, { recursive: true, preserveTimestamps: true });
  return { base, root: path.join(base, 'ws') };
}

/** Every file and symlink below `root` (relative path -> mode and content digest or link target). */
function snapshot(root: string, ignore: string[] = []): Map<string, string> {
  const skip = new Set(['.ledge/state', '.ledge/lock', ...ignore]);
  const out = new Map<string, string>();
  const walk = (abs: string, rel: string) => {
    for (const entry of fs.readdirSync(abs, { withFileTypes: true })) {
      const childAbs = path.join(abs, entry.name);
      const childRel = rel ? `${rel}/${entry.name}` : entry.name;
      if (skip.has(childRel)) continue;
      const st = fs.lstatSync(childAbs);
      if (st.isDirectory()) walk(childAbs, childRel);
      else if (st.isSymbolicLink()) out.set(childRel, `symlink -> ${fs.readlinkSync(childAbs)}`);
      else if ((st.mode & 0o444) === 0) out.set(childRel, `unreadable, mode ${st.mode.toString(8)}`);
      else {
        const digest = createHash('sha256').update(fs.readFileSync(childAbs)).digest('hex');
        out.set(childRel, `mode ${(st.mode & 0o7777).toString(8)}, sha256 ${digest}`);
      }
    }
  };
  walk(root, '');
  return out;
}

interface Expectation {
  code: 1 | 2;
  /** What the error line must say (after `ledge: error: `). */
  message: RegExp;
  cwd?: string;
  env?: Record<string, string>;
  wrapper?: string[];
  /** Paths (workspace-relative) that may change, e.g. a file the test itself keeps writing. */
  ignore?: string[];
  /** New cache objects are allowed (e.g. the readable files of a directory that failed). */
  cacheMayGrow?: boolean;
  /** Run again with LEDGE_DEBUG=1 or --verbose and expect a stack trace (default true). */
  debugRerun?: boolean;
}

function describeRun(args: string[], result: LedgeResult): string {
  return `ledge ${args.join(' ')} -> exit ${result.code}\nstderr:\n${result.stderr}stdout:\n${result.stdout}`;
}

function assertUnchanged(before: Map<string, string>, after: Map<string, string>, cacheMayGrow: boolean) {
  if (!cacheMayGrow) {
    assert.deepEqual(after, before, 'the workspace or the cache changed');
    return;
  }
  for (const [rel, state] of before) assert.equal(after.get(rel), state, `${rel} was lost or changed`);
  for (const rel of after.keys()) {
    if (!before.has(rel)) assert.ok(rel.startsWith('.ledge/cache/'), `${rel} appeared outside the cache`);
  }
}

let debugStyle = 0;

/**
 * Runs `ledge args` in `ws`, expecting one clean error line, the exit code and no change;
 * then (by default) again in debug mode, alternating LEDGE_DEBUG=1 and --verbose, expecting
 * the same line followed by a stack trace.
 */
async function expectError(ws: Workspace, args: string[], expected: Expectation): Promise<LedgeResult> {
  const before = snapshot(ws.root, expected.ignore);
  const options: LedgeRunOptions = {
    cwd: expected.cwd ?? ws.root,
    env: expected.env,
    wrapper: expected.wrapper,
  };
  const result = await runLedge(args, options);
  const detail = describeRun(args, result);
  assert.equal(result.code, expected.code, detail);
  assert.equal(result.stdout, '', detail);
  const lines = result.stderr.split('\n');
  assert.equal(lines.pop(), '', `stderr ends with a newline\n${detail}`);
  assert.equal(lines.length, 1, `exactly one line on stderr\n${detail}`);
  assert.match(lines[0]!, /^ledge: error: \S/, detail);
  assert.match(lines[0]!.slice('ledge: error: '.length), expected.message, detail);
  assertUnchanged(before, snapshot(ws.root, expected.ignore), expected.cacheMayGrow ?? false);

  if (expected.debugRerun ?? true) {
    const viaEnv = debugStyle++ % 2 === 0;
    const debugArgs = viaEnv ? args : [...args, '--verbose'];
    const debug = await runLedge(debugArgs, {
      ...options,
      env: { ...expected.env, ...(viaEnv ? { LEDGE_DEBUG: '1' } : {}) },
    });
    const debugDetail = describeRun(debugArgs, debug);
    assert.equal(debug.code, expected.code, debugDetail);
    const [first = '', ...rest] = debug.stderr.split('\n');
    // The same error (which of several objects failed first may differ between runs).
    assert.match(first, /^ledge: error: \S/, debugDetail);
    assert.match(first.slice('ledge: error: '.length), expected.message, debugDetail);
    assert.match(rest.join('\n'), /^\s+at .+/m, `a stack trace in debug mode\n${debugDetail}`);
    assertUnchanged(before, snapshot(ws.root, expected.ignore), expected.cacheMayGrow ?? false);
  }
  return result;
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Configures remote `name` (the default) with credentials in the git-ignored local config. */
function writeS3Remote(root: string, name: string, settings: Record<string, string>): void {
  const lines = ['remotes:', `  ${name}:`, ...Object.entries(settings).map(([k, v]) => `    ${k}: ${v}`)];
  fs.writeFileSync(
    path.join(root, '.ledge', 'config.local.yaml'),
    `${lines.join('\n')}\ncore:\n  remote: ${name}\n`,
  );
}

/** Environment that keeps the AWS SDK away from the machine's own credentials and metadata service. */
const AWS_ISOLATION = {
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_CONFIG_FILE: '/nonexistent/ledge-test-aws-config',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/ledge-test-aws-credentials',
};

describe('bad input: paths given to ledge add', () => {
  it('a path that does not exist', async (t) => {
    const ws = workspace(t);
    await expectError(ws, ['add', 'no-such-file'], { code: 1, message: /'no-such-file' does not exist/ });
  });

  it('a path outside the workspace, relative or absolute', async (t) => {
    const ws = workspace(t);
    fs.writeFileSync(path.join(ws.base, 'x'), 'outside\n');
    await expectError(ws, ['add', '../x'], { code: 1, message: /'\.\.\/x' is outside the workspace/ });
    const outside = path.join(os.tmpdir());
    await expectError(ws, ['add', outside], { code: 1, message: /is outside the workspace/ });
    await expectError(ws, ['add', path.join(ws.base, 'x')], { code: 1, message: /is outside the workspace/ });
  });

  it('a path inside .ledge/', async (t) => {
    const ws = workspace(t);
    await expectError(ws, ['add', '.ledge/config.yaml'], { code: 1, message: /inside \.ledge\// });
    await expectError(ws, ['add', '.ledge'], { code: 1, message: /inside \.ledge\// });
  });

  it('a pointer file itself', async (t) => {
    const ws = workspace(t);
    await expectError(ws, ['add', 'data.ledge'], {
      code: 2,
      message: /'data\.ledge' is a pointer file; add the data itself: ledge add data$/,
    });
  });

  it('a path inside an already tracked directory', async (t) => {
    const ws = workspace(t);
    fs.writeFileSync(path.join(ws.root, 'data', 'sub', 'new.txt'), 'new\n');
    await expectError(ws, ['add', 'data/sub/new.txt'], {
      code: 2,
      message: /'data\/sub\/new\.txt' is inside 'data', which is already tracked/,
    });
  });

  it('a directory containing a symlink loop', async (t) => {
    const ws = workspace(t);
    fs.mkdirSync(path.join(ws.root, 'looped', 'sub'), { recursive: true });
    fs.writeFileSync(path.join(ws.root, 'looped', 'file.txt'), 'content\n');
    fs.symlinkSync('..', path.join(ws.root, 'looped', 'sub', 'loop'));
    await expectError(ws, ['add', 'looped'], { code: 1, message: /symlink loop at 'looped\/sub\/loop'/ });
    assert.equal(fs.existsSync(path.join(ws.root, 'looped.ledge')), false);
  });

  it('a dangling symlink, inside a directory and on its own', async (t) => {
    const ws = workspace(t);
    fs.mkdirSync(path.join(ws.root, 'dangling'));
    fs.writeFileSync(path.join(ws.root, 'dangling', 'ok.txt'), 'ok\n');
    fs.symlinkSync('missing-target', path.join(ws.root, 'dangling', 'broken'));
    fs.symlinkSync('missing-target', path.join(ws.root, 'broken-link'));
    await expectError(ws, ['add', 'dangling'], { code: 1, message: /'dangling\/broken' is a symlink/ });
    await expectError(ws, ['add', 'broken-link'], { code: 1, message: /'broken-link' does not exist/ });
    assert.equal(fs.existsSync(path.join(ws.root, 'dangling.ledge')), false);
  });

  it('an unreadable file inside a directory', async (t) => {
    let wrapper: string[] | undefined;
    if (isRoot) {
      // Root reads anything; run the CLI as `nobody` instead.
      if (!hasSetpriv()) {
        t.skip('running as root and setpriv (util-linux) is missing, so permissions cannot be enforced');
        return;
      }
      wrapper = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
    }
    const ws = workspace(t);
    fs.mkdirSync(path.join(ws.root, 'secret'));
    fs.writeFileSync(path.join(ws.root, 'secret', 'readable.txt'), 'fine\n');
    fs.writeFileSync(path.join(ws.root, 'secret', 'locked.txt'), 'private\n');
    if (isRoot) execFileSync('chmod', ['-R', 'a+rwX', ws.base]);
    fs.chmodSync(path.join(ws.root, 'secret', 'locked.txt'), 0o000);
    await expectError(ws, ['add', 'secret'], {
      code: 1,
      message: /permission denied on 'secret\/locked\.txt'/,
      wrapper,
      // What was readable may already be stored: harmless, and `ledge gc` drops it.
      cacheMayGrow: true,
    });
    assert.equal(fs.existsSync(path.join(ws.root, 'secret.ledge')), false);
  });

  it('a file that keeps changing while it is hashed', async (t) => {
    const ws = workspace(t);
    const file = path.join(ws.root, 'growing.bin');
    // 200 MB, mostly a hole: fast to create, a fair while to hash and copy.
    fs.writeFileSync(file, 'start');
    fs.truncateSync(file, 200 * 1024 * 1024);
    const appender = spawn(
      process.execPath,
      [
        '-e',
        `const fs = require('node:fs');
         const fd = fs.openSync(process.argv[1], 'a');
         const chunk = Buffer.alloc(4096, 1);
         fs.writeSync(fd, chunk);
         process.stdout.write('ready\\n');
         setInterval(() => fs.writeSync(fd, chunk), 1);`,
        file,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    t.after(() => stop(appender));
    await new Promise((resolve) => appender.stdout!.once('data', resolve));
    await expectError(ws, ['add', 'growing.bin'], {
      code: 1,
      message: /'growing\.bin' changed while it was being hashed/,
      ignore: ['growing.bin'],
      debugRerun: false,
    });
    await stop(appender);
    assert.equal(fs.existsSync(path.join(ws.root, 'growing.bin.ledge')), false, 'no pointer file');
    const leftovers = snapshot(path.join(ws.root, '.ledge', 'cache'));
    for (const rel of leftovers.keys())
      assert.doesNotMatch(rel, /(^|\/)\.tmp-/, `temp file ${rel} left behind`);
  });
});

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

describe('bad input: damaged files', () => {
  const pointerText = (ws: Workspace) => fs.readFileSync(path.join(ws.root, 'model.bin.ledge'), 'utf8');
  const writePointer = (ws: Workspace, text: string) =>
    fs.writeFileSync(path.join(ws.root, 'model.bin.ledge'), text);
  const lineOf = (text: string, needle: string) =>
    text.split('\n').findIndex((l) => l.startsWith(needle)) + 1;

  it('a pointer file that is not valid YAML', async (t) => {
    const ws = workspace(t);
    writePointer(ws, 'version: 1\npath: model.bin\ntype: [file\ndigest: x\n');
    await expectError(ws, ['status'], { code: 1, message: /^model\.bin\.ledge:\d+: invalid YAML/ });
    await expectError(ws, ['checkout'], { code: 1, message: /^model\.bin\.ledge:\d+: invalid YAML/ });
  });

  it('a pointer file with a malformed digest', async (t) => {
    const ws = workspace(t);
    const text = pointerText(ws).replace(/digest: sha256:[0-9a-f]+/, 'digest: sha256:NOT-A-DIGEST');
    writePointer(ws, text);
    const line = lineOf(text, 'digest:');
    await expectError(ws, ['status'], {
      code: 1,
      message: new RegExp(`^model\\.bin\\.ledge:${line}: digest: must be sha256:<64 lowercase hex digits>`),
    });
    await expectError(ws, ['push'], { code: 1, message: new RegExp(`^model\\.bin\\.ledge:${line}: digest`) });
  });

  it('a pointer file with an unknown key', async (t) => {
    const ws = workspace(t);
    const text = `${pointerText(ws)}colour: blue\n`;
    writePointer(ws, text);
    const line = lineOf(text, 'colour:');
    await expectError(ws, ['status'], {
      code: 1,
      message: new RegExp(`^model\\.bin\\.ledge:${line}: .*unknown key 'colour'`),
    });
    await expectError(ws, ['checkout', 'model.bin'], {
      code: 1,
      message: new RegExp(`^model\\.bin\\.ledge:${line}: .*unknown key 'colour'`),
    });
  });

  it('a malformed .ledge/config.yaml', async (t) => {
    const ws = workspace(t);
    const config = path.join(ws.root, '.ledge', 'config.yaml');
    fs.writeFileSync(config, 'core:\n  jobs: 2\n  link: [copy\nremotes: {}\n');
    await expectError(ws, ['status'], { code: 1, message: /^\.ledge\/config\.yaml:\d+: invalid YAML/ });
    fs.writeFileSync(config, 'core:\n  jobs: 2\n  jbos: 3\n');
    await expectError(ws, ['add', 'data'], {
      code: 1,
      message: /^\.ledge\/config\.yaml:3: core: unknown key 'jbos'/,
    });
    fs.writeFileSync(config, 'core:\n  jobs: many\n');
    await expectError(ws, ['status'], { code: 1, message: /^\.ledge\/config\.yaml:2: core\.jobs: / });
  });
});

describe('bad input: the command line', () => {
  /** Commander reports these itself; they must still be one line with exit code 2. */
  async function expectUsageError(ws: Workspace, args: string[], message: RegExp): Promise<string> {
    const before = snapshot(ws.root);
    const result = await runLedge(args, { cwd: ws.root });
    const detail = describeRun(args, result);
    assert.equal(result.code, 2, detail);
    assert.equal(result.stdout, '', detail);
    const lines = result.stderr.split('\n');
    assert.equal(lines.pop(), '', detail);
    assert.equal(lines.length, 1, `exactly one line on stderr\n${detail}`);
    assert.match(lines[0]!, /^ledge: error: /, detail);
    assert.match(lines[0]!, message, detail);
    assert.deepEqual(snapshot(ws.root), before);
    return lines[0]!;
  }

  it('an unknown command', async (t) => {
    await expectUsageError(workspace(t), ['frobnicate'], /unknown command 'frobnicate'/);
  });

  it('an unknown option', async (t) => {
    await expectUsageError(workspace(t), ['add', '--frobnicate', 'data'], /unknown option '--frobnicate'/);
  });

  it('a missing argument', async (t) => {
    await expectUsageError(workspace(t), ['add'], /missing required argument 'paths'/);
  });

  it('an invalid option value', async (t) => {
    await expectError(workspace(t), ['push', '--jobs', 'lots'], {
      code: 2,
      message: /--jobs must be a positive integer, not 'lots'/,
    });
  });

  it('usage errors carry the `ledge: error:` prefix like every other error, on one line', async (t) => {
    const line = await expectUsageError(workspace(t), ['frobnicate'], /unknown command/);
    assert.match(line, /^ledge: error: /);
    // A near miss suggests the command on the same line.
    const suggestion = await expectUsageError(workspace(t), ['ad', 'x'], /unknown command 'ad'/);
    assert.match(suggestion, /^ledge: error: unknown command 'ad' \(did you mean add\?\)$/);
  });

  it('a command outside any workspace', async (t) => {
    const ws = workspace(t);
    const outside = tempDir(t, 'ledge-no-workspace-');
    for (let dir = outside; ; dir = path.dirname(dir)) {
      if (fs.existsSync(path.join(dir, '.ledge', 'config.yaml'))) {
        t.skip(`${dir} is a ledge workspace, so no directory here is outside one`);
        return;
      }
      if (path.dirname(dir) === dir) break;
    }
    for (const args of [['status'], ['add', 'x'], ['push']]) {
      await expectError(ws, args, {
        code: 1,
        cwd: outside,
        message: /no ledge workspace .*run `ledge init`/,
      });
    }
  });
});

describe('bad input: remotes', () => {
  it('push with no remote configured', async (t) => {
    const ws = workspace(t);
    await expectError(ws, ['push'], { code: 1, message: /no default remote.*`ledge remote add / });
  });

  it('an unreachable S3 endpoint', async (t) => {
    const ws = workspace(t);
    const port = await closedPort();
    writeS3Remote(ws.root, 'unreachable', {
      url: 's3://ledge-test/prefix',
      endpoint: `http://127.0.0.1:${port}`,
      access_key_id: 'S3RVER',
      secret_access_key: 'S3RVER',
    });
    await expectError(ws, ['push'], {
      code: 1,
      env: AWS_ISOLATION,
      message: new RegExp(`remote 'unreachable' .*cannot reach http://127\\.0\\.0\\.1:${port}`),
    });
  });

  it('wrong S3 credentials', async (t) => {
    const ws = workspace(t);
    const server = await startS3Server(t);
    writeS3Remote(ws.root, 's3', {
      url: `s3://${server.bucket}/prefix`,
      endpoint: server.endpoint,
      access_key_id: 'WRONG-KEY-ID',
      secret_access_key: 'wrong-secret',
    });
    await expectError(ws, ['push'], { code: 1, env: AWS_ISOLATION, message: /remote 's3' .*access denied/ });
    await expectError(ws, ['status', '--remote'], {
      code: 1,
      env: AWS_ISOLATION,
      message: /remote 's3' .*access denied/,
    });
  });
});
