/**
 * Webhook authentication, as pure functions over the raw request: GitHub signs the body with
 * HMAC-SHA256 (`X-Hub-Signature-256: sha256=<hex>`); GitLab sends the shared token itself
 * (`X-Gitlab-Token`). Both compare in constant time.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** Whether `header` is GitHub's signature of `body` with `secret`. */
export function verifyGithubSignature(body: Uint8Array, header: string | undefined, secret: string): boolean {
  if (!header?.startsWith('sha256=')) return false;
  const given = Buffer.from(header.slice('sha256='.length), 'hex');
  const expected = createHmac('sha256', secret).update(body).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** GitHub's header value for `body` (what a test or a sender computes). */
export function githubSignature(body: Uint8Array | string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Whether GitLab's `X-Gitlab-Token` equals the secret (hashed first: equal lengths, no length leak). */
export function verifyGitlabToken(header: string | undefined, secret: string): boolean {
  if (header === undefined) return false;
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(header), digest(secret));
}
