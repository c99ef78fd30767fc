#!/usr/bin/env node
// `npm start`: the ledge walkthrough on the bundled IMDB sample, with embedded defaults only
// (local cache, local-directory remote, no network). It grows as ledge grows: today it shows
// data versioning, the IMDB pipeline (train, ONNX export, evaluation, int8, registry, deployment
// to the local target), a retrain that redeploys blue/green, prediction, then the served model next
// to the dashboard.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tar from 'tar';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ledgeBin = path.join(repo, 'bin', 'ledge.js');
const demo = path.join(repo, '.demo');
const sample = path.join(repo, 'examples', 'imdb', 'data', 'aclImdb_sample.tar.gz');

if (!fs.existsSync(path.join(repo, 'dist', 'src', 'cli', 'main.js'))) {
  console.error('ledge is not built: run `npm install` (or `npm run build`) first');
  process.exit(1);
}

const env = {
  ...process.env,
  GIT_AUTHOR_NAME: process.env.GIT_AUTHOR_NAME ?? 'ledge demo',
  GIT_AUTHOR_EMAIL: process.env.GIT_AUTHOR_EMAIL ?? 'demo@ledge.invalid',
  GIT_COMMITTER_NAME: process.env.GIT_COMMITTER_NAME ?? 'ledge demo',
  GIT_COMMITTER_EMAIL: process.env.GIT_COMMITTER_EMAIL ?? 'demo@ledge.invalid',
};

function step(title) {
  console.log(`\n== ${title}`);
}

function run(cwd, command, args, { quiet = false } = {}) {
  const shown =
    command === process.execPath ? `ledge ${args.slice(1).join(' ')}` : `${command} ${args.join(' ')}`;
  console.log(`$ ${shown}`);
  let out;
  try {
    out = execFileSync(command, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  } catch (error) {
    console.error(`npm start: \`${shown}\` failed (exit ${error.status ?? error.signal}) in ${cwd}`);
    process.exit(1);
  }
  if (!quiet && out.trim()) console.log(out.trimEnd());
  return out;
}

const ledge = (cwd, ...args) => run(cwd, process.execPath, [ledgeBin, ...args]);
const git = (cwd, ...args) => run(cwd, 'git', args, { quiet: true });

fs.rmSync(demo, { recursive: true, force: true });
const project = path.join(demo, 'imdb-project');
const remote = path.join(demo, 'remote-store');
const clone = path.join(demo, 'imdb-clone');
fs.mkdirSync(path.join(project, 'data'), { recursive: true });

step('1. A git repository with a ledge workspace');
git(project, 'init', '-q');
ledge(project, 'init');

step('2. Version the IMDB sample (2,000 reviews) with ledge add');
await tar.x({ file: sample, cwd: path.join(project, 'data') });
ledge(project, 'add', 'data/aclImdb');
git(project, 'add', '-A');
git(project, 'commit', '-qm', 'Track the IMDB sample with ledge');
console.log(fs.readFileSync(path.join(project, 'data', 'aclImdb.ledge'), 'utf8').trimEnd());

step('3. Push the objects to a remote (a local directory; s3:// works the same way)');
ledge(project, 'remote', 'add', 'storage', remote, '--default');
ledge(project, 'push');
git(project, 'commit', '-qam', 'Add a ledge remote');

step('4. Change the data; status says what changed');
fs.writeFileSync(path.join(project, 'data/aclImdb/train/pos/99999_10.txt'), 'A new review: wonderful.');
fs.rmSync(path.join(project, 'data/aclImdb/train/neg/0_3.txt'));
ledge(project, 'status');
ledge(project, 'add', 'data/aclImdb');
ledge(project, 'push');
git(project, 'commit', '-qam', 'Add a review, drop another');

step('5. A teammate clones and pulls: only the pointer files travel through git');
git(demo, 'clone', '-q', project, clone);
ledge(clone, 'pull');
ledge(clone, 'status');

step('6. Go back in time: check out the first version of the data');
git(clone, 'checkout', '-q', 'HEAD~2', '--', 'data/aclImdb.ledge');
ledge(clone, 'pull');
ledge(clone, 'status');
ledge(clone, 'fsck');

step(
  '7. The IMDB example pipeline: prepare -> train -> evaluate, quantize -> register -> package, deploy (examples/imdb/ledge.yaml)',
);
for (const file of ['ledge.yaml', 'params.yaml']) {
  fs.copyFileSync(path.join(repo, 'examples', 'imdb', file), path.join(project, file));
}
// The deploy stage's target: the local one, on port 8080 unless something else listens there.
const port = await freePort(8080);
fs.writeFileSync(
  path.join(project, '.ledge', 'deploy.yaml'),
  fs
    .readFileSync(path.join(repo, 'examples', 'imdb', 'deploy.yaml'), 'utf8')
    .replace('port: 8080', `port: ${port}`),
);
let deployed = false;
process.on('exit', () => {
  // Whatever happened: the deployment's supervisor and servers do not outlive npm start.
  if (deployed) {
    try {
      execFileSync(process.execPath, [ledgeBin, 'deploy', 'stop'], { cwd: project, env, stdio: 'ignore' });
    } catch {
      // already stopped
    }
  }
});
// The reviews the pipeline reads: the bundled sample, or the full dataset when LEDGE_IMDB names
// an archive (a path, or a URL fetched once into the cache and verified).
const imdb = process.env.LEDGE_IMDB;
if (imdb && /^[a-z]+:\/\//.test(imdb)) {
  ledge(project, 'imdb', 'download', '--source', imdb, '--out', 'data/aclImdb.tar.gz');
} else {
  fs.copyFileSync(imdb ?? sample, path.join(project, 'data', 'aclImdb.tar.gz'));
}
ledge(project, 'add', 'data/aclImdb.tar.gz');
deployed = true;
ledge(project, 'run');
ledge(project, 'run');
git(project, 'add', '-A');
git(project, 'commit', '-qm', 'The IMDB pipeline');
step('8. Change a parameter: only the stages that read it run again, and the better model is redeployed');
fs.writeFileSync(
  path.join(project, 'params.yaml'),
  fs.readFileSync(path.join(project, 'params.yaml'), 'utf8').replace('epochs: 2', 'epochs: 3'),
);
ledge(project, 'status');
ledge(project, 'run');
ledge(project, 'metrics', 'diff');
git(project, 'add', '-A');
git(project, 'commit', '-qm', 'Train for 3 epochs');
ledge(project, 'runs', 'list', '--type', 'run');
ledge(project, 'lineage', 'models/imdb-sentiment', '--upstream-only');
ledge(project, 'deploy', 'history');
ledge(project, 'build', 'list');

step('9. The model registry, and predictions with the exported model (ONNX Runtime)');
ledge(project, 'model', 'list');
ledge(project, 'model', 'alias', 'imdb-sentiment-int8@production', '1');
const reviews = path.join(project, 'reviews.jsonl');
fs.writeFileSync(
  reviews,
  [
    'A wonderful, moving film with superb acting. I loved every minute of it.',
    'Dull, predictable and far too long. The worst movie I have seen this year.',
  ]
    .map((text) => `${JSON.stringify({ text })}\n`)
    .join(''),
);
ledge(project, 'predict', 'imdb-sentiment-int8@production', '--input', reviews);
ledge(project, 'model', 'pack', 'models/imdb-sentiment-int8', '--out', 'imdb-sentiment-int8.ledgemodel');

step('10. The deployed model, and the dashboard');
ledge(project, 'deploy', 'status');
const status = JSON.parse(
  run(project, process.execPath, [ledgeBin, 'deploy', 'status', '--json'], { quiet: true }),
);
const server = { url: status.url };
const served = status.serving ? `${status.serving.name}@${status.serving.version}` : 'nothing';
const ui = await startLongRunning(project, ['ui', '--port', '0', '--server', server.url], /(http:\/\/\S+)/);
const predictUrl = `${server.url}/v1/models/imdb-sentiment-int8:predict`;
const response = await fetch(predictUrl, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({
    instances: ['One of the best films I have seen: touching, funny and beautifully shot.'],
  }),
});
const answer = await response.json();
console.log(`$ curl -X POST ${predictUrl} -d '{"instances": ["One of the best films I have seen: …"]}'`);
console.log(JSON.stringify(answer));
const feedback = await fetch(`${server.url}/v1/feedback`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ id: answer.predictions[0].id, label: 'pos' }),
});
console.log(
  `$ curl -X POST ${server.url}/v1/feedback -d '{"id": "${answer.predictions[0].id}", "label": "pos"}'`,
);
console.log(JSON.stringify(await feedback.json()));

