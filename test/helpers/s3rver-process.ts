/**
 * Starts s3rver (a real S3 REST server, an npm package) in a child process on a free loopback
 * port: for tests (through `s3-server.ts`) and the S3 benchmark figures. A child process keeps
 * its CPU use off the caller's event loop and lets it run with the OpenSSL legacy provider.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface S3rverHandle {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  bucket: string;
  /** The only key pair s3rver accepts. */
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

export async function startS3rver(bucket: string): Promise<S3rverHandle> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'ledge-s3rver-'));
  const main = fileURLToPath(new URL('./s3rver-main.js', import.meta.url));
  // s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 only has in its
  // legacy provider: without it, any listing longer than one page (1,000 keys) fails with HTTP 500.
  const child: ChildProcess = spawn(
    process.execPath,
    ['--openssl-legacy-provider', main, directory, bucket],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error('s3rver did not start within 30 s')), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const line = buffered.split('\n')[0];
      if (buffered.includes('\n') && line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited with ${code} before listening`));
    });
  });
  let stopped = false;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      fs.rmSync(directory, { recursive: true, force: true });
    },
  };
}
