/**
 * A remote in an S3 bucket (AWS or any S3-compatible server). Objects are stored under
 * `<prefix>/sha256/ab/cdef…`. Every upload is hashed and verified before it is committed
 * (PutObject, or CompleteMultipartUpload for big objects), so a corrupt object never becomes
 * visible. Every SDK error is turned into one LedgeError that names the remote.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { type Digest, digestFromHex, digestHex } from '../../../core/digest.js';
import { fsError, LedgeError } from '../../../core/errors.js';
import { digestOfKey, type ObjectSource, objectKey, type Remote, type RemoteConfig } from '../remote.js';
import { verifyDigest } from '../verify.js';

// The SDK warns on every Node 20 start that its 2027 releases will need Node 22; the pinned
// version works, and ledge's users cannot act on it. Users may still set the variable.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const MiB = 1024 * 1024;
/** S3 allows at most this many parts per multipart upload. */
const MAX_PARTS = 10_000;
const HEX_DIGITS = '0123456789abcdef';

/** Where the objects live: a bucket and a key prefix without surrounding slashes ('' for none). */
export interface S3Location {
  bucket: string;
  prefix: string;
}

/** Upload sizing; the defaults suit real use, tests shrink them to exercise multipart cheaply. */
export interface S3Tuning {
  /** Objects larger than this many bytes are uploaded in parts (default 64 MiB). */
  multipartThreshold: number;
  /** Size of each part (default 16 MiB; grown when needed to stay within 10,000 parts). */
  partSize: number;
  /** Keys per ListObjectsV2 page (default 1,000, the S3 maximum). */
  listPageSize: number;
}

const DEFAULT_TUNING: S3Tuning = { multipartThreshold: 64 * MiB, partSize: 16 * MiB, listPageSize: 1000 };

/** A `Remote` backed by an S3 bucket; see the module comment. */
export class S3Remote implements Remote {
  readonly name: string;
  readonly url: string;
  private readonly location: S3Location;
  private readonly keyPrefix: string;
  private readonly client: S3Client;
  private readonly endpoint: string;
  private readonly tuning: S3Tuning;
  private bucketChecked: Promise<void> | undefined;

  constructor(
    name: string,
    url: string,
    location: S3Location,
    config: RemoteConfig,
    tuning: Partial<S3Tuning> = {},
  ) {
    this.name = name;
    this.url = url;
    this.location = location;
    this.keyPrefix = location.prefix ? `${location.prefix}/` : '';
    this.tuning = { ...DEFAULT_TUNING, ...tuning };
    this.endpoint = config.endpoint ? redactEndpoint(config.endpoint) : 'Amazon S3';
    this.client = new S3Client(clientConfig(name, config));
  }

  /** Lists the 16 `sha256/<hex digit>` key ranges in parallel, one page ahead each. */
  list(): AsyncIterable<Digest> {
    return mergePages([...HEX_DIGITS].map((digit) => this.pages(`sha256/${digit}`)));
  }

