/**
 * Baselines for a no-op push to S3: lists every key under a prefix with the bare AWS SDK and
 * prints the count. Run as its own Node process, like ledge, so both pay process start and SDK
 * load. argv = [endpoint, bucket, prefix, mode]; mode `sequential` walks the whole prefix one
 * page after another, `ranges` lists the 16 `sha256/<hex digit>` ranges in parallel (as ledge
 * does). Credentials come from the environment.
 */
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

const [endpoint, bucket, prefix, mode = 'sequential'] = process.argv.slice(2);
if (!endpoint || !bucket || prefix === undefined || !['sequential', 'ranges'].includes(mode)) {
  process.stderr.write('usage: s3-list.js ENDPOINT BUCKET PREFIX [sequential|ranges]\n');
  process.exit(2);
}
const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true });

async function count(keyPrefix: string): Promise<number> {
  let token: string | undefined;
  let keys = 0;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: keyPrefix, ContinuationToken: token }),
    );
    keys += page.KeyCount ?? 0;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

const keys =
  mode === 'ranges'
    ? (await Promise.all([...'0123456789abcdef'].map((digit) => count(`${prefix}sha256/${digit}`)))).reduce(
        (a, b) => a + b,
        0,
      )
    : await count(prefix);
client.destroy();
process.stdout.write(`${keys}\n`);
