import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { sha256 } from '../../src/core/digest.js';
import { isLedgeError } from '../../src/core/errors.js';
import type { Progress } from '../../src/core/progress.js';
import { addPaths } from '../../src/store/add.js';
import { checkout } from '../../src/store/checkout.js';
import { fsck } from '../../src/store/fsck.js';
import { gc } from '../../src/store/gc.js';
import { readPointer } from '../../src/store/pointer-file.js';
import { status } from '../../src/store/status.js';
import { Store } from '../../src/store/store.js';
import { resolveTracked } from '../../src/store/tracked-paths.js';
import { fetch, push, remoteKnowledge } from '../../src/store/transfer.js';
import { Workspace } from '../../src/store/workspace.js';
import { startS3Server } from '../helpers/s3-server.js';
import { tempDir, writeTree } from '../helpers/temp-dir.js';

function openStore(t: TestContext, dir: string): Store {
  const store = new Store(Workspace.init(dir).workspace);
  t.after(() => store.close());
  return store;
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@x',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@x',
    },
  });
}

/** Records how many files each phase hashed, to see what the stat cache spared. */
function recordingProgress(): Progress & { hashed: number } {
  const progress = {
    hashed: 0,
    start() {},
    advance(count: number) {
      progress.hashed += count;
    },
    stop() {},
  };
  return progress;
}

/** Flips the bytes of a cached object in place, wherever it lives (loose file or pack). */
function corruptObject(store: Store, digest: ReturnType<typeof sha256>): void {
  const packed = store.cache.packedObjects().find((p) => p.digest === digest);
  const file = packed ? path.join(store.cache.packDir, `${packed.pack}.pack`) : store.cache.pathOf(digest);
  fs.chmodSync(file, 0o644);
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, Buffer.from('X'), 0, 1, packed ? packed.offset : 0);
  fs.closeSync(fd);
}

const readTree = (root: string): Record<string, string> => {
  const out: Record<string, string> = {};
  const walk = (dir: string, prefix: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(path.join(dir, entry.name), rel);
      else out[rel] = fs.readFileSync(path.join(dir, entry.name), 'utf8');
    }
  };
  walk(root, '');
  return out;
};

describe('ledge add', () => {
  it('stores files and directories by sha256 and writes pointer files and .gitignore entries', async (t) => {
    const dir = tempDir(t);
    writeTree(dir, {
      'data/a.txt': 'alpha',
      'data/sub/b.txt': 'beta',
      'data/sub/same.txt': 'alpha',
      'model.bin': 'weights',
    });
    fs.chmodSync(path.join(dir, 'data/sub/b.txt'), 0o755);
    const store = openStore(t, dir);
    const results = await addPaths(store, ['data', 'model.bin'], { cwd: dir });
    assert.equal(results.length, 2);

    const dataPointer = readPointer(path.join(dir, 'data.ledge'), 'data.ledge')!;
    assert.equal(dataPointer.type, 'dir');
    assert.equal(dataPointer.files, 3);
    assert.equal(dataPointer.size, 'alpha'.length * 2 + 'beta'.length);
    const entries = store.readManifest(dataPointer.digest);
    assert.deepEqual(
      entries.map((e) => [e.path, e.digest, e.executable]),
      [
        ['a.txt', sha256('alpha'), false],
        ['sub/b.txt', sha256('beta'), true],
        ['sub/same.txt', sha256('alpha'), false],
      ],
    );
    const filePointer = readPointer(path.join(dir, 'model.bin.ledge'), 'model.bin.ledge')!;
    assert.equal(filePointer.digest, sha256('weights'));
    assert.match(
      fs.readFileSync(path.join(dir, 'model.bin.ledge'), 'utf8'),
      /^digest: sha256:[0-9a-f]{64}$/m,
    );

    // Identical content is stored once; objects are read-only.
    const objects = store.cache.listAll();
    assert.deepEqual(
      [...objects].sort(),
      [sha256('alpha'), sha256('beta'), sha256('weights'), dataPointer.digest].sort(),
    );
    for (const pack of fs.readdirSync(store.cache.packDir)) {
      assert.equal(fs.statSync(path.join(store.cache.packDir, pack)).mode & 0o777, 0o444);
    }
    assert.equal(fs.statSync(store.cache.pathOf(dataPointer.digest)).mode & 0o777, 0o444);
    assert.deepEqual(fs.readFileSync(path.join(dir, '.gitignore'), 'utf8').split('\n').filter(Boolean), [
      '/data',
      '/model.bin',
    ]);
  });

  it('rehashes only files whose size, mtime or inode changed', async (t) => {
    const dir = tempDir(t);
    const files: Record<string, string> = {};
    for (let i = 0; i < 300; i++) files[`d/f${i}.txt`] = `content ${i}`;
    writeTree(dir, files);
    const store = openStore(t, dir);
    const first = recordingProgress();
    await addPaths(store, ['d'], { cwd: dir, progress: first });
    assert.equal(first.hashed, 300);

    const again = recordingProgress();
    const [unchanged] = await addPaths(store, ['d'], { cwd: dir, progress: again });
    assert.equal(again.hashed, 0);
    assert.equal(unchanged!.changed, false);

    fs.writeFileSync(path.join(dir, 'd/f7.txt'), 'edited');
    const edit = recordingProgress();
    const [changed] = await addPaths(store, ['d'], { cwd: dir, progress: edit });
    assert.equal(edit.hashed, 1);
    assert.equal(changed!.changed, true);
  });

  it('streams files larger than the in-memory limit', async (t) => {
    const dir = tempDir(t);
    const big = Buffer.alloc(20 << 20);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i, i);
    writeTree(dir, { 'big.bin': big });
    const store = openStore(t, dir);
    const [result] = await addPaths(store, ['big.bin'], { cwd: dir });
    assert.equal(result!.digest, sha256(big));
    assert.ok(fs.readFileSync(store.cache.pathOf(result!.digest)).equals(big)); // large: a loose file
  });
});

