/**
 * Where an issuer's verification keys come from: a static JWKS file (air-gapped use, never any
 * network) or OIDC discovery + JWKS (OpenID Connect Discovery 1.0 §4) with our own cache.
 *
 * Not jose's createRemoteJWKSet: that fails verification when a refetch fails (fido-oidc.md
 * §4.4, reliability.md §1.3). This cache keeps jose's single-flight fetch, max age and unknown-
 * `kid` cooldown, adds stale-if-error (serve the last good keys while the IdP is down; fail closed
 * only when nothing was ever fetched), and backs off failed fetches for the cooldown so a flood of
 * unsigned tokens naming this issuer cannot turn into a flood of requests to the IdP. All ages
 * follow the injected clock.
 */
import { readFile, stat } from 'node:fs/promises';
import { createLocalJWKSet, errors, type FlattenedJWSInput, type JWSHeaderParameters } from 'jose';
import type { JSONWebKeySet, LocalJWKSet, CryptoKey } from 'jose';
import type { IssuerConfig } from '../config/schema.ts';
import { PgkeyError } from '../errors/pgkey-error.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Logger } from '../runtime/logger.ts';
import { isLoopbackHost } from '../runtime/loopback.ts';

/** Caps on what an IdP (or a file) can make us parse and hold. */
export const MAX_JWKS_BYTES = 1_048_576;
export const MAX_JWKS_KEYS = 100;
/** Private or symmetric members (RFC 7518 §6): a JWKS we verify with holds public keys only. */
const SECRET_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'] as const;

export interface KeySource {
  /** Resolves the key for a protected header; a jose key resolver (RFC 7515 §4.1.4 `kid`). */
  getKey(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey>;
}

export type KeyFetchOutcome = 'ok' | 'error' | 'stale';

export interface KeySourceOptions {
  readonly clock: Clock;
  readonly fetch: typeof globalThis.fetch;
  readonly logger: Logger;
  readonly onKeyFetch?: ((issuerName: string, outcome: KeyFetchOutcome) => void) | undefined;
}

/** jwks_file is read and validated now (fail fast); discovery waits for the first token. */
export async function createKeySource(
  issuer: IssuerConfig,
  options: KeySourceOptions,
): Promise<KeySource> {
  if (issuer.jwks_file !== undefined) return loadJwksFile(issuer, issuer.jwks_file);
  for (const [key, url] of [
    ['issuer', issuer.issuer],
    ['jwks_uri', issuer.jwks_uri],
  ] as const) {
    if (url !== undefined && !isSafeUrl(url)) {
      throw new PgkeyError('ERR_CONFIG', {
        message: `issuers "${issuer.name}": ${key} must be https:// (http:// only on loopback)`,
        reason: 'issuer_url_insecure',
      });
    }
  }
  return new RemoteKeySource(issuer, options);
}

async function loadJwksFile(issuer: IssuerConfig, path: string): Promise<KeySource> {
  const fail = (problem: string, cause?: unknown): PgkeyError =>
    new PgkeyError('ERR_CONFIG', {
      message: `issuers "${issuer.name}": jwks_file ${path}: ${problem}`,
      reason: 'jwks_file_invalid',
      cause,
    });
  let parsed: unknown;
  try {
    if ((await stat(path)).size > MAX_JWKS_BYTES) throw fail(`larger than ${MAX_JWKS_BYTES} bytes`);
    parsed = JSON.parse((await readFile(path)).toString('utf8'));
  } catch (cause) {
    if (cause instanceof PgkeyError) throw cause;
    const code = (cause as NodeJS.ErrnoException).code;
    throw fail(code === undefined ? 'is not valid JSON' : `cannot be read (${code})`, cause);
  }
  const problem = jwksProblem(parsed);
  if (problem !== undefined) throw fail(problem);
  // A fetched set may be briefly empty mid-rotation; a file that is empty can never verify.
  if ((parsed as JSONWebKeySet).keys.length === 0) throw fail('holds no keys');
  let resolver: LocalJWKSet;
  try {
    resolver = createLocalJWKSet(parsed as JSONWebKeySet);
  } catch (cause) {
    throw fail('not a valid JWKS', cause);
  }
  return { getKey: (header, token) => resolveKey(resolver, header, token) };
}

/**
 * Keys held by this process: the token service's own (src/sts). No file, no network; each
 * lookup asks `current()`, which returns the same object until the keys change, so jose's
 * key set is rebuilt only on rotation.
 */
export function memoryKeySource(current: () => JSONWebKeySet): KeySource {
  let seen: JSONWebKeySet | undefined;
  let resolver: LocalJWKSet | undefined;
  return {
    getKey(header, token) {
      const jwks = current();
      if (resolver === undefined || jwks !== seen) {
        resolver = createLocalJWKSet(jwks);
        seen = jwks;
      }
      return resolveKey(resolver, header, token);
    },
  };
}

function keyUnknown(message: string, cause?: unknown): PgkeyError {
  return new PgkeyError('ERR_TOKEN_INVALID', {
    message: `token rejected: ${message}`,
    hint: 'Get a new token; if this persists, the issuer may have rotated its keys.',
    reason: 'token_key_unknown',
    cause,
  });
}

/** jose's local set selects by `kid`, `alg`, `kty`, `use` and `key_ops`; ours names misses. */
async function resolveKey(
  resolver: LocalJWKSet,
  header: JWSHeaderParameters,
  token: FlattenedJWSInput,
): Promise<CryptoKey> {
  try {
    return await resolver(header, token);
  } catch (error) {
    if (error instanceof errors.JWKSNoMatchingKey) {
      throw keyUnknown('signed with a key the issuer does not publish', error);
    }
    if (error instanceof errors.JWKSMultipleMatchingKeys) {
      // RFC 7515 §4.1.4: without `kid` we would have to try every key; we do not guess.
      throw keyUnknown('the token has no kid and the issuer publishes several keys', error);
    }
    throw error;
  }
}

class RemoteKeySource implements KeySource {
  readonly #issuer: IssuerConfig;
  readonly #options: KeySourceOptions;
  #cached: { resolver: LocalJWKSet; fetchedAt: number } | undefined;
  #lastAttemptAt = Number.NEGATIVE_INFINITY;
  #pending: Promise<void> | undefined;

