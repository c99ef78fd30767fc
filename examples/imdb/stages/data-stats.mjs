#!/usr/bin/env node
// Stage `data-stats` of the IMDB example: counts the reviews per label in an aclImdb tree and
// measures their length; writes metrics (JSON) and a length histogram.
//   node data-stats.mjs <aclImdb dir> <metrics.json> <histogram.json> <bucket words>
import fs from 'node:fs';
import path from 'node:path';

const [root, metricsFile, histogramFile, bucketArg] = process.argv.slice(2);
const bucket = Number(bucketArg ?? 100);
const counts = { pos: 0, neg: 0 };
const histogram = {};
let words = 0;
for (const label of ['pos', 'neg']) {
  const dir = path.join(root, 'train', label);
  for (const name of fs.readdirSync(dir)) {
    const n = fs.readFileSync(path.join(dir, name), 'utf8').split(/\s+/).filter(Boolean).length;
    counts[label]++;
    words += n;
    const key = Math.floor(n / bucket) * bucket;
    histogram[key] = (histogram[key] ?? 0) + 1;
  }
}
const reviews = counts.pos + counts.neg;
const metrics = {
  reviews,
  pos: counts.pos,
  neg: counts.neg,
  mean_words: Number((words / reviews).toFixed(2)),
};
fs.mkdirSync(path.dirname(metricsFile), { recursive: true });
fs.mkdirSync(path.dirname(histogramFile), { recursive: true });
fs.writeFileSync(metricsFile, `${JSON.stringify(metrics, null, 2)}\n`);
fs.writeFileSync(histogramFile, `${JSON.stringify(histogram, null, 2)}\n`);
console.log(
  `${reviews} reviews (${counts.pos} pos, ${counts.neg} neg), ${metrics.mean_words} words on average`,
);
