/** The prediction log: line format, hashing, rotation, bounded buffering, disk failures. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { SILENT_LOGGER } from '../../../src/runtime/monitoring/json-logger.js';
import type { PredictionEvent } from '../../../src/runtime/monitoring/monitor.js';
import { PredictionLog } from '../../../src/runtime/monitoring/prediction-log.js';
import { tempDir } from '../../helpers/temp-dir.js';

const event = (i: number, text = `review number ${i} was great`): PredictionEvent => ({
  id: `id-${i}`,
  model: 'imdb-sentiment',
  version: '3',
  text,
  tokens: 5,
  oovRate: 0.2,
  score: 0.875,
  label: 'pos',
});

const readLines = (file: string) =>
  fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('prediction log', () => {
  it('writes one JSON line per prediction, asynchronously', async (t) => {
    const dir = path.join(tempDir(t), 'logs');
    const log = new PredictionLog({ dir }, SILENT_LOGGER);
    const at = Date.parse('2025-01-02T03:04:05.678Z');
    log.append(event(1), at);
    log.append(event(2, 'a "quoted"\nline'), at);
    assert.equal(fs.existsSync(path.join(dir, 'predictions.jsonl')), false, 'written on a later tick');
    await log.close();
    const lines = readLines(path.join(dir, 'predictions.jsonl'));
    assert.deepEqual(lines[0], {
      time: '2025-01-02T03:04:05.678Z',
      id: 'id-1',
      model: 'imdb-sentiment',
      version: '3',
      score: 0.875,
      label: 'pos',
      tokens: 5,
      oovRate: 0.2,
      text: 'review number 1 was great',
    });
    assert.equal(lines[1]!.text, 'a "quoted"\nline');
    assert.deepEqual(log.stats(), {
      written: 2,
      dropped: 0,
      buffered: 0,
      file: path.join(dir, 'predictions.jsonl'),
    });
  });

  it('stores only the sha256 of the text when asked (privacy)', async (t) => {
    const dir = tempDir(t);
    const log = new PredictionLog({ dir, hashText: true }, SILENT_LOGGER);
    log.append(event(1, 'my secret review'), Date.now());
    await log.close();
    const [line] = readLines(path.join(dir, 'predictions.jsonl'));
    assert.equal(line!.text, undefined);
    assert.equal(line!.text_sha256, createHash('sha256').update('my secret review').digest('hex'));
    assert.ok(!fs.readFileSync(path.join(dir, 'predictions.jsonl'), 'utf8').includes('secret'));
  });

  it('rotates by size and keeps a bounded number of files', async (t) => {
    const dir = tempDir(t);
    const log = new PredictionLog({ dir, maxFileBytes: 2_000, keepFiles: 3 }, SILENT_LOGGER);
    for (let i = 0; i < 200; i++) {
      log.append(event(i), Date.now());
      if (i % 25 === 0) await log.flush(); // several batches, as under real traffic
    }
    await log.close();
    const files = fs.readdirSync(dir).sort();
    assert.deepEqual(files, ['predictions.1.jsonl', 'predictions.2.jsonl', 'predictions.jsonl']);
    for (const file of files) assert.ok(fs.statSync(path.join(dir, file)).size <= 2_000, file);
    // Newest in predictions.jsonl, then .1, then .2; no gaps between the kept lines.
    const ids = ['predictions.2.jsonl', 'predictions.1.jsonl', 'predictions.jsonl'].flatMap((file) =>
      readLines(path.join(dir, file)).map((l) => Number(String(l.id).slice(3))),
    );
    assert.equal(ids[ids.length - 1], 199);
    ids.forEach((id, i) => {
      if (i > 0) assert.equal(id, ids[i - 1]! + 1);
    });
    assert.equal(log.stats().written, 200);
  });

  it('continues an existing file and rotates it when full', async (t) => {
    const dir = tempDir(t);
    fs.writeFileSync(path.join(dir, 'predictions.jsonl'), `${'x'.repeat(1_990)}\n`);
    const log = new PredictionLog({ dir, maxFileBytes: 2_000, keepFiles: 2 }, SILENT_LOGGER);
    log.append(event(1), Date.now());
    await log.close();
    assert.equal(fs.readFileSync(path.join(dir, 'predictions.1.jsonl'), 'utf8').length, 1_991);
    assert.equal(readLines(path.join(dir, 'predictions.jsonl'))[0]!.id, 'id-1');
  });

  it('drops and counts lines when the buffer is full, without blocking or throwing', async (t) => {
    const dir = tempDir(t);
    const log = new PredictionLog({ dir, maxBufferedLines: 10 }, SILENT_LOGGER);
    const started = performance.now();
    for (let i = 0; i < 10_000; i++) log.append(event(i), Date.now());
    assert.ok(performance.now() - started < 500);
    await log.close();
    assert.deepEqual([log.stats().written, log.stats().dropped], [10, 9_990]);
  });

  it('logs a disk failure, counts the lost lines, and never throws', async (t) => {
    const dir = tempDir(t);
    fs.writeFileSync(path.join(dir, 'not-a-directory'), '');
    const errors: Record<string, unknown>[] = [];
    const logger = {
      ...SILENT_LOGGER,
      error: (msg: string, fields?: Record<string, unknown>) => errors.push({ msg, ...fields }),
    };
    const log = new PredictionLog({ dir: path.join(dir, 'not-a-directory', 'logs') }, logger);
    log.append(event(1), Date.now());
    log.append(event(2), Date.now());
    await log.close();
    assert.equal(log.stats().dropped, 2);
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]!.msg), /cannot write/);
  });
});
