/**
 * Reading the official aclImdb layout from a .tar.gz (streamed) and from a directory: the bundled
 * 2,000-review sample, small made-up archives for the edge cases, and every error a user can meet.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar';
import { isLedgeError } from '../../../src/core/errors.js';
import {
  type ImdbSplit,
  loadImdb,
  parseReviewName,
  type Review,
  readImdb,
} from '../../../src/ml/data/imdb.js';
import { tempDir, writeTree } from '../../helpers/temp-dir.js';
import { makeArchive, SAMPLE_ARCHIVE } from './fixtures.js';

/** Asserts that `promise` rejects with a one-line LedgeError of `code` matching `pattern`. */
async function rejectsWith(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isLedgeError(error), `not a LedgeError: ${String(error)}`);
    assert.equal(error.code, code, error.line);
    assert.match(error.line, pattern);
    assert.ok(!error.line.includes('\n'), `not one line: ${error.line}`);
    return true;
  });
}

const env = {}; // no LEDGE_IMDB from the environment running the tests

describe('IMDB reader: the bundled sample archive', () => {
  it('streams 1,000 neg and 1,000 pos training reviews with ids 0–999, sorted by loadImdb', async () => {
    const reviews = await loadImdb(SAMPLE_ARCHIVE, { env });
    assert.equal(reviews.length, 2000);
    for (const [i, label] of (['neg', 'pos'] as const).entries()) {
      const part = reviews.slice(i * 1000, (i + 1) * 1000);
      assert.ok(part.every((r) => r.label === label && r.split === 'train'));
      assert.deepEqual(
        part.map((r) => r.id),
        Array.from({ length: 1000 }, (_, id) => id),
      );
      const ratings = new Set(part.map((r) => r.rating));
      for (const rating of ratings)
        assert.ok(label === 'neg' ? rating <= 4 : rating >= 7, `${label} ${rating}`);
    }
    assert.ok(reviews.every((r) => r.text.length > 0 && !r.text.includes('\uFFFD')));
    const first = reviews[0]!;
    assert.equal(first.id, 0);
    assert.equal(first.rating, 3);
    assert.match(first.text, /\S/);
  });

  it('gives the same reviews from the extracted directory, given as its parent or as aclImdb/ itself', async (t) => {
    const dir = tempDir(t);
    await tar.x({ file: SAMPLE_ARCHIVE, cwd: dir });
    const fromArchive = await loadImdb(SAMPLE_ARCHIVE, { env });
    assert.deepEqual(await loadImdb(dir, { env }), fromArchive);
    assert.deepEqual(await loadImdb(path.join(dir, 'aclImdb'), { env }), fromArchive);
    // The directory streams in (split, label, id) order already.
    const streamed: Review[] = [];
    for await (const review of readImdb(dir, { env })) streamed.push(review);
    assert.deepEqual(streamed, fromArchive);
  });

  it('stops reading when the consumer stops, and reports byte progress over the file', async () => {
    let total: number | undefined;
    let bytes = 0;
    let stopped = 0;
    const progress = {
      start: (_label: string, size: number | undefined) => {
        total = size;
      },
      advance: (_count: number, n = 0) => {
        bytes += n;
      },
      stop: () => {
        stopped++;
      },
    };
    const taken: Review[] = [];
    for await (const review of readImdb(SAMPLE_ARCHIVE, { env, progress })) {
      taken.push(review);
      if (taken.length === 10) break;
    }
    assert.equal(taken.length, 10);
    assert.equal(total, fs.statSync(SAMPLE_ARCHIVE).size);
    assert.ok(bytes > 0 && bytes < total!, `read ${bytes} of ${total} bytes before stopping`);
    assert.equal(stopped, 1);
  });

  it('says which split the source has when asked for another', async () => {
    await rejectsWith(
      loadImdb(SAMPLE_ARCHIVE, { env, splits: ['test'] }),
      'invalid-dataset',
      /holds no aclImdb\/test\/\{pos,neg\}.*the train split only/,
    );
  });
});

describe('IMDB reader: the layout', () => {
  const layout = {
    'aclImdb/README': 'Large Movie Review Dataset v1.0',
    'aclImdb/imdb.vocab': 'the\nand\n',
    'aclImdb/imdbEr.txt': '0.1\n',
    'aclImdb/train/labeledBow.feat': '9 0:9 1:1\n',
    'aclImdb/train/urls_pos.txt': 'http://www.imdb.com/title/tt0453418/usercomments\n',
    'aclImdb/train/unsup/0_0.txt': 'unlabelled',
    'aclImdb/train/pos/12_10.txt': 'Un film très réussi 🎬<br /><br />Bravo!',
    'aclImdb/train/pos/3_7.txt': '\uFEFFStarts with a byte order mark.',
    'aclImdb/train/pos/._3_7.txt': 'AppleDouble metadata, ignored',
    'aclImdb/train/neg/5_1.txt': 'Dreadful.',
    'aclImdb/test/pos/0_9.txt': 'Test positive.',
    'aclImdb/test/neg/0_2.txt': 'Test negative.',
  };
  const expected: Review[] = [
    { split: 'train', label: 'neg', id: 5, rating: 1, text: 'Dreadful.' },
    { split: 'train', label: 'pos', id: 3, rating: 7, text: 'Starts with a byte order mark.' },
    { split: 'train', label: 'pos', id: 12, rating: 10, text: 'Un film très réussi 🎬<br /><br />Bravo!' },
    { split: 'test', label: 'neg', id: 0, rating: 2, text: 'Test negative.' },
    { split: 'test', label: 'pos', id: 0, rating: 9, text: 'Test positive.' },
  ];

  it('reads both splits, decodes UTF-8 and skips everything but pos/neg reviews', async (t) => {
    const dir = tempDir(t);
    const archive = await makeArchive(path.join(dir, 'aclImdb_v1.tar.gz'), layout);
    assert.deepEqual(await loadImdb(archive, { env }), expected);
    writeTree(path.join(dir, 'tree'), layout);
    assert.deepEqual(await loadImdb(path.join(dir, 'tree'), { env }), expected);
  });

  it('reads only the splits asked for, and a plain (uncompressed) tar', async (t) => {
    const dir = tempDir(t);
    const archive = await makeArchive(path.join(dir, 'imdb.tar'), layout, { gzip: false });
    const test = await loadImdb(archive, { env, splits: ['test'] });
    assert.deepEqual(test, expected.slice(3));
    const train = await loadImdb(path.join(dir, 'imdb.tar'), { env, splits: ['train'] });
    assert.deepEqual(train, expected.slice(0, 3));
  });

  it('parses review file names', () => {
    assert.deepEqual(parseReviewName('0_3.txt'), { id: 0, rating: 3 });
    assert.deepEqual(parseReviewName('12499_10.txt'), { id: 12499, rating: 10 });
    for (const bad of ['0_0.txt', '1_11.txt', 'a_3.txt', '0_3.text', '0-3.txt', '_3.txt', '0_3.txt.bak']) {
      assert.equal(parseReviewName(bad), undefined, bad);
    }
  });
});

