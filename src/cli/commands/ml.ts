/** The model commands of the worked example: train, evaluate, quantize, predict. */
import fs from 'node:fs';
import type { Command } from 'commander';
import { LedgeError } from '../../core/errors.js';
import type { CommandContext } from '../context.js';
import { formatBytes } from '../format.js';
import { modelDir } from '../model-ref.js';

function labelsOf(text: string): [string, string] {
  const labels = text.split(',').map((l) => l.trim());
  if (labels.length !== 2 || labels.some((l) => l === '') || labels[0] === labels[1]) {
    throw new LedgeError(
      'usage',
      `--labels needs two different labels, negative first (e.g. neg,pos), not '${text}'`,
    );
  }
  return labels as [string, string];
}

function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1)
    throw new LedgeError('usage', `${flag} must be a positive integer, not '${text}'`);
  return n;
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

export function registerMlCommands(program: Command, context: () => CommandContext): void {
  const imdb = program.command('imdb').description('the IMDB movie-review dataset (the worked example)');
  imdb
    .command('prepare')
    .description('read IMDB reviews (archive, directory or URL) into train/validation JSON lines')
    .option(
      '--source <path|url>',
      'aclImdb archive or directory, file:// or https:// URL (default: $LEDGE_IMDB, else the official archive)',
    )
    .option(
      '-o, --out <dir>',
      'directory for train.jsonl, validation.jsonl (and test.jsonl)',
      'data/prepared',
    )
    .option(
      '--params <file>',
      'parameters file whose prepare: section holds validation_fraction and seed',
      'params.yaml',
    )
    .option('--json', 'print the result as JSON')
    .action(async (flags) => {
      const ctx = context();
      const { runPrepareImdb } = await import('../../ml/text-classifier/prepare-imdb.js');
      let store: Awaited<ReturnType<CommandContext['openStore']>> | undefined;
      try {
        store = await ctx.openStore();
      } catch {
        store = undefined; // outside a workspace: local sources only
      }
      try {
        const summary = await runPrepareImdb({
          source: flags.source,
          out: flags.out,
          paramsFile: flags.params,
          cache: store?.cache,
          progress: ctx.progress,
        });
        if (flags.json) return ctx.json(summary);
        ctx.say(
          `${summary.train} training and ${summary.validation} validation reviews${summary.test ? `, ${summary.test} test reviews` : ''} from ${summary.source} -> ${flags.out}`,
        );
      } finally {
        store?.close();
      }
    });

  imdb
    .command('download')
    .description(
      'fetch the IMDB archive once into the cache (verified against its sha256) and copy it to a file',
    )
    .option('--source <url|path>', 'archive URL or path (default: $LEDGE_IMDB, else the official archive)')
    .option('--sha256 <hex>', 'expected sha256 of the download (the official archive has its own built in)')
    .requiredOption('-o, --out <file>', 'where to put the archive')
    .action(async (flags) => {
      const ctx = context();
      const { fetchImdbSource, resolveImdbSource, describeImdbSource } = await import(
        '../../ml/data/imdb-source.js'
      );
      const source = resolveImdbSource(flags.source, { sha256: flags.sha256 });
      await ctx.withLockedStore('ledge imdb download', async (store) => {
        const local = await fetchImdbSource(source, {
          cache: store.cache,
          progress: ctx.progress,
          cwd: ctx.cwd,
        });
        if (local.kind !== 'file') {
          throw new LedgeError('usage', `${describeImdbSource(source)} is a directory, not an archive`, {
            hint: 'give the .tar.gz archive, or read the directory directly with `ledge imdb prepare --source`',
          });
        }
        fs.copyFileSync(local.path, flags.out);
        ctx.say(
          `${local.downloaded ? 'downloaded' : 'found'} ${describeImdbSource(source)}${local.digest ? ` (${local.digest})` : ''} -> ${flags.out}`,
        );
      });
    });

  program
    .command('train')
    .description(
      'train a text classifier (NB-weighted logistic regression over hashed n-grams) into a model bundle',
    )
    .requiredOption('--train <file>', 'training examples, JSON lines {"text", "label"}')
    .requiredOption('--validation <file>', 'validation examples, JSON lines')
    .option(
      '--params <file>',
      'parameters file whose train: section holds the hyperparameters',
      'params.yaml',
    )
    .option('-o, --out <dir>', 'model bundle directory to write', 'model')
    .option('--name <name>', 'model name recorded in the bundle', 'text-classifier')
    .option('--labels <neg,pos>', 'the two labels, negative first', 'neg,pos')
    .option('--vocabulary-size <n>', 'words kept in the saved vocabulary (Keras num_words)', '20000')
    .option('--metrics <file>', 'write training metrics (JSON) here')
    .option('--json', 'print the result as JSON')
    .action(async (flags) => {
      const ctx = context();
      const { runTrain } = await import('../../ml/text-classifier/train-command.js');
      const paramsFile = fs.existsSync(flags.params) ? flags.params : undefined;
      if (!paramsFile && flags.params !== 'params.yaml') {
        throw new LedgeError('path-not-found', `parameters file ${flags.params} does not exist`);
      }
      const { trained, card } = runTrain({
        trainFile: flags.train,
        validationFile: flags.validation,
        paramsFile,
        out: flags.out,
        name: flags.name,
        labels: labelsOf(flags.labels),
        vocabularySize: positiveInt(flags.vocabularySize, '--vocabulary-size'),
        metricsFile: flags.metrics,
        onEpoch: (m) => {
          if (!flags.json) {
            ctx.say(
              `epoch ${m.epoch}: train loss ${m.train_loss.toFixed(4)} accuracy ${pct(m.train_accuracy)}; validation loss ${m.validation_loss.toFixed(4)} accuracy ${pct(m.validation_accuracy)} (${m.seconds.toFixed(1)} s)`,
            );
          }
        },
      });
      if (flags.json) return ctx.json({ out: flags.out, card });
      ctx.say(
        `validation accuracy ${pct(trained.validation.accuracy)}, AUC ${trained.validation.auc.toFixed(4)}; trained in ${trained.seconds.total.toFixed(1)} s; ${flags.out}/model.onnx ${formatBytes(card.sizes.model_bytes)}`,
      );
    });

  program
    .command('evaluate')
    .description('run a model bundle in ONNX Runtime over labelled texts and report its metrics')
    .argument('<model>', 'model bundle directory or registered model (name, name@3, name@production)')
    .requiredOption('--data <file>', 'labelled examples, JSON lines {"text", "label"}')
    .option('--metrics <file>', 'write the metrics (JSON) here')
    .option('--json', 'print the result as JSON')
    .action(async (model: string, flags) => {
      const ctx = context();
      const { runEvaluate } = await import('../../ml/text-classifier/evaluate-command.js');
      const result = await runEvaluate({
        model: await modelDir(ctx, model),
        dataFile: flags.data,
        metricsFile: flags.metrics,
      });
      if (flags.json) return ctx.json(result);
      const m = result.metrics;
      ctx.say(
        `${m.examples} examples: accuracy ${pct(m.accuracy)}, precision ${pct(m.precision)}, recall ${pct(m.recall)}, F1 ${pct(m.f1)}, AUC ${m.auc.toFixed(4)}, log loss ${m.log_loss.toFixed(4)} (${Math.round(result.examplesPerSecond)} examples/s)`,
      );
    });

  program
    .command('quantize')
    .description('write the int8 version of a float model bundle and measure both on labelled texts')
    .argument('<model>', 'float model bundle directory')
    .requiredOption('-o, --out <dir>', 'int8 model bundle directory to write')
    .option('--data <file>', 'labelled examples (JSON lines) to measure both models on')
    .option('--metrics <file>', 'write the comparison (JSON) here')
    .option('--json', 'print the result as JSON')
    .action(async (model: string, flags) => {
      const ctx = context();
      const { runQuantize } = await import('../../ml/text-classifier/quantize-command.js');
      const result = await runQuantize({
        model,
        out: flags.out,
        dataFile: flags.data,
        metricsFile: flags.metrics,
      });
      if (flags.json) return ctx.json(result);
      ctx.say(
        `int8 model ${formatBytes(result.int8_bytes!)} (${pct(result.size_ratio!)} of ${formatBytes(result.float_bytes!)})` +
          (result.int8_accuracy === undefined
            ? ''
            : `; accuracy ${pct(result.int8_accuracy)} vs ${pct(result.float_accuracy!)} float (${result.accuracy_drop_points!.toFixed(2)} points lost)`),
      );
    });

  program
    .command('predict')
    .description(
      'predict labels for texts: JSON lines {"text"} (or {"sequence"}) or raw lines in, JSON lines out',
    )
    .argument('<model>', 'model bundle directory or registered model (name, name@3, name@production)')
    .option('-i, --input <file>', 'input file (default: stdin)')
    .option('-o, --output <file>', 'output file (default: stdout)')
    .option('--format <format>', 'jsonl ({"text": …} per line) or text (one raw text per line)', 'jsonl')
    .option('--strict', 'stop at the first malformed line')
    .option('--batch-size <n>', 'texts per ONNX Runtime call', '512')
    .action(async (modelPath: string, flags) => {
      const ctx = context();
      if (flags.format !== 'jsonl' && flags.format !== 'text') {
        throw new LedgeError('usage', `--format must be jsonl or text, not '${flags.format}'`);
      }
      const [{ TextModel }, { batchPredict }] = await Promise.all([
        import('../../runtime/model/text-model.js'),
        import('../../runtime/predict/batch-predict.js'),
      ]);
      const model = await TextModel.load(await modelDir(ctx, modelPath));
      try {
        const input = flags.input ? fs.createReadStream(flags.input) : process.stdin;
        input.on('error', () => {}); // reported below by the first read
        if (flags.input && !fs.existsSync(flags.input)) {
          throw new LedgeError('path-not-found', `input file ${flags.input} does not exist`);
        }
        const output = flags.output ? fs.createWriteStream(flags.output) : process.stdout;
        const result = await batchPredict(model, input, output, {
          format: flags.format,
          strict: flags.strict === true,
          batchSize: positiveInt(flags.batchSize, '--batch-size'),
          onBadLine: (line, message) => ctx.note(`input line ${line}: ${message} (skipped)`),
        });
        if (flags.output) await new Promise<void>((resolve) => output.end(resolve));
        if (flags.output) {
          ctx.note(
            `${result.predicted} predictions in ${result.seconds.toFixed(2)} s (${Math.round(result.predicted / Math.max(result.seconds, 1e-9))}/s) -> ${flags.output}`,
          );
        }
        if (result.malformed > 0) process.exitCode = 1;
      } finally {
        await model.close();
      }
    });
}