describe('ledge status and checkout', () => {
  it('reports added, modified and deleted files and restores the recorded version', async (t) => {
    const dir = tempDir(t);
    writeTree(dir, { 'data/keep.txt': 'keep', 'data/edit.txt': 'v1', 'data/gone.txt': 'gone' });
    const store = openStore(t, dir);
    await addPaths(store, ['data'], { cwd: dir });
    const tracked = () => resolveTracked(store.ws, [], dir);

    const [clean] = await status(store, tracked());
    assert.equal(clean!.workspace, 'up-to-date');
    assert.equal(clean!.missingFromCache, 0);

    fs.writeFileSync(path.join(dir, 'data/edit.txt'), 'v2');
    fs.rmSync(path.join(dir, 'data/gone.txt'));
    writeTree(dir, { 'data/new/extra.txt': 'extra' });
    const [dirty] = await status(store, tracked());
    assert.equal(dirty!.workspace, 'modified');
    assert.deepEqual(dirty!.changes, {
      added: ['new/extra.txt'],
      modified: ['edit.txt'],
      deleted: ['gone.txt'],
    });

    // The edits are not in the cache: checkout refuses to destroy them...
    await assert.rejects(checkout(store, tracked()), (error) => isLedgeError(error, 'uncommitted-changes'));
    assert.equal(fs.readFileSync(path.join(dir, 'data/edit.txt'), 'utf8'), 'v2');
    // ...unless forced, and then the workspace is exactly the recorded version.
    const [result] = await checkout(store, tracked(), { force: true });
    assert.deepEqual(result, { path: 'data', written: 2, deleted: 1, unchanged: 1 });
    assert.deepEqual(readTree(path.join(dir, 'data')), {
      'keep.txt': 'keep',
      'edit.txt': 'v1',
      'gone.txt': 'gone',
    });
    assert.equal(fs.existsSync(path.join(dir, 'data/new')), false);
  });

  it('restores an older version after git checkout, and gc keeps history only with allCommits', async (t) => {
    const dir = tempDir(t);
    git(dir, 'init', '-q');
    writeTree(dir, { 'data/a.txt': 'a1', 'data/b.txt': 'b1' });
    const store = openStore(t, dir);
    await addPaths(store, ['data'], { cwd: dir });
    git(dir, 'add', '-A');
    git(dir, 'commit', '-qm', 'v1');

    fs.writeFileSync(path.join(dir, 'data/a.txt'), 'a2');
    writeTree(dir, { 'data/c.txt': 'c2' });
    await addPaths(store, ['data'], { cwd: dir });
    git(dir, 'commit', '-qam', 'v2');

    git(dir, 'checkout', '-q', 'HEAD~1', '--', 'data.ledge');
    const results = await checkout(store, resolveTracked(store.ws, ['data'], dir));
    assert.equal(results[0]!.deleted, 1);
    assert.deepEqual(readTree(path.join(dir, 'data')), { 'a.txt': 'a1', 'b.txt': 'b1' });

    // v2-only objects (a2, c2, the v2 manifest) are referenced only by history.
    const dry = await gc(store, { dryRun: true, allCommits: true });
    assert.equal(dry.removed, 0);
    const collected = await gc(store);
    assert.equal(collected.removed, 3);
    assert.equal(store.cache.has(sha256('a2')), false);
    assert.equal(store.cache.has(sha256('a1')), true);
  });

  it('reports data missing from the workspace and from the cache', async (t) => {
    const dir = tempDir(t);
    writeTree(dir, { 'one.txt': 'one' });
    const store = openStore(t, dir);
    await addPaths(store, ['one.txt'], { cwd: dir });
    fs.rmSync(path.join(dir, 'one.txt'));
    let [entry] = await status(store, resolveTracked(store.ws, [], dir));
    assert.equal(entry!.workspace, 'missing');
    store.cache.remove([sha256('one')]);
    [entry] = await status(store, resolveTracked(store.ws, [], dir));
    assert.equal(entry!.missingFromCache, 1);
    await assert.rejects(checkout(store, resolveTracked(store.ws, [], dir)), (error) =>
      isLedgeError(error, 'missing-object'),
    );
  });
});

