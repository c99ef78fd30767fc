import fs from 'node:fs';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';

/** The slice of s3rver's API (a CommonJS package without types) that tests use. */
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

export interface S3Server {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  /** A bucket that exists (created empty). */
  bucket: string;
  /** The only key pair s3rver knows. It checks the key id but not SigV4 signatures. */
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

/** Starts a real S3 server (s3rver) on a free loopback port, stopped when the test ends. */
export async function startS3Server(t: TestContext, bucket = 'ledge-test'): Promise<S3Server> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'ledge-s3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // SDK clients keep connections alive; close() would wait for them.
    server.httpServer?.closeAllConnections();
    await server.close();
    fs.rmSync(directory, { recursive: true, force: true });
  };
  t.after(stop);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    stop,
  };
}
