import type { TestContext } from 'node:test';
import { type S3rverHandle, startS3rver } from './s3rver-process.js';

export type S3Server = S3rverHandle;

/** Starts a real S3 server (s3rver) on a free loopback port, stopped when the test ends. */
export async function startS3Server(t: TestContext, bucket = 'ledge-test'): Promise<S3Server> {
  const server = await startS3rver(bucket);
  t.after(() => server.stop());
  return server;
}