  constructor(issuer: IssuerConfig, options: KeySourceOptions) {
    this.#issuer = issuer;
    this.#options = options;
  }

  async getKey(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> {
    const { clock } = this.#options;
    const cached = this.#cached;
    if (cached === undefined || clock.now() - cached.fetchedAt >= this.#issuer.jwks_cache_max_age) {
      await this.#refresh();
    }
    const current = this.#current();
    try {
      return await resolveKey(current.resolver, header, token);
    } catch (error) {
      if (!(error instanceof PgkeyError) || error.reason !== 'token_key_unknown') throw error;
    }
    // An unknown kid may be a key rotated in since our last fetch. #refresh joins a fetch in
    // flight and otherwise fetches at most once per cooldown (jose's rule), so random kids
    // cannot each cost an IdP request.
    await this.#refresh();
    return resolveKey(this.#current().resolver, header, token);
  }

  #current(): { resolver: LocalJWKSet; fetchedAt: number } {
    if (this.#cached !== undefined) return this.#cached;
    throw new PgkeyError('ERR_KEYS_UNAVAILABLE', {
      hint: 'The gateway cannot reach the identity provider; try again shortly.',
      reason: 'keys_unavailable',
    });
  }

  /** Single-flight; never rejects: a failure leaves the old keys (or none) in place. */
  #refresh(): Promise<void> {
    if (this.#pending !== undefined) return this.#pending;
    const { clock } = this.#options;
    if (clock.now() - this.#lastAttemptAt < this.#issuer.jwks_cooldown) return Promise.resolve();
    this.#lastAttemptAt = clock.now();
    this.#pending = this.#fetchKeys()
      .then((resolver) => {
        this.#cached = { resolver, fetchedAt: clock.now() };
        this.#report('ok');
      })
      .catch((error: unknown) => this.#fetchFailed(error))
      .finally(() => {
        this.#pending = undefined;
      });
    return this.#pending;
  }

  #fetchFailed(error: unknown): void {
    const stale = this.#cached !== undefined;
    const reason = error instanceof PgkeyError ? error.reason : 'jwks_fetch_failed';
    this.#options.logger.warn(
      { issuer: this.#issuer.name, reason, err: error, stale },
      stale
        ? 'JWKS refetch failed; still using the keys fetched earlier'
        : 'JWKS fetch failed and no keys are cached; tokens from this issuer are refused',
    );
    this.#report(stale ? 'stale' : 'error');
  }

  #report(outcome: KeyFetchOutcome): void {
    this.#options.onKeyFetch?.(this.#issuer.name, outcome);
  }

  async #fetchKeys(): Promise<LocalJWKSet> {
    const { fetch } = this.#options;
    const timeout = this.#issuer.jwks_timeout;
    const jwksUri = this.#issuer.jwks_uri ?? (await this.#discover());
    const jwks = await fetchJson(fetch, jwksUri, timeout, 'jwks');
    const problem = jwksProblem(jwks);
    if (problem !== undefined) {
      throw new PgkeyError('ERR_KEYS_UNAVAILABLE', { reason: 'jwks_invalid', cause: problem });
    }
    try {
      return createLocalJWKSet(jwks as JSONWebKeySet);
    } catch (cause) {
      throw new PgkeyError('ERR_KEYS_UNAVAILABLE', { reason: 'jwks_invalid', cause });
    }
  }

  /** OpenID Connect Discovery 1.0 §4 (URL) and §4.3 (the issuer must match exactly). */
  async #discover(): Promise<string> {
    const configured = this.#issuer.issuer;
    const url = `${configured.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const doc = await fetchJson(this.#options.fetch, url, this.#issuer.jwks_timeout, 'discovery');
    const invalid = (problem: string): PgkeyError =>
      new PgkeyError('ERR_KEYS_UNAVAILABLE', { reason: 'discovery_invalid', cause: problem });
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
      throw invalid('discovery document is not a JSON object');
    }
    const { issuer, jwks_uri: jwksUri } = doc as Record<string, unknown>;
    if (issuer !== configured) {
      // §4.3: a mismatch means we are talking to the wrong (or an impersonating) provider.
      throw new PgkeyError('ERR_KEYS_UNAVAILABLE', {
        reason: 'discovery_issuer_mismatch',
        cause: 'discovery issuer differs from the configured issuer',
      });
    }
    if (typeof jwksUri !== 'string' || !isSafeUrl(jwksUri)) {
      throw invalid('jwks_uri is missing, or not https:// on a non-loopback host');
    }
    return jwksUri;
  }
}

/** https://, or http:// on a loopback host (127.0.0.0/8, ::1, localhost); no userinfo. */
export function isSafeUrl(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  if (url.username !== '' || url.password !== '') return false;
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && isLoopbackHost(url.hostname);
}

/** Why a parsed value is not an acceptable JWKS (RFC 7517 §5), or undefined when it is. */
export function jwksProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return 'not a JSON object';
  const { keys } = value as { keys?: unknown };
  if (!Array.isArray(keys)) return 'has no "keys" array';
  if (keys.length > MAX_JWKS_KEYS) return `holds more than ${MAX_JWKS_KEYS} keys`;
  const kids = new Set<string>();
  for (const [index, key] of keys.entries()) {
    if (typeof key !== 'object' || key === null || Array.isArray(key)) {
      return `keys[${index}] is not an object`;
    }
    const jwk = key as Record<string, unknown>;
    if (typeof jwk.kty !== 'string') return `keys[${index}] has no kty`;
    if (jwk.kty === 'oct') return `keys[${index}] is a symmetric (oct) key`;
    const secret = SECRET_MEMBERS.find((member) => Object.hasOwn(jwk, member));
    if (secret !== undefined) return `keys[${index}] holds private member "${secret}"`;
    if (jwk.kid !== undefined) {
      if (typeof jwk.kid !== 'string') return `keys[${index}] has a non-string kid`;
      // RFC 7517 §4.5 allows repeats across key types; we do not, so kid lookup is unambiguous.
      if (kids.has(jwk.kid)) return `kid "${jwk.kid.slice(0, 64)}" appears twice`;
      kids.add(jwk.kid);
    }
  }
  return undefined;
}

/**
 * GET a JSON document: no redirects (an open redirect would otherwise choose our keys), a
 * timeout covering headers and body, and the body capped before JSON.parse.
 */
export async function fetchJson(
  fetchImpl: typeof globalThis.fetch,
  url: string,
  timeoutMs: number,
  what: 'discovery' | 'jwks',
): Promise<unknown> {
  const failed = (kind: string, cause?: unknown): PgkeyError =>
    new PgkeyError('ERR_KEYS_UNAVAILABLE', { reason: `${what}_${kind}`, cause });
  const timedOut = (cause: unknown): boolean =>
    cause instanceof Error && (cause.name === 'TimeoutError' || cause.name === 'AbortError');
  try {
    const response = await fetchImpl(url, {
      redirect: 'error',
      signal: AbortSignal.timeout(timeoutMs),
      headers: { accept: 'application/json, application/jwk-set+json' },
    });
    if (response.status !== 200) {
      await response.body?.cancel();
      throw failed('http_status', `HTTP ${response.status}`);
    }
    const declared = Number(response.headers.get('content-length') ?? 0);
    if (declared > MAX_JWKS_BYTES) {
      await response.body?.cancel();
      throw failed('too_large');
    }
    const body = await readCapped(response, () => failed('too_large'));
    try {
      return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
    } catch (cause) {
      throw failed('invalid_json', cause);
    }
  } catch (cause) {
    if (cause instanceof PgkeyError) throw cause;
    throw failed(timedOut(cause) ? 'timeout' : 'unreachable', cause);
  }
}

/** Reads a response body, cancelling the stream as soon as it passes MAX_JWKS_BYTES. */
async function readCapped(response: Response, tooLarge: () => PgkeyError): Promise<Buffer> {
  const reader = (response.body as ReadableStream<Uint8Array> | null)?.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const next = await reader?.read();
    if (next === undefined || next.done) return Buffer.concat(chunks);
    size += next.value.byteLength;
    if (size > MAX_JWKS_BYTES) {
      await reader?.cancel();
      throw tooLarge();
    }
    chunks.push(next.value);
  }
}