  async has(digest: Digest): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.location.bucket, Key: this.key(digest) }));
      return true;
    } catch (error) {
      if (!isNotFound(error)) throw this.error(error, `checking ${digest}`);
    }
    // HEAD responses carry no error code, so a missing bucket also looks like a 404.
    await this.checkBucket();
    return false;
  }

  async get(digest: Digest): Promise<Readable> {
    try {
      const output = await this.client.send(
        new GetObjectCommand({ Bucket: this.location.bucket, Key: this.key(digest) }),
      );
      return mapStreamErrors(output.Body as Readable, (error) => this.error(error, `downloading ${digest}`));
    } catch (error) {
      if (errorName(error) === 'NoSuchKey') {
        throw new LedgeError('missing-object', `${this.label}: object ${digest} is missing`, {
          hint: 'push it from a workspace that has it',
          cause: error,
        });
      }
      throw this.error(error, `downloading ${digest}`);
    }
  }

  async put(source: ObjectSource): Promise<void> {
    if (source.size <= this.tuning.multipartThreshold || source.path === undefined) {
      const body = await readOrFail(async () => source.read(), source, this.label);
      await this.putWhole(source, body);
      return;
    }
    let handle: FileHandle;
    let size: number;
    try {
      handle = await fs.promises.open(source.path, 'r');
      size = (await handle.stat()).size;
    } catch (error) {
      throw fsError(error, source.path, `${this.label}: uploading ${source.digest}`);
    }
    try {
      await this.putInParts(source, handle, size);
    } finally {
      await handle.close();
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private get label(): string {
    return `remote '${this.name}' (${this.url})`;
  }

  private key(digest: Digest): string {
    return this.keyPrefix + objectKey(digest);
  }

  private async *pages(range: string): AsyncGenerator<Digest[]> {
    let token: string | undefined;
    do {
      const page = await this.call('listing objects', () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.location.bucket,
            Prefix: this.keyPrefix + range,
            ContinuationToken: token,
            MaxKeys: this.tuning.listPageSize,
          }),
        ),
      );
      const digests: Digest[] = [];
      for (const { Key } of page.Contents ?? []) {
        const digest = Key === undefined ? undefined : digestOfKey(Key.slice(this.keyPrefix.length));
        if (digest) digests.push(digest);
      }
      yield digests;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  private async putWhole(source: ObjectSource, body: Buffer): Promise<void> {
    const hash = createHash('sha256').update(body).digest('hex');
    verifyDigest(
      source.digest,
      digestFromHex(hash),
      `${this.label}: upload of ${source.path ?? source.digest}`,
    );
    await this.call(`uploading ${source.digest}`, () =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.location.bucket,
          Key: this.key(source.digest),
          Body: body,
          ContentLength: body.length,
          // S3 checks the received bytes against our digest and refuses a mismatch.
          ChecksumSHA256: Buffer.from(digestHex(source.digest), 'hex').toString('base64'),
        }),
      ),
    );
  }

  /** Uploads parts read sequentially while hashing; completes only if the digest matches. */
  private async putInParts(source: ObjectSource, handle: FileHandle, size: number): Promise<void> {
    const target = { Bucket: this.location.bucket, Key: this.key(source.digest) };
    const action = `uploading ${source.digest}`;
    const { UploadId } = await this.call(action, () =>
      this.client.send(new CreateMultipartUploadCommand(target)),
    );
    try {
      const partSize = Math.max(this.tuning.partSize, Math.ceil(size / MAX_PARTS / MiB) * MiB);
      const hash = createHash('sha256');
      const parts: CompletedPart[] = [];
      for (let offset = 0, PartNumber = 1; offset < size; offset += partSize, PartNumber++) {
        const body = await readOrFail(
          () => readAt(handle, offset, Math.min(partSize, size - offset)),
          source,
          this.label,
        );
        hash.update(body);
        const { ETag } = await this.call(action, () =>
          this.client.send(
            new UploadPartCommand({
              ...target,
              UploadId,
              PartNumber,
              Body: body,
              ContentLength: body.length,
            }),
          ),
        );
        parts.push({ ETag, PartNumber });
      }
      verifyDigest(
        source.digest,
        digestFromHex(hash.digest('hex')),
        `${this.label}: upload of ${source.path ?? source.digest}`,
      );
      await this.call(action, () =>
        this.client.send(
          new CompleteMultipartUploadCommand({ ...target, UploadId, MultipartUpload: { Parts: parts } }),
        ),
      );
    } catch (error) {
      // Best effort: a dangling upload is invisible and expires under a bucket lifecycle rule.
      await this.client.send(new AbortMultipartUploadCommand({ ...target, UploadId })).catch(() => {});
      throw error;
    }
  }

  /** Confirms once that the bucket exists, so a missing bucket is not mistaken for a missing object. */
  private checkBucket(): Promise<void> {
    this.bucketChecked ??= this.client.send(new HeadBucketCommand({ Bucket: this.location.bucket })).then(
      () => {},
      (error: unknown) => {
        this.bucketChecked = undefined;
        throw isNotFound(error)
          ? this.bucketMissing(error, 'opening the bucket')
          : this.error(error, 'opening the bucket');
      },
    );
    return this.bucketChecked;
  }

  private bucketMissing(error: unknown, action: string): LedgeError {
    return new LedgeError(
      'remote-not-found',
      `${this.label}: ${action}: bucket '${this.location.bucket}' does not exist`,
      {
        hint: 'create the bucket, or fix the bucket name in the remote URL',
        cause: error,
      },
    );
  }

  /** Runs one SDK call, turning whatever it throws into a LedgeError. */
  private async call<T>(action: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw this.error(error, action);
    }
  }

  /** Maps an SDK or network error to exactly one LedgeError naming this remote. */
  private error(error: unknown, action: string): LedgeError {
    if (error instanceof LedgeError) return error;
    const where = `${this.label}: ${action}`;
    const name = errorName(error);
    const status = httpStatus(error);
    // Responses without a body (HEAD) carry no error code; the SDK then names them 'Unknown'.
    const reason = name && name !== 'Unknown' ? name : status ? `HTTP ${status}` : 'unexpected error';
    if (isNetworkError(error)) {
      return new LedgeError('remote-unreachable', `${where}: cannot reach ${this.endpoint}`, {
        hint: 'check the endpoint URL and that the server is running',
        retryable: true,
        cause: error,
      });
    }
    if (AUTH_ERRORS.has(name) || status === 401 || status === 403) {
      return new LedgeError('remote-auth', `${where}: access denied (${reason})`, {
        hint:
          'check access_key_id/secret_access_key in .ledge/config.local.yaml ' +
          'or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY',
        cause: error,
      });
    }
    if (name === 'NoSuchBucket') return this.bucketMissing(error, action);
    const detail = status && !reason.startsWith('HTTP') ? `${reason} (HTTP ${status})` : reason;
    const message =
      error instanceof Error && error.message && error.message !== name ? `: ${error.message}` : '';
    return new LedgeError('remote-error', `${where}: ${detail}${message}`, {
      retryable: status === undefined || status >= 500 || name === 'SlowDown',
      cause: error,
    });
  }
}

