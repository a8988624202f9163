/**
 * The access token for a profile, fresh enough for what the caller is about to do. Every
 * client command (psql, env, token, connstr, status) and the tunnel get tokens here:
 *
 * 1. the cached token, when it has at least `minValidityMs` left;
 * 2. else a refresh with the cached refresh token (RFC 6749 §6) — single-flight within the
 *    process and, through a lock file, across processes (refresh tokens rotate; a reused one
 *    revokes the grant) — and the cache is rewritten;
 * 3. else ERR_LOGIN_REQUIRED with the `pgkey login` to run.
 *
 * A refreshed token keeps the original `auth_time` (fido-oidc.md §2.1): refreshing never
 * makes a login fresher, so policies with `fresh_auth` still send people back to their key.
 */
import { PgkeyError } from '../errors/pgkey-error.ts';
import { discoverProvider, oauthErrorCode, refreshTokens } from './oidc.ts';
import type { Profile } from './profiles.ts';
import { withFileLock } from './refresh-lock.ts';
import {
  accessTokenClaims,
  cacheEntry,
  readTokenCache,
  tokenCacheFile,
  writeTokenCache,
  type CachedTokens,
} from './token-cache.ts';

export interface FreshTokenOptions {
  /** The token must stay valid at least this long; otherwise it is refreshed. */
  readonly minValidityMs: number;
  readonly now?: () => number;
}

export interface FreshToken {
  readonly token: string;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
  /** The access token's claims (unverified; `{}` for an opaque token). */
  readonly claims: Record<string, unknown>;
}

/** In-flight refreshes by cache file: concurrent callers in one process share one. */
const inFlight = new Map<string, Promise<CachedTokens>>();

export async function freshAccessToken(
  profile: Profile,
  options: FreshTokenOptions,
): Promise<FreshToken> {
  const now = options.now ?? Date.now;
  const usable = (tokens: CachedTokens): boolean =>
    tokens.expires_at - now() >= options.minValidityMs;

  let cached = await readTokenCache(profile);
  if (cached === undefined || !usable(cached)) {
    const file = tokenCacheFile(profile);
    let refresh = inFlight.get(file);
    if (refresh === undefined) {
      refresh = refreshOnce(profile, now, usable).finally(() => inFlight.delete(file));
      inFlight.set(file, refresh);
    }
    cached = await refresh;
    // A token just refreshed is as fresh as this provider makes them, even when its whole
    // lifetime is shorter than minValidityMs.
    if (cached.expires_at <= now())
      throw loginRequired(profile, 'the provider issued an expired token');
  }
  return {
    token: cached.access_token,
    expiresAt: cached.expires_at,
    claims: accessTokenClaims(cached.access_token),
  };
}

async function refreshOnce(
  profile: Profile,
  now: () => number,
  usable: (tokens: CachedTokens) => boolean,
): Promise<CachedTokens> {
  return withFileLock(`${tokenCacheFile(profile)}.lock`, async () => {
    // Another process may have refreshed while we waited for the lock.
    const cached = await readTokenCache(profile);
    if (cached === undefined) throw loginRequired(profile, 'not logged in');
    if (usable(cached)) return cached;
    if (cached.refresh_token === undefined) {
      throw loginRequired(
        profile,
        cached.expires_at > now()
          ? 'the token expires soon and cannot be refreshed'
          : 'the token has expired',
      );
    }
    const provider = await discoverProvider(profile);
    let refreshed;
    try {
      refreshed = await refreshTokens(provider, cached.refresh_token);
    } catch (error) {
      const code = oauthErrorCode(error instanceof PgkeyError ? error.cause : error);
      if (code === 'invalid_grant') {
        // The grant is over (session limit, key revoked, logout elsewhere): drop the dead
        // refresh token so the next command does not try it again.
        await writeTokenCache(profile, { ...cached, refresh_token: undefined });
        throw loginRequired(profile, 'the provider ended this login (refresh refused)');
      }
      throw error;
    }
    const entry = cacheEntry(profile, refreshed, 'refresh', now(), cached);
    await writeTokenCache(profile, entry);
    return entry;
  });
}

export function loginRequired(profile: Pick<Profile, 'name'>, why: string): PgkeyError {
  return new PgkeyError('ERR_LOGIN_REQUIRED', {
    message: `profile "${profile.name}": ${why}`,
    hint: `pgkey login --profile ${profile.name}`,
    reason: 'login_required',
  });
}
