/**
 * Registry authentication: parsing `WWW-Authenticate` challenges, and the bearer token flow
 * of the distribution token spec (GET the realm with `service` and `scope`, with basic
 * credentials when we have them; cache the token per scope until it expires).
 */
import { ImageError } from '../image-errors.js';

export interface RegistryCredentials {
  username: string;
  password: string;
}

export interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

/** Parses `Bearer realm="…",service="…",scope="…"` (quoted or token values). */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const match = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!match) return undefined;
  const scheme = match[1]!.toLowerCase();
  if (scheme !== 'basic' && scheme !== 'bearer') return undefined;
  const params: Record<string, string> = {};
  const pattern = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?\s*/g;
  for (const found of match[2]!.matchAll(pattern)) {
    params[found[1]!.toLowerCase()] =
      found[2] !== undefined ? found[2].replace(/\\(.)/g, '$1') : (found[3] ?? '');
  }
  return { scheme, params };
}

export function basicAuthorization(credentials: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64')}`;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

/** The token flow for one registry, with its per-scope cache. */
export class BearerTokens {
  private readonly cache = new Map<string, CachedToken>();
  /** Requests in flight, so concurrent uploads share one token request per scope. */
  private readonly inFlight = new Map<string, Promise<string>>();

  constructor(
    private readonly registry: string,
    private readonly fetcher: typeof fetch,
    private readonly credentials: RegistryCredentials | undefined,
    private readonly now: () => number,
  ) {}

  /** Drops a cached token the registry no longer accepts. */
  forget(scope: string): void {
    this.cache.delete(scope);
  }

  async token(challenge: Challenge, scope: string): Promise<string> {
    const cached = this.cache.get(scope);
    if (cached && cached.expiresAt > this.now()) return cached.token;
    let pending = this.inFlight.get(scope);
    if (!pending) {
      pending = this.fetchToken(challenge, scope).finally(() => this.inFlight.delete(scope));
      this.inFlight.set(scope, pending);
    }
    return pending;
  }

  private async fetchToken(challenge: Challenge, scope: string): Promise<string> {
    const realm = challenge.params.realm;
    if (!realm) {
      throw new ImageError(
        'registry-error',
        'remote-error',
        `${this.registry} sent a bearer challenge without a realm`,
      );
    }
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new ImageError(
        'registry-error',
        'remote-error',
        `${this.registry} sent a bad token realm '${realm}'`,
      );
    }
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    for (const one of scope.split(' ').filter(Boolean)) url.searchParams.append('scope', one);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.credentials) headers.authorization = basicAuthorization(this.credentials);
    let response: Response;
    try {
      response = await this.fetcher(url, { headers });
    } catch (error) {
      throw new ImageError(
        'unreachable',
        'remote-unreachable',
        `cannot reach the token service ${url.origin} of ${this.registry}`,
        { hint: 'check the network and the registry address', cause: error, retryable: true },
      );
    }
    if (response.status === 401 || response.status === 403) {
      await response.body?.cancel();
      throw new ImageError(
        'unauthorized',
        'remote-auth',
        `the token service ${url.origin} of ${this.registry} refused ${this.credentials ? `the credentials of '${this.credentials.username}'` : 'anonymous access'} for ${scope} (${response.status})`,
        {
          hint: this.credentials
            ? 'check the username and password (or token) for this registry'
            : 'this registry needs credentials: give a username and password',
        },
      );
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new ImageError(
        'registry-error',
        'remote-error',
        `the token service ${url.origin} of ${this.registry} answered ${response.status}`,
        { retryable: response.status >= 500 },
      );
    }
    let body: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      body = (await response.json()) as typeof body;
    } catch {
      throw new ImageError(
        'registry-error',
        'remote-error',
        `the token service of ${this.registry} sent no JSON`,
      );
    }
    const token = typeof body.token === 'string' ? body.token : body.access_token;
    if (typeof token !== 'string' || token === '') {
      throw new ImageError(
        'registry-error',
        'remote-error',
        `the token service of ${this.registry} sent no token`,
      );
    }
    // The spec's default lifetime is 60 s; renew 10 s early.
    const lifetime = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
    this.cache.set(scope, { token, expiresAt: this.now() + Math.max(1, lifetime - 10) * 1000 });
    return token;
  }
}
