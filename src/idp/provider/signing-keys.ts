/**
 * The provider's token signing keys (ES256, RFC 7518 §3.4), kept in the directory so every
 * node and every restart signs with the same keys.
 *
 * Life of a key: created → published in JWKS at once → signs from `activatesAt` → retired
 * (stops signing) when its successor activates → removed from JWKS at `expiresAt`, which is
 * the retirement plus the longest lifetime of anything it signed. A verifier that cached the
 * JWKS therefore sees a new key before any token carries it, and can verify every token an
 * old key signed until that token expires (reliability.md C19).
 *
 * oidc-provider builds its keystore once, at construction, and signs with the first key that
 * fits the algorithm (lib/helpers/keystore.js: a stable sort by a score that ties for our
 * keys, lib/models/id_token.js takes element 0; JWT access tokens name the kid through the
 * resource server's `jwt.sign.kid`). So the signer goes first and the running provider is
 * rebuilt whenever the set or the signer changes (identity-provider.ts `reloadKeys`).
 */
import { createHash, generateKeyPairSync, hkdfSync } from 'node:crypto';
import { PgkeyError } from '../../errors/pgkey-error.ts';
import type { Clock } from '../../runtime/clock.ts';
import type { Directory, SigningKey, SigningKeyStore } from '../../store/directory.ts';

/**
 * Publication before signing: longer than the gateway's default JWKS cache (10m) plus the
 * provider's own key poll, so no verifier meets the new kid before it could have fetched it.
 */
export const DEFAULT_ACTIVATION_DELAY_MS = 15 * 60_000;

export interface ProviderKeys {
  /** Private JWKs for oidc-provider's `jwks`, the signing key first. */
  readonly jwks: { readonly keys: readonly Readonly<Record<string, unknown>>[] };
  readonly signingKid: string;
  /** Every kid in JWKS, signer first. */
  readonly publishedKids: readonly string[];
  /** Cookie signing keys derived from the signing keys, current first (Keygrip order). */
  readonly cookieKeys: readonly string[];
  /** Next instant a key activates, retires or expires: the provider must be rebuilt then. */
  readonly nextChangeAt: number | undefined;
}

/** RFC 7638 JWK thumbprint of a P-256 public key: a stable, unique `kid`. */
function thumbprint(jwk: { crv: string; x: string; y: string }): string {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: 'EC', x: jwk.x, y: jwk.y });
  return createHash('sha256').update(canonical).digest('base64url');
}

export function createSigningKey(now: number, activatesAt: number): SigningKey {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' }) as { crv: string; x: string; y: string };
  const kid = thumbprint(jwk);
  return {
    kid,
    privateJwk: { ...jwk, kid, alg: 'ES256', use: 'sig' },
    createdAt: now,
    activatesAt,
    retiredAt: undefined,
    expiresAt: undefined,
  };
}

const published = (key: SigningKey, now: number): boolean =>
  key.expiresAt === undefined || key.expiresAt > now;

const signsAt = (key: SigningKey, now: number): boolean =>
  key.activatesAt <= now && (key.retiredAt === undefined || key.retiredAt > now);

/** Latest activation first; creation time and kid break ties so every node agrees. */
function newestFirst(a: SigningKey, b: SigningKey): number {
  return b.activatesAt - a.activatesAt || b.createdAt - a.createdAt || (a.kid < b.kid ? 1 : -1);
}

/**
 * A cookie key per signing key (HKDF, RFC 5869): every node derives the same keys from the
 * shared directory, and they rotate with the signing keys. The info string keeps them apart
 * from any other use of the key material.
 */
function cookieKey(key: SigningKey): string {
  const d = key.privateJwk.d;
  if (typeof d !== 'string') throw malformed(key.kid);
  const okm = hkdfSync('sha256', Buffer.from(d, 'base64url'), 'pgkey', `cookies ${key.kid}`, 32);
  return Buffer.from(okm).toString('base64url');
}

