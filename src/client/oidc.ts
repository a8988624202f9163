/**
 * The one module that talks to OpenID providers, through `openid-client` v6 (built on
 * oauth4webapi; fido-oidc.md §4.3): discovery, the authorization request, the code grant
 * with PKCE, the device grant (RFC 8628), refresh and revocation (RFC 7009). Everything
 * else in src/client sees plain values and PgkeyErrors, never the library's types.
 *
 * Plain http is allowed only for issuers on this machine (localhost, 127/8, ::1), as the
 * gateway allows it for JWKS; every other issuer must be https.
 */
import * as client from 'openid-client';
import { PgkeyError } from '../errors/pgkey-error.ts';
import { isLoopbackHost } from '../runtime/loopback.ts';
import type { Profile } from './profiles.ts';

/** A discovered provider and our client at it. Opaque outside this module. */
export interface Provider {
  readonly issuer: string;
  readonly clientId: string;
  readonly deviceEndpoint: string | undefined;
  readonly revocationEndpoint: string | undefined;
  readonly config: client.Configuration;
}

/** A token endpoint response, normalized. */
export interface TokenResponse {
  readonly accessToken: string;
  readonly refreshToken: string | undefined;
  /** Seconds, as the provider said; undefined when it did not. */
  readonly expiresIn: number | undefined;
  readonly scope: string | undefined;
  readonly idTokenClaims: Readonly<Record<string, unknown>> | undefined;
}

export interface DeviceAuthorization {
  readonly userCode: string;
  readonly verificationUri: string;
  readonly verificationUriComplete: string | undefined;
  readonly expiresIn: number;
  /** For pollDevice; opaque. */
  readonly response: client.DeviceAuthorizationResponse;
}

/** Seconds allowed for each request to the provider. */
const TIMEOUT_SECONDS = 15;

export async function discoverProvider(
  profile: Pick<Profile, 'issuer' | 'client_id'>,
): Promise<Provider> {
  const issuer = new URL(profile.issuer);
  const insecure = issuer.protocol === 'http:' && isLoopbackHost(issuer.hostname);
  let config: client.Configuration;
  try {
    config = await client.discovery(issuer, profile.client_id, undefined, client.None(), {
      timeout: TIMEOUT_SECONDS,
      ...(insecure ? { execute: [client.allowInsecureRequests] } : {}),
    });
  } catch (error) {
    throw providerError(error, `OpenID discovery at ${profile.issuer}`);
  }
  const metadata = config.serverMetadata();
  return {
    issuer: metadata.issuer,
    clientId: profile.client_id,
    deviceEndpoint: metadata.device_authorization_endpoint,
    revocationEndpoint: metadata.revocation_endpoint,
    config,
  };
}

/** A PKCE verifier, its S256 challenge, and fresh `state` and `nonce`. */
export async function requestSecrets(): Promise<{
  verifier: string;
  challenge: string;
  state: string;
  nonce: string;
}> {
  const verifier = client.randomPKCECodeVerifier();
  return {
    verifier,
    challenge: await client.calculatePKCECodeChallenge(verifier),
    state: client.randomState(),
    nonce: client.randomNonce(),
  };
}

export function authorizationUrl(provider: Provider, params: Record<string, string>): string {
  return client.buildAuthorizationUrl(provider.config, params).href;
}

/** The redirect back (with `code`, `state`, `iss`) → tokens; checks state, nonce, max_age. */
export async function redeemCode(
  provider: Provider,
  callback: URL,
  checks: { verifier: string; state: string; nonce: string | undefined; maxAge?: number },
): Promise<TokenResponse> {
  try {
    const tokens = await client.authorizationCodeGrant(provider.config, callback, {
      pkceCodeVerifier: checks.verifier,
      expectedState: checks.state,
      ...(checks.nonce === undefined ? {} : { expectedNonce: checks.nonce }),
      ...(checks.maxAge === undefined ? {} : { maxAge: checks.maxAge }),
    });
    return normalize(tokens);
  } catch (error) {
    throw providerError(error, 'the code exchange');
  }
}

