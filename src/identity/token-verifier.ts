/**
 * Token verification: raw token string → {@link Identity}, or a PgkeyError saying what is wrong
 * with the caller's token. Order (DESIGN.md "Token"; reliability.md §7 B10–B18):
 *
 * 1. shape: size cap, compact JWS, protected header checks (token-shape.ts), before any I/O;
 * 2. issuer chosen by the unverified `iss`, exact match (RFC 8725 §3.8);
 * 3. jose `jwtVerify` with the issuer's algorithms, `iss`, `aud`, `typ`, required claims and the
 *    injected clock; keys only from the issuer's configured source (issuer-keys.ts);
 * 4. `iat` not in the future (jose checks it only with maxTokenAge);
 * 5. claims → Identity (claim-profiles.ts), and FIDO2 evidence required for people.
 *
 * Client-visible messages describe the token, never echo its bytes, and keep library text in
 * `cause` (STYLE.md §5).
 */
import { errors, jwtVerify, type JWTVerifyOptions } from 'jose';
import type { IssuerConfig } from '../config/schema.ts';
import { PgkeyError } from '../errors/pgkey-error.ts';
import type { Clock } from '../runtime/clock.ts';
import { silentLogger, type Logger } from '../runtime/logger.ts';
import { JWS_ALGORITHMS } from './algorithms.ts';
import { toIdentity } from './claim-profiles.ts';
import type { Identity } from './identity.ts';
import { createKeySource, type KeySource } from './issuer-keys.ts';
import { inspectToken } from './token-shape.ts';

export interface TokenVerifier {
  verify(token: string): Promise<Identity>;
}

export interface TokenVerifierOptions {
  readonly issuers: readonly IssuerConfig[];
  readonly clock: Clock;
  /** Injectable for tests; default globalThis.fetch. */
  readonly fetch?: typeof globalThis.fetch;
  readonly logger?: Logger;
  /** Metrics hook: one call per discovery/JWKS fetch attempt. */
  readonly onKeyFetch?: (issuerName: string, outcome: 'ok' | 'error' | 'stale') => void;
  /** Issuers pgkey runs itself (the token service): trusted without config entries. */
  readonly internal?: readonly InternalIssuer[];
}

/**
 * An issuer inside this process (src/sts): its keys come from memory, not a URL or a file,
 * and its own claims mapping replaces the profile's. The FIDO2 rule still applies to what
 * the mapping returns (people need evidence; workloads do not).
 */
export interface InternalIssuer {
  readonly config: IssuerConfig;
  readonly keys: KeySource;
  readonly toIdentity: (claims: Readonly<Record<string, unknown>>) => Identity;
}

interface TrustedIssuer {
  readonly config: IssuerConfig;
  readonly keys: KeySource;
  readonly toIdentity?: InternalIssuer['toIdentity'];
}

/** RFC 9068 §2.1: the builtin IdP issues JWT access tokens, so an ID token (`JWT`) is refused. */
const BUILTIN_TYP = 'at+jwt';
/** Registered claims (RFC 7519 §4.1) every accepted token carries (RFC 9068 §2.2). */
const REQUIRED_CLAIMS = ['iss', 'aud', 'exp', 'sub'] as const;
const ALLOWED_ALGS: ReadonlySet<string> = new Set(JWS_ALGORITHMS);

export async function createTokenVerifier(options: TokenVerifierOptions): Promise<TokenVerifier> {
  const { clock } = options;
  const keyOptions = {
    clock,
    fetch: options.fetch ?? globalThis.fetch,
    logger: options.logger ?? silentLogger,
    onKeyFetch: options.onKeyFetch,
  };
  const trusted = new Map<string, TrustedIssuer>();
  for (const config of options.issuers) {
    if (trusted.has(config.issuer)) {
      throw new PgkeyError('ERR_CONFIG', {
        message: `issuers "${config.name}": issuer ${config.issuer} is configured twice`,
        reason: 'issuer_duplicate',
      });
    }
    const bad = config.algorithms.find((alg) => !ALLOWED_ALGS.has(alg));
    if (bad !== undefined) {
      throw new PgkeyError('ERR_CONFIG', {
        message: `issuers "${config.name}": algorithm ${bad} is not allowed (asymmetric only)`,
        reason: 'issuer_algorithm_invalid',
      });
    }
    trusted.set(config.issuer, { config, keys: await createKeySource(config, keyOptions) });
  }
  for (const internal of options.internal ?? []) {
    if (trusted.has(internal.config.issuer)) {
      throw new PgkeyError('ERR_CONFIG', {
        message: `issuer ${internal.config.issuer} is pgkey's own (${internal.config.name}); remove it from issuers`,
        reason: 'issuer_duplicate',
      });
    }
    trusted.set(internal.config.issuer, internal);
  }
  return { verify: (token) => verifyToken(token, trusted, clock) };
}