function malformed(kid: string): PgkeyError {
  return new PgkeyError('ERR_INTERNAL', {
    message: `signing key ${kid} in the directory is not a private P-256 JWK`,
    reason: 'signing_key_malformed',
  });
}

/** The keys the provider should hold at `now`, or undefined when none may sign. */
export function selectProviderKeys(
  keys: readonly SigningKey[],
  now: number,
): ProviderKeys | undefined {
  const live = keys.filter((key) => published(key, now)).sort(newestFirst);
  const signer = live.find((key) => signsAt(key, now));
  if (signer === undefined) return undefined;
  const ordered = [signer, ...live.filter((key) => key !== signer)];
  const changes = live
    .flatMap((key) => [key.activatesAt, key.retiredAt, key.expiresAt])
    .filter((at): at is number => at !== undefined && at > now);
  return Object.freeze({
    jwks: { keys: ordered.map((key) => ({ ...key.privateJwk, kid: key.kid })) },
    signingKid: signer.kid,
    publishedKids: ordered.map((key) => key.kid),
    cookieKeys: ordered.map(cookieKey),
    nextChangeAt: changes.length === 0 ? undefined : Math.min(...changes),
  });
}

/**
 * Keys for a provider starting or reloading now. Prunes keys past `expiresAt`; on first
 * start (or if every key lapsed) generates one that signs at once.
 */
export async function loadProviderKeys(
  store: SigningKeyStore,
  clock: Clock,
): Promise<ProviderKeys> {
  const now = clock.now();
  await store.prune(now);
  const existing = selectProviderKeys(await store.list(), now);
  if (existing !== undefined) return existing;
  await store.add(createSigningKey(now, now));
  const created = selectProviderKeys(await store.list(), now);
  if (created === undefined) throw new PgkeyError('ERR_INTERNAL', { reason: 'no_signing_key' });
  return created;
}

export interface RotateSigningKeysOptions {
  readonly directory: Pick<Directory, 'signingKeys'>;
  readonly clock: Clock;
  /** How long the new key is published before it signs; default 15 minutes. */
  readonly activationDelayMs?: number;
  /** Longest lifetime of a signed token plus skew (settings.ts `longestTokenLifetimeMs`). */
  readonly tokenLifetimeMs: number;
}

export interface RotationResult {
  readonly kid: string;
  readonly activatesAt: number;
  readonly retired: readonly { kid: string; retiredAt: number; expiresAt: number }[];
}

/**
 * `pgkey idp rotate-keys`: adds a key that activates after the delay and retires every key
 * not yet retired at that same instant, so exactly one key signs at any time. A running
 * provider picks the change up at its next key poll and switches at `activatesAt`.
 */
export async function rotateSigningKeys(
  options: RotateSigningKeysOptions,
): Promise<RotationResult> {
  const { signingKeys } = options.directory;
  const delay = options.activationDelayMs ?? DEFAULT_ACTIVATION_DELAY_MS;
  if (!Number.isSafeInteger(delay) || delay < 0 || !(options.tokenLifetimeMs > 0)) {
    throw new PgkeyError('ERR_USAGE', {
      message: 'activation delay and token lifetime must be non-negative milliseconds',
      reason: 'rotation_invalid',
    });
  }
  const now = options.clock.now();
  const current = (await signingKeys.list()).filter(
    (key) => published(key, now) && key.retiredAt === undefined,
  );
  const key = createSigningKey(now, now + delay);
  await signingKeys.add(key);
  const retired = current.map((old) => ({
    kid: old.kid,
    retiredAt: key.activatesAt,
    expiresAt: key.activatesAt + options.tokenLifetimeMs,
  }));
  for (const old of retired) await signingKeys.retire(old.kid, old.retiredAt, old.expiresAt);
  return { kid: key.kid, activatesAt: key.activatesAt, retired };
}
