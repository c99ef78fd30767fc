/**
 * The `ledge` command line: parses arguments, calls the library, prints. Errors become output
 * here and nowhere else: one line for what users can fix, a stack trace only with --verbose
 * or LEDGE_DEBUG=1. Exit codes: 0 success, 1 failure, 2 usage error.
 */
import { Command, CommanderError, Option } from 'commander';
import { LedgeError } from '../core/errors.js';
import { runInterruptHandlers } from '../core/interrupt.js';
import { VERSION } from '../core/version.js';
import { registerBuildCommands } from './commands/build.js';
import { registerDataCommands } from './commands/data.js';
import { registerDeployCommands } from './commands/deploy.js';
import { registerLineageCommand } from './commands/lineage.js';
import { registerMetricsCommands } from './commands/metrics.js';
import { registerMlCommands } from './commands/ml.js';
import { registerModelCommands } from './commands/model.js';
import { registerPipelineCommands } from './commands/pipeline.js';
import { registerRemoteCommands } from './commands/remote.js';
import { registerRunCommands } from './commands/runs.js';
import { registerServeCommand } from './commands/serve.js';
import { registerServerCommand } from './commands/server.js';
import { registerTokenCommands } from './commands/token.js';
import { registerTransferCommands } from './commands/transfer.js';
import { registerTriggerCommand } from './commands/trigger.js';
import { registerUiCommand } from './commands/ui.js';
import { CommandContext, type GlobalOptions } from './context.js';

export function buildProgram(): Command {
  const program = new Command('ledge')
    .description('Version data and models, run ML pipelines, ship models to edge devices.')
    .version(VERSION, '-V, --version')
    .option('-v, --verbose', 'show stack traces and debug details on errors')
    .option('-q, --quiet', 'print only errors (and --json output)')
    .addOption(new Option('-C, --cwd <dir>', 'run as if ledge was started in <dir>'))
    .showSuggestionAfterError(true)
    .configureOutput({
      // Usage errors look like every other error: one line, `ledge: error: …`.
      outputError: (text, write) =>
        write(
          `ledge: ${text
            .trim()
            .replace(/\s*\n\s*\(Did you mean/g, ' (did you mean')
            .replace(/\n+/g, ' ')}\n`,
        ),
    })
    .configureHelp({ sortSubcommands: false })
    .exitOverride();
  const context = () => new CommandContext(program.opts<GlobalOptions>());
  registerDataCommands(program, context);
  registerRemoteCommands(program, context);
  registerTransferCommands(program, context);
  registerPipelineCommands(program, context);
  registerRunCommands(program, context);
  registerMetricsCommands(program, context);
  registerLineageCommand(program, context);
  registerModelCommands(program, context);
  registerMlCommands(program, context);
  registerUiCommand(program, context);
  registerServeCommand(program, context);
  registerBuildCommands(program, context);
  registerDeployCommands(program, context);
  registerServerCommand(program, context);
  registerTriggerCommand(program, context);
  registerTokenCommands(program, context);
  // Subcommands (and theirs) inherit exit and output handling.
  const inherit = (parent: Command) => {
    for (const command of parent.commands) {
      command.exitOverride();
      command.configureOutput(program.configureOutput());
      inherit(command);
    }
  };
  inherit(program);
  return program;
}

function debugEnabled(argv: string[]): boolean {
  const debug = process.env.LEDGE_DEBUG;
  return (
    (debug !== undefined && debug !== '' && debug !== '0') ||
    argv.includes('--verbose') ||
    argv.includes('-v')
  );
}

/** Prints an error the way users should see it and returns the exit code. */
export function reportError(error: unknown, argv: string[]): number {
  const verbose = debugEnabled(argv);
  if (error instanceof CommanderError) {
    // Commander already printed its message (unknown option, missing argument, help...).
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return 0;
    // `ledge help …` asked for help; `ledge remote` (no subcommand) is a usage error.
    if (error.code === 'commander.help') return argv.slice(2).includes('help') ? 0 : 2;
    return 2;
  }
  if (error instanceof LedgeError) {
    process.stderr.write(`ledge: error: ${error.line}\n`);
    if (verbose && error.stack) process.stderr.write(`${error.stack}\n`);
    return error.code === 'usage' ? 2 : 1;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`ledge: internal error: ${message}\n`);
  if (verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  else
    process.stderr.write(
      'ledge: run again with --verbose (or LEDGE_DEBUG=1) for details, and please report it\n',
    );
  return 1;
}

export async function main(argv: string[]): Promise<number> {
  const onSignal = (signal: NodeJS.Signals) => {
    // Commands that run long (ledge run) stop their children and record the interruption;
    // then exiting (rather than dying) runs the exit hooks that release the workspace lock.
    void runInterruptHandlers(15_000).then(
      (code) => process.exit(code ?? (signal === 'SIGINT' ? 130 : 143)),
      () => process.exit(signal === 'SIGINT' ? 130 : 143),
    );
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    return reportError(error, argv);
  }
}