describe('IMDB reader: errors are one line that says what to do', () => {
  it('a path that does not exist', async (t) => {
    const missing = path.join(tempDir(t), 'nope.tar.gz');
    await rejectsWith(
      loadImdb(missing, { env }),
      'path-not-found',
      /IMDB source '.*nope\.tar\.gz' does not exist; give/,
    );
    await rejectsWith(
      loadImdb(undefined, { env: { LEDGE_IMDB: missing } }),
      'path-not-found',
      /'.*nope\.tar\.gz' \(from LEDGE_IMDB\) does not exist/,
    );
  });

  it('files that are not a gzip or tar archive', async (t) => {
    const dir = tempDir(t);
    const cases: Record<string, Buffer> = {
      'empty.tar.gz': Buffer.alloc(0),
      'short.txt': Buffer.from('hello'),
      'text.tar.gz': Buffer.from('not an archive\n'.repeat(200)),
      'gzipped-text.tar.gz': gzipSync(Buffer.from('plain text, gzipped\n'.repeat(200))),
    };
    for (const [name, data] of Object.entries(cases)) {
      fs.writeFileSync(path.join(dir, name), data);
      await rejectsWith(
        loadImdb(path.join(dir, name), { env }),
        'invalid-dataset',
        new RegExp(`'.*${name.replace(/\./g, '\\.')}' is not a \\.tar\\.gz or \\.tar archive; give`),
      );
    }
  });

  it('a truncated archive', async (t) => {
    const file = path.join(tempDir(t), 'cut.tar.gz');
    const data = fs.readFileSync(SAMPLE_ARCHIVE);
    fs.writeFileSync(file, data.subarray(0, Math.floor(data.length / 2)));
    await rejectsWith(
      loadImdb(file, { env }),
      'corrupt-object',
      /IMDB archive '.*cut\.tar\.gz' is damaged: .*; download/,
    );
  });

  it('an archive or directory without reviews', async (t) => {
    const dir = tempDir(t);
    const files = { 'aclImdb/README': 'x', 'aclImdb/train/unsup/0_0.txt': 'x', 'other/pos/1_9.txt': 'x' };
    const archive = await makeArchive(path.join(dir, 'empty.tar.gz'), files);
    await rejectsWith(
      loadImdb(archive, { env }),
      'invalid-dataset',
      /holds no aclImdb\/\{train,test\}\/\{pos,neg\}/,
    );
    writeTree(path.join(dir, 'tree'), files);
    await rejectsWith(
      loadImdb(path.join(dir, 'tree'), { env }),
      'invalid-dataset',
      /'.*tree' holds no aclImdb/,
    );
  });

  it('a bad review file name', async (t) => {
    const dir = tempDir(t);
    const files = { 'aclImdb/train/pos/0_9.txt': 'ok', 'aclImdb/train/pos/notes.txt': 'stray' };
    const archive = await makeArchive(path.join(dir, 'bad.tar.gz'), files);
    const pattern =
      /has a bad review file name 'aclImdb\/train\/pos\/notes\.txt'; reviews are named <id>_<rating>\.txt/;
    await rejectsWith(loadImdb(archive, { env }), 'invalid-dataset', pattern);
    writeTree(path.join(dir, 'tree'), files);
    await rejectsWith(loadImdb(path.join(dir, 'tree'), { env }), 'invalid-dataset', pattern);
  });

  it('two reviews with one id', async (t) => {
    const dir = tempDir(t);
    const files = { 'aclImdb/train/pos/0_9.txt': 'a', 'aclImdb/train/pos/0_8.txt': 'b' };
    const archive = await makeArchive(path.join(dir, 'dup.tar.gz'), files);
    await rejectsWith(loadImdb(archive, { env }), 'invalid-dataset', /has two train\/pos\/0 reviews/);
  });

  it('an unknown split', async () => {
    // Checked at run time too, for callers in JavaScript.
    const splits = ['validation'] as unknown as ImdbSplit[];
    await rejectsWith(loadImdb(SAMPLE_ARCHIVE, { env, splits }), 'usage', /unknown IMDB split/);
  });
});
