/**
 * The supervisor process of a local target, started detached by `ledge deploy` (see
 * supervisor-launcher.ts) with its configuration in LEDGE_DEPLOY_SUPERVISOR and its output
 * going to `supervisor.log`. It binds the stable port and its control channel, tells its
 * launcher over IPC that it is ready (or why it cannot start), and runs until told to stop
 * (POST /stop, SIGTERM or SIGINT: it drains its servers first).
 */
import { MetadataStore } from '../../metadata/metadata-store.js';
import { MonitoringRecords } from '../../metadata/monitoring-records.js';
import type { TargetEvent } from '../target.js';
import { newToken, startControlServer } from './control-channel.js';
import { Supervisor, type SupervisorConfig } from './supervisor.js';
import { SUPERVISOR_CONFIG_ENV, SUPERVISOR_TITLE, type SupervisorMessage } from './supervisor-launcher.js';

const log = (line: string) => process.stdout.write(`${line}\n`);

/** Records events in the metadata store's serving_events, in order, opening it on first use. */
function metadataEvents(config: SupervisorConfig): {
  record: (event: TargetEvent) => void;
  close: () => Promise<void>;
} {
  let store: Promise<MetadataStore> | undefined;
  let chain: Promise<unknown> = Promise.resolve();
  return {
    record(event) {
      const database = config.database;
      if (!database) return;
      chain = chain
        .then(async () => {
          store ??= MetadataStore.open(database);
          const records = new MonitoringRecords((await store).db);
          const props = event.properties ?? {};
          await records.recordEvent({
            at: event.at,
            server: `deploy:${config.target}`,
            kind: event.kind,
            model: typeof props.model === 'string' ? props.model : null,
            version: typeof props.version === 'string' ? props.version : null,
            message: event.message,
            properties: { ...props, deploymentId: event.deploymentId ?? null },
          });
        })
        .catch((error: Error) => log(`cannot record the event in the metadata store: ${error.message}`));
    },
    async close() {
      await chain;
      if (store) await (await store).close();
    },
  };
}

async function main(): Promise<void> {
  const config = JSON.parse(process.env[SUPERVISOR_CONFIG_ENV] ?? '') as SupervisorConfig;
  process.title = `${SUPERVISOR_TITLE} ${config.target}`;
  const events = metadataEvents(config);
  const env = { ...process.env };
  delete env[SUPERVISOR_CONFIG_ENV];
  const supervisor = new Supervisor(config, { log, onEvent: events.record, env });
  const tell = (message: SupervisorMessage) => {
    if (!process.send) return;
    process.send(message, () => process.disconnect?.());
  };
  let exiting = false;
  const exit = async () => {
    if (exiting) return;
    exiting = true;
    await events.close().catch(() => undefined);
    process.exit(0);
  };
  try {
    await supervisor.start();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    tell({ ready: false, error: (error as Error).message, code });
    log(`cannot start: ${(error as Error).message}`);
    process.exitCode = 1;
    return;
  }
  const token = newToken();
  const control = await startControlServer(supervisor, token, () => void exit());
  supervisor.attachControl({ url: control.url, token });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      log(`${signal}: stopping`);
      void supervisor.stop().then(exit, exit);
    });
  }
  process.on('SIGHUP', () => log('SIGHUP ignored'));
  tell({ ready: true, pid: process.pid, control: control.url });
}

main().catch((error: Error) => {
  log(`supervisor failed: ${error.stack ?? error.message}`);
  process.exit(1);
});