const keepRunning = process.stdout.isTTY && !process.env.CI;
console.log(`
Done. Where to look:
  dashboard      ${ui.url}${keepRunning ? '' : ' (stopped: npm start was not run on a terminal)'}
  model served   ${server.url} (${served} on the local target: POST /v1/models/imdb-sentiment-int8:predict,
                 /v2/models/imdb-sentiment-int8/infer; metrics at ${server.url}/metrics;
                 ledge deploy status | history | rollback | stop)${keepRunning ? '' : ' (stopped)'}
  workspace      ${project}
  its clone      ${clone}
  remote store   ${remote}
  model bundle   ${path.join(project, 'models', 'imdb-sentiment')} (int8: models/imdb-sentiment-int8,
                 one file: imdb-sentiment-int8.ledgemodel; registered: ledge model list)
  image          ${path.join(project, 'build', 'imdb-sentiment-int8')} (OCI layout: ledge build list; skopeo, podman)
  metrics        ${path.join(project, 'metrics')} (ledge metrics show; ledge runs list)
  try            cd ${project} && node ${path.relative(project, ledgeBin)} runs show 1`);
if (keepRunning) {
  console.log('\nThe deployment and the dashboard keep running: press Ctrl-C to stop them.');
  await new Promise((resolve) => process.once('SIGINT', resolve));
}
await ui.stop();
ledge(project, 'deploy', 'stop');
deployed = false;

/** `preferred` when nothing listens there on loopback, else a free port. */
function freePort(preferred) {
  const listen = (port) =>
    new Promise((resolve, reject) => {
      const probe = net.createServer();
      probe.once('error', reject);
      probe.listen(port, '127.0.0.1', () => {
        const { port: bound } = probe.address();
        probe.close(() => resolve(bound));
      });
    });
  return listen(preferred).catch(() => listen(0));
}

/** Starts a long-running ledge command; resolves once it prints the URL it listens on. */
function startLongRunning(cwd, args, urlPattern) {
  console.log(`$ ledge ${args.join(' ')} &`);
  const child = spawn(process.execPath, [ledgeBin, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (chunk) => {
      out += chunk;
      const match = urlPattern.exec(out);
      if (!match) return;
      child.stdout.off('data', onData);
      console.log(out.split('\n')[0]);
      resolve({
        url: match[1].replace(/\/$/, ''),
        stop: () =>
          new Promise((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', done);
            child.kill('SIGTERM');
          }),
      });
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`ledge ${args[0]} exited (${code}): ${stderr.trim()}`)));
  });
}
