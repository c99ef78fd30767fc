/**
 * API tokens: 32 random bytes, base64url, prefixed `ledge_` (so scanners and our own log
 * redaction recognise them). Only the sha256 is stored; a presented token is hashed and looked
 * up, so no stored secret can be compared byte by byte.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const TOKEN_PREFIX = 'ledge_';

export function newToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** What lists show of a token: its first characters. */
export function tokenPrefix(token: string): string {
  return token.slice(0, TOKEN_PREFIX.length + 4);
}

/** Whether the text looks like a ledge token at all (cheap check before a lookup). */
export function isTokenShaped(text: string): boolean {
  return /^ledge_[A-Za-z0-9_-]{43}$/.test(text);
}

/** The token in an `Authorization: Bearer …` header, if any. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}

/**
 * The CSRF token of a browser session signed in with `token`: an HMAC keyed by the token, so
 * it is the same for the session's life (no server state), useless without the token, and
 * unreadable to other sites (it is only ever sent in a same-origin JSON answer).
 */
export function csrfTokenFor(token: string): string {
  return createHmac('sha256', token).update('ledge dashboard csrf v1', 'utf8').digest('base64url');
}

/** Whether two secrets are equal, in time independent of where they differ. */
export function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}
