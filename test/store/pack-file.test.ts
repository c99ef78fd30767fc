import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { sha256 } from '../../src/core/digest.js';
import { ObjectCache } from '../../src/store/object-cache.js';
import { DigestSet, decodeIndex, encodeIndex, PackIndex, PackWriter } from '../../src/store/pack-file.js';
import { tempDir } from '../helpers/temp-dir.js';

describe('pack files', () => {
  it('round-trips an index and refuses a damaged one', () => {
    const entries = [
      { digest: sha256('a'), offset: 0, size: 1 },
      { digest: sha256('bb'), offset: 1, size: 2 },
    ];
    const data = encodeIndex(entries);
    assert.deepEqual(decodeIndex(data, 'x.idx'), entries);
    assert.throws(() => decodeIndex(data.subarray(0, data.length - 1), 'x.idx'), /truncated/);
    assert.throws(() => decodeIndex(Buffer.from('not an index at all'), 'x.idx'), /not a ledge pack index/);
    const index = new PackIndex();
    index.addIndexFile('p1', data, 'p1.idx');
    assert.deepEqual(index.get(sha256('bb')), { pack: 'p1', offset: 1, size: 2 });
    assert.equal(index.has(sha256('c')), false);
  });

  it('answers membership from shared memory', () => {
    const digests = Array.from({ length: 500 }, (_, i) => sha256(`object ${i}`));
    const set = DigestSet.from(digests.slice(0, 250));
    const again = new DigestSet(set.buffer); // as a worker thread sees it
    for (const [i, digest] of digests.entries()) assert.equal(again.hasHex(digest.slice(7)), i < 250);
  });

  it('commits packs, reads objects back, and rewrites packs when objects are removed', (t) => {
    const cache = new ObjectCache(tempDir(t));
    t.after(() => cache.close());
    const writer = new PackWriter(cache.packDir);
    const contents = Array.from({ length: 100 }, (_, i) => `content number ${i}`);
    for (const text of contents) writer.append(Buffer.from(text), sha256(text));
    const staged = writer.finish()!;
    // Until committed, a pack is invisible.
    assert.equal(cache.has(sha256(contents[0]!)), false);
    cache.commitBatch([], [staged]);
    for (const text of contents) assert.equal(cache.readBuffer(sha256(text)).toString(), text);
    assert.deepEqual(cache.verifyPacked().corrupt, []);

    cache.remove(contents.slice(0, 50).map((text) => sha256(text)));
    const fresh = new ObjectCache(cache.dir);
    t.after(() => fresh.close());
    for (const [i, text] of contents.entries()) {
      assert.equal(fresh.has(sha256(text)), i >= 50);
      if (i >= 50) assert.equal(fresh.readBuffer(sha256(text)).toString(), text);
    }
    const packs = fs.readdirSync(cache.packDir).filter((name) => name.endsWith('.pack'));
    assert.equal(packs.length, 1);
    assert.equal(fs.statSync(path.join(cache.packDir, packs[0]!)).size, contents.slice(50).join('').length);
  });

  it('treats a pack without an index as leftover, not as objects', (t) => {
    const cache = new ObjectCache(tempDir(t));
    const writer = new PackWriter(cache.packDir);
    writer.append(Buffer.from('orphan'), sha256('orphan'));
    const staged = writer.finish()!;
    fs.renameSync(staged.temp, path.join(cache.packDir, 'abc-1-00000000.pack')); // killed before the index
    assert.equal(cache.has(sha256('orphan')), false);
    assert.deepEqual(cache.scan().temps, [path.join(cache.packDir, 'abc-1-00000000.pack')]);
  });
});