export async function startDeviceAuthorization(
  provider: Provider,
  params: Record<string, string>,
): Promise<DeviceAuthorization> {
  try {
    const response = await client.initiateDeviceAuthorization(provider.config, params);
    return {
      userCode: response.user_code,
      verificationUri: response.verification_uri,
      verificationUriComplete: response.verification_uri_complete,
      expiresIn: response.expires_in,
      response,
    };
  } catch (error) {
    throw providerError(error, 'the device authorization request');
  }
}

/** Polls the token endpoint at the provider's interval until approved, denied or expired. */
export async function pollDevice(
  provider: Provider,
  device: DeviceAuthorization,
  signal: AbortSignal,
): Promise<TokenResponse> {
  try {
    return normalize(
      await client.pollDeviceAuthorizationGrant(provider.config, device.response, undefined, {
        signal,
      }),
    );
  } catch (error) {
    throw providerError(error, 'the device login');
  }
}

export async function refreshTokens(
  provider: Provider,
  refreshToken: string,
): Promise<TokenResponse> {
  try {
    return normalize(await client.refreshTokenGrant(provider.config, refreshToken));
  } catch (error) {
    throw providerError(error, 'the token refresh');
  }
}

/** RFC 7009; the caller checks `revocationEndpoint` first. */
export async function revokeToken(provider: Provider, token: string): Promise<void> {
  try {
    await client.tokenRevocation(provider.config, token, { token_type_hint: 'refresh_token' });
  } catch (error) {
    throw providerError(error, 'the token revocation');
  }
}

function normalize(
  tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers,
): TokenResponse {
  const claims = tokens.claims();
  return {
    accessToken: tokens.access_token,
    refreshToken: tokens.refresh_token,
    expiresIn: tokens.expiresIn(),
    scope: tokens.scope,
    idTokenClaims: claims === undefined ? undefined : { ...claims },
  };
}

/** The OAuth `error` code of a provider's refusal, if that is what `error` is. */
export function oauthErrorCode(error: unknown): string | undefined {
  const cause = (error as { cause?: unknown } | undefined)?.cause;
  return error instanceof client.ResponseBodyError ||
    error instanceof client.AuthorizationResponseError
    ? error.error
    : cause instanceof client.ResponseBodyError ||
        cause instanceof client.AuthorizationResponseError
      ? cause.error
      : undefined;
}

/**
 * What went wrong, in words a person can act on: the provider's own error code and text,
 * a network failure (ERR_PROVIDER_UNAVAILABLE), or a response that failed a check.
 */
export function providerError(error: unknown, step: string): PgkeyError {
  if (error instanceof PgkeyError) return error;
  if (
    error instanceof client.ResponseBodyError ||
    error instanceof client.AuthorizationResponseError
  ) {
    const description = error.error_description === undefined ? '' : `: ${error.error_description}`;
    return new PgkeyError('ERR_LOGIN_FAILED', {
      message: `${step} was refused: ${error.error}${description}`,
      reason: error.error,
      cause: error,
    });
  }
  const network = networkProblem(error);
  if (network !== undefined) {
    return new PgkeyError('ERR_PROVIDER_UNAVAILABLE', {
      message: `${step} failed: the provider did not answer (${network})`,
      reason: 'provider_unreachable',
      cause: error,
    });
  }
  const cause = (error as { cause?: unknown }).cause;
  const detail = cause instanceof Error && cause.message !== '' ? cause.message : undefined;
  return new PgkeyError('ERR_LOGIN_FAILED', {
    message: `${step} failed: ${error instanceof Error ? error.message : String(error)}`,
    ...(detail === undefined ? {} : { detail }),
    reason: (error as { code?: string }).code ?? 'provider_response',
    cause: error,
  });
}

/** `ECONNREFUSED`, `timed out`, …: a failure to talk at all, found anywhere in the cause chain. */
function networkProblem(error: unknown): string | undefined {
  for (let at: unknown = error, depth = 0; at instanceof Error && depth < 6; depth++) {
    const code = (at as NodeJS.ErrnoException).code;
    if (at.name === 'TimeoutError' || at.name === 'AbortError') return 'timed out';
    if (typeof code === 'string' && /^(E[A-Z]+|UND_ERR_\w+)$/.test(code)) return code;
    if (at instanceof TypeError && at.message === 'fetch failed' && !(at.cause instanceof Error)) {
      return 'fetch failed';
    }
    at = at.cause;
  }
  return undefined;
}
