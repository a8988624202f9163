/**
 * The tokens `pgkey login` obtained, one file per profile:
 * `<config dir>/tokens/<profile>.json`, mode 0600 in a 0700 directory, replaced atomically.
 * It holds the access token, the refresh token, when the access token expires, and a summary
 * of the ID token (sub, email, auth_time, acr) for `pgkey status`; never the ID token itself.
 *
 * A cache that group or others can read is refused (`chmod 600`); one written for another
 * issuer or client (the profile was pointed elsewhere since) counts as no cache. Nothing
 * here logs or prints a token.
 */
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { z } from 'zod';
import { PgkeyError } from '../errors/pgkey-error.ts';
import type { TokenResponse } from './oidc.ts';
import { readPrivateFile, removeFile, writePrivateFile } from './private-files.ts';
import type { Profile } from './profiles.ts';

export interface IdentitySummary {
  readonly sub?: string | undefined;
  readonly email?: string | undefined;
  /** Seconds since the epoch, as in the ID token. */
  readonly auth_time?: number | undefined;
  readonly acr?: string | undefined;
}

export interface CachedTokens {
  readonly version: 1;
  readonly issuer: string;
  readonly client_id: string;
  readonly access_token: string;
  readonly refresh_token?: string | undefined;
  /** Milliseconds since the epoch. */
  readonly expires_at: number;
  readonly obtained_at: number;
  readonly scope?: string | undefined;
  /** How the tokens were obtained: `loopback`, `device` or `refresh`. */
  readonly via: 'loopback' | 'device' | 'refresh';
  readonly identity: IdentitySummary;
}

const cacheSchema = z.object({
  version: z.literal(1),
  issuer: z.string(),
  client_id: z.string(),
  access_token: z.string().min(1),
  refresh_token: z.string().min(1).optional(),
  expires_at: z.number(),
  obtained_at: z.number(),
  scope: z.string().optional(),
  via: z.enum(['loopback', 'device', 'refresh']),
  identity: z.object({
    sub: z.string().optional(),
    email: z.string().optional(),
    auth_time: z.number().optional(),
    acr: z.string().optional(),
  }),
});

export function tokenCacheFile(profile: Pick<Profile, 'home' | 'name'>): string {
  return join(profile.home, 'tokens', `${profile.name}.json`);
}

/** The profile's cached tokens; undefined when there are none (or they are for another issuer). */
export async function readTokenCache(
  profile: Pick<Profile, 'home' | 'name' | 'issuer' | 'client_id'>,
): Promise<CachedTokens | undefined> {
  const file = tokenCacheFile(profile);
  const text = await readPrivateFile(file, { secret: true });
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw corrupt(file);
  }
  const parsed = cacheSchema.safeParse(value);
  if (!parsed.success) throw corrupt(file);
  const cached = parsed.data;
  if (cached.issuer !== profile.issuer || cached.client_id !== profile.client_id) return undefined;
  return cached;
}

export async function writeTokenCache(
  profile: Pick<Profile, 'home' | 'name'>,
  tokens: CachedTokens,
): Promise<void> {
  await writePrivateFile(tokenCacheFile(profile), `${JSON.stringify(tokens, null, 2)}\n`);
}

/** Deletes the profile's cache; true when there was one. */
export async function removeTokenCache(profile: Pick<Profile, 'home' | 'name'>): Promise<boolean> {
  return removeFile(tokenCacheFile(profile));
}

function corrupt(file: string): PgkeyError {
  return new PgkeyError('ERR_LOGIN_REQUIRED', {
    message: `the token cache ${file} is damaged`,
    hint: 'pgkey login (it replaces the file)',
  });
}

/** Access tokens whose lifetime nobody told us are assumed to live this long. */
const ASSUMED_LIFETIME_MS = 5 * 60_000;

/**
 * A token response as a cache entry. `previous` is the entry a refresh replaces: a refresh
 * response may omit the refresh token (keep the old one) or the ID token (keep the login
 * summary — `auth_time` never changes on refresh anyway).
 */
export function cacheEntry(
  profile: Pick<Profile, 'issuer' | 'client_id'>,
  tokens: TokenResponse,
  via: CachedTokens['via'],
  now: number,
  previous?: CachedTokens,
): CachedTokens {
  const claims = accessTokenClaims(tokens.accessToken);
  const exp = typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
  const expiresAt =
    tokens.expiresIn !== undefined
      ? now + tokens.expiresIn * 1000
      : (exp ?? now + ASSUMED_LIFETIME_MS);
  const fromToken = identitySummary(tokens.idTokenClaims ?? claims);
  return {
    version: 1,
    issuer: profile.issuer,
    client_id: profile.client_id,
    access_token: tokens.accessToken,
    refresh_token: tokens.refreshToken ?? previous?.refresh_token,
    expires_at: expiresAt,
    obtained_at: now,
    scope: tokens.scope ?? previous?.scope,
    via,
    identity:
      tokens.idTokenClaims === undefined && previous !== undefined
        ? { ...fromToken, ...previous.identity }
        : fromToken,
  };
}

/**
 * The claims of a JWT access token, unverified — for showing the person who they are and
 * which groups they carry, never for a decision (the gateway verifies). `{}` for opaque tokens.
 */
export function accessTokenClaims(token: string): Record<string, unknown> {
  try {
    return decodeJwt(token);
  } catch {
    return {};
  }
}

/** What an ID token's claims say about the login, for the cache. */
export function identitySummary(claims: Readonly<Record<string, unknown>>): IdentitySummary {
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  return {
    sub: text(claims.sub),
    email: text(claims.email),
    auth_time: typeof claims.auth_time === 'number' ? claims.auth_time : undefined,
    acr: text(claims.acr),
  };
}