describe('remotes: push, fetch, fsck --repair', () => {
  const backends = [
    { name: 'local directory', remote: async (t: TestContext) => ({ url: path.join(tempDir(t), 'remote') }) },
    {
      name: 's3 (s3rver)',
      remote: async (t: TestContext) => {
        const s3 = await startS3Server(t);
        return {
          url: `s3://${s3.bucket}/team/data`,
          endpoint: s3.endpoint,
          access_key_id: s3.accessKeyId,
          secret_access_key: s3.secretAccessKey,
        };
      },
    },
  ];
  for (const backend of backends) {
    it(`round-trips a directory into a fresh workspace through ${backend.name}`, async (t) => {
      const settings = await backend.remote(t);
      const a = tempDir(t);
      const files: Record<string, string> = {};
      for (let i = 0; i < 150; i++) files[`set/part${i % 7}/r${i}.txt`] = `review ${i} ${'x'.repeat(i)}`;
      writeTree(a, files);
      const storeA = openStore(t, a);
      storeA.ws.updateConfig('shared', (config) => {
        config.remotes = { origin: settings };
        config.core = { remote: 'origin' };
      });
      await addPaths(storeA, ['set'], { cwd: a });
      const pushed = await push(storeA, resolveTracked(storeA.ws, [], a));
      assert.equal(pushed.transferred, 151); // 150 files + the manifest
      const remote = {
        isComplete: (d: ReturnType<typeof sha256>) => storeA.state.isRemoteComplete('origin', d),
        objects: () => storeA.state.remoteObjects('origin'),
      };
      const [afterPush] = await status(storeA, resolveTracked(storeA.ws, [], a), { remote });
      assert.equal(afterPush!.notPushed, 0);
      const again = await push(storeA, resolveTracked(storeA.ws, [], a));
      assert.equal(again.transferred, 0);
      assert.equal(again.upToDate, 1);
      const verified = await push(storeA, resolveTracked(storeA.ws, [], a), { verifyRemote: true });
      assert.equal(verified.transferred, 0);
      assert.equal(verified.skipped, 151);
      // Before the first push, status counts every object as unpushed.
      writeTree(a, { 'set/new.txt': 'new review' });
      await addPaths(storeA, ['set'], { cwd: a });
      const [dirty] = await status(storeA, resolveTracked(storeA.ws, [], a), { remote });
      assert.equal(dirty!.notPushed, 2); // the new file and the new manifest
      await push(storeA, resolveTracked(storeA.ws, [], a));

      const b = tempDir(t);
      fs.mkdirSync(path.join(b, '.ledge'));
      fs.copyFileSync(path.join(a, '.ledge/config.yaml'), path.join(b, '.ledge/config.yaml'));
      fs.copyFileSync(path.join(a, 'set.ledge'), path.join(b, 'set.ledge'));
      const storeB = openStore(t, b);
      const fetched = await fetch(storeB, resolveTracked(storeB.ws, [], b));
      assert.equal(fetched.transferred, 152); // 151 files and the new manifest
      await checkout(storeB, resolveTracked(storeB.ws, [], b));
      assert.deepEqual(readTree(path.join(b, 'set')), readTree(path.join(a, 'set')));

      // A corrupt cache object is found by fsck and replaced from the remote.
      corruptObject(storeB, sha256('review 3 xxx'));
      const found = await fsck(storeB);
      assert.deepEqual(found.corrupt, [sha256('review 3 xxx')]);
      const repaired = await fsck(storeB, { repair: true });
      assert.deepEqual(repaired.repaired, [sha256('review 3 xxx')]);
      assert.deepEqual((await fsck(storeB)).corrupt, []);
    });
  }

  it('status --remote asks the remote, and never counts a version whose manifest it lacks as pushed', async (t) => {
    const a = tempDir(t);
    const remoteDir = path.join(tempDir(t), 'remote');
    writeTree(a, { 'set/x.txt': 'x', 'set/y.txt': 'y' });
    const storeA = openStore(t, a);
    storeA.ws.updateConfig('shared', (config) => {
      config.remotes = { origin: { url: remoteDir } };
      config.core = { remote: 'origin' };
    });
    await addPaths(storeA, ['set'], { cwd: a });
    const tracked = resolveTracked(storeA.ws, [], a);
    let [entry] = await status(storeA, tracked, {
      remote: await remoteKnowledge(storeA, tracked, 'origin', true),
    });
    assert.equal(entry!.notPushed, 3);

    // Another workspace pushed it; this one learns so only by asking.
    await push(storeA, tracked);
    const b = tempDir(t);
    fs.mkdirSync(path.join(b, '.ledge'));
    fs.copyFileSync(path.join(a, '.ledge/config.yaml'), path.join(b, '.ledge/config.yaml'));
    fs.copyFileSync(path.join(a, 'set.ledge'), path.join(b, 'set.ledge'));
    const storeB = openStore(t, b);
    const trackedB = resolveTracked(storeB.ws, [], b);
    await remoteKnowledge(storeB, trackedB, 'origin', true);
    // B lacks the manifest, so it cannot know the files are there: not recorded as complete.
    assert.equal(storeB.state.isRemoteComplete('origin', trackedB[0]!.pointer.digest), false);
    [entry] = await status(storeA, tracked, {
      remote: await remoteKnowledge(storeA, tracked, 'origin', true),
    });
    assert.equal(entry!.notPushed, 0);
  });

  it('refuses a corrupt object from the remote and leaves the cache without it', async (t) => {
    const a = tempDir(t);
    const remoteDir = path.join(tempDir(t), 'remote');
    writeTree(a, { 'f.txt': 'precious' });
    const storeA = openStore(t, a);
    storeA.ws.updateConfig('shared', (config) => {
      config.remotes = { origin: { url: remoteDir } };
      config.core = { remote: 'origin' };
    });
    await addPaths(storeA, ['f.txt'], { cwd: a });
    await push(storeA, resolveTracked(storeA.ws, [], a));
    const hex = sha256('precious').slice(7);
    const onRemote = path.join(remoteDir, 'sha256', hex.slice(0, 2), hex.slice(2));
    fs.chmodSync(onRemote, 0o644);
    fs.writeFileSync(onRemote, 'tampered');
    storeA.cache.remove([sha256('precious')]);
    await assert.rejects(fetch(storeA, resolveTracked(storeA.ws, [], a)), (error) =>
      isLedgeError(error, 'corrupt-object'),
    );
    assert.equal(storeA.cache.has(sha256('precious')), false);
  });
});