async function verifyToken(
  token: string,
  trusted: ReadonlyMap<string, TrustedIssuer>,
  clock: Clock,
): Promise<Identity> {
  const shape = inspectToken(token);
  const issuer = trusted.get(shape.issuer);
  if (issuer === undefined) {
    throw new PgkeyError('ERR_ISSUER_UNKNOWN', {
      message: 'token rejected: its issuer (iss) is not trusted by this gateway',
      hint: 'Log in through an identity provider this gateway is configured to trust.',
      reason: 'issuer_unknown',
      cause: { iss: shape.issuer.slice(0, 200) },
    });
  }
  const { config } = issuer;
  if (!config.algorithms.includes(shape.alg as (typeof config.algorithms)[number])) {
    throw reject('token_alg_forbidden', 'signature algorithm not accepted for this issuer');
  }
  const skewSeconds = config.clock_skew / 1000;
  const typ = config.typ ?? (config.profile === 'builtin' ? BUILTIN_TYP : undefined);
  const verifyOptions: JWTVerifyOptions = {
    algorithms: [...config.algorithms],
    issuer: config.issuer,
    audience: typeof config.audience === 'string' ? config.audience : [...config.audience],
    requiredClaims: [...REQUIRED_CLAIMS],
    clockTolerance: skewSeconds,
    currentDate: new Date(clock.now()),
    ...(config.max_token_age !== undefined && { maxTokenAge: config.max_token_age / 1000 }),
    ...(typ !== undefined && { typ }),
  };
  let payload: Readonly<Record<string, unknown>>;
  try {
    ({ payload } = await jwtVerify(
      token,
      (header, jws) => issuer.keys.getKey(header, jws),
      verifyOptions,
    ));
  } catch (error) {
    throw rejection(error, config, typ);
  }
  // RFC 7519 §4.1.6 sets no rule for a future `iat`, and jose checks it only with maxTokenAge.
  // A token from the future means a broken or hostile issuer clock: refused like `nbf`.
  if (typeof payload.iat === 'number' && payload.iat * 1000 > clock.now() + config.clock_skew) {
    throw notYetValid();
  }
  const identity = issuer.toIdentity?.(payload) ?? toIdentity(config, payload);
  if (identity.kind !== 'workload' && !identity.fido2) {
    throw new PgkeyError('ERR_FIDO2_REQUIRED', {
      message: 'token rejected: it does not show a FIDO2 (security key or passkey) login',
      hint: 'Log in again with your security key or passkey, then use the new token.',
      reason: 'fido2_missing',
    });
  }
  return identity;
}

function reject(reason: string, message: string, hint?: string, cause?: unknown): PgkeyError {
  return new PgkeyError('ERR_TOKEN_INVALID', {
    message: `token rejected: ${message}`,
    hint,
    reason,
    cause,
  });
}

function notYetValid(cause?: unknown): PgkeyError {
  return reject(
    'token_not_yet_valid',
    'not valid yet (issued in the future)',
    'Check the clock on the system that issued the token.',
    cause,
  );
}

const NAMED_CLAIMS = new Set(['iss', 'aud', 'exp', 'sub', 'iat', 'nbf']);

/** jose errors → our codes. jose's own message goes to `cause` only. */
function rejection(error: unknown, config: IssuerConfig, typ: string | undefined): PgkeyError {
  if (error instanceof PgkeyError) return error; // from the key source
  const renew = 'Get a new token and connect again.';
  if (error instanceof errors.JWTExpired) {
    if (error.claim === 'iat') return reject('token_too_old', 'issued too long ago', renew, error);
    return new PgkeyError('ERR_TOKEN_EXPIRED', {
      message: 'token rejected: expired',
      hint: renew,
      reason: 'token_expired',
      cause: error,
    });
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    const claim = NAMED_CLAIMS.has(error.claim) ? error.claim : 'a required';
    if (error.reason === 'missing')
      return reject('token_claims_invalid', `missing ${claim} claim`, undefined, error);
    switch (error.claim) {
      case 'aud': {
        const wanted =
          typeof config.audience === 'string' ? config.audience : config.audience.join(' or ');
        return reject(
          'token_audience_invalid',
          `audience does not include ${wanted}`,
          undefined,
          error,
        );
      }
      case 'typ':
        return reject(
          'token_typ_invalid',
          `typ must be ${typ ?? 'the configured type'}`,
          'Use an access token, not an ID token.',
          error,
        );
      case 'nbf':
      case 'iat':
        return error.reason === 'check_failed'
          ? notYetValid(error)
          : reject('token_claims_invalid', `${claim} claim is malformed`, undefined, error);
      case 'iss':
        return new PgkeyError('ERR_ISSUER_UNKNOWN', {
          message: 'token rejected: its issuer (iss) is not trusted by this gateway',
          reason: 'issuer_unknown',
          cause: error,
        });
      default:
        return reject('token_claims_invalid', `${claim} claim is malformed`, undefined, error);
    }
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return reject('token_signature_invalid', 'signature does not verify', undefined, error);
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported) {
    return reject(
      'token_alg_forbidden',
      'signature algorithm not accepted for this issuer',
      undefined,
      error,
    );
  }
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) {
    return reject('token_malformed', 'not a well-formed signed JWT', undefined, error);
  }
  if (error instanceof errors.JWKInvalid || error instanceof errors.JWKSInvalid) {
    // The issuer published a key jose cannot use; not the client's fault.
    return new PgkeyError('ERR_KEYS_UNAVAILABLE', { reason: 'keys_unavailable', cause: error });
  }
  return reject('token_invalid', 'it could not be verified', undefined, error);
}