const AUTH_ERRORS = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'Forbidden',
  'ExpiredToken',
  'InvalidToken',
  'CredentialsProviderError',
]);

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

function clientConfig(name: string, config: RemoteConfig): S3ClientConfig {
  const { access_key_id: accessKeyId, secret_access_key: secretAccessKey } = config;
  if (Boolean(accessKeyId) !== Boolean(secretAccessKey)) {
    throw new LedgeError(
      'config',
      `remote '${name}': access_key_id and secret_access_key must be set together`,
      {
        hint: 'set both in .ledge/config.local.yaml, or neither to use the AWS credential chain',
      },
    );
  }
  return {
    region: config.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    endpoint: config.endpoint,
    // S3-compatible servers (MinIO, s3rver, Ceph) mostly need path-style addressing.
    forcePathStyle: config.force_path_style ?? config.endpoint !== undefined,
    credentials:
      accessKeyId && secretAccessKey
        ? { accessKeyId, secretAccessKey, sessionToken: config.session_token }
        : undefined,
    maxAttempts: 3,
    // Only send checksums the operation requires (we add SHA-256 where it helps); the SDK's
    // default CRC32 trailers break many S3-compatible servers.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    // Fail fast on unreachable hosts, and on connections that stall for a minute.
    requestHandler: { connectionTimeout: 2000, socketTimeout: 60_000 },
  };
}

/** A pass-through of `body` whose errors are replaced by `map(error)`; destroying it stops `body`. */
function mapStreamErrors(body: Readable, map: (error: unknown) => Error): Readable {
  const out = new PassThrough({ highWaterMark: 1 << 20 });
  body.on('error', (error) => out.destroy(map(error)));
  out.on('close', () => body.destroy());
  body.pipe(out);
  return out;
}

/** Reads `length` bytes at `offset`. */
async function readAt(handle: FileHandle, offset: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, offset + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}

async function readOrFail(read: () => Promise<Buffer>, source: ObjectSource, label: string): Promise<Buffer> {
  try {
    return await read();
  } catch (error) {
    throw fsError(error, source.path ?? source.digest, `${label}: uploading ${source.digest}`);
  }
}

/** Yields the items of several page streams as pages arrive, keeping one request in flight per stream. */
async function* mergePages<T>(streams: AsyncIterator<T[]>[]): AsyncGenerator<T> {
  type Next = { index: number; result: IteratorResult<T[]> };
  const pending = new Map<number, Promise<Next>>();
  const pull = (index: number) => {
    const next = streams[index]!.next().then((result) => ({ index, result }));
    // Handled here too, so a page failing after the consumer stopped is not an unhandled rejection.
    next.catch(() => {});
    pending.set(index, next);
  };
  for (let index = 0; index < streams.length; index++) pull(index);
  while (pending.size > 0) {
    const { index, result } = await Promise.race(pending.values());
    if (result.done) {
      pending.delete(index);
      continue;
    }
    pull(index);
    yield* result.value;
  }
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : '';
}

function httpStatus(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

function isNotFound(error: unknown): boolean {
  const name = errorName(error);
  return (
    name === 'NotFound' || name === 'NoSuchKey' || (httpStatus(error) === 404 && name !== 'NoSuchBucket')
  );
}

/** Whether the error (or one it wraps) is a connection failure or timeout rather than an S3 answer. */
function isNetworkError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as NodeJS.ErrnoException).code;
  if ((code && NETWORK_CODES.has(code)) || error.name === 'TimeoutError') return true;
  const nested = [error.cause, ...((error as Partial<AggregateError>).errors ?? [])];
  return nested.some((inner) => inner !== error && isNetworkError(inner));
}

function redactEndpoint(endpoint: string): string {
  return endpoint.replace(/\/\/[^/@]*@/, '//');
}
