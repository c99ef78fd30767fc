/**
 * Child-process entry that runs s3rver (an S3 server for tests) on a free loopback port, so
 * its CPU use does not share an event loop with the benchmark's timers. Started by `s3rver.ts`:
 * argv = [directory, bucket]; prints `{"port":N}` once listening; stops on SIGTERM.
 */
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer?: Server;
}
type S3rverClass = new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  configureBuckets: { name: string }[];
}) => S3rverInstance;

const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass;

const [directory, bucket] = process.argv.slice(2);
if (!directory || !bucket) {
  process.stderr.write('usage: s3rver-main.js DIRECTORY BUCKET\n');
  process.exit(2);
}
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory,
  configureBuckets: [{ name: bucket }],
});
const { port } = await server.run();
process.stdout.write(`${JSON.stringify({ port })}\n`);
process.once('SIGTERM', () => {
  // SDK clients keep connections alive; close() would wait for them.
  server.httpServer?.closeAllConnections();
  void server.close().finally(() => process.exit(0));
});
