/**
 * The client half of the authorization code flow with PKCE (RFC 6749 §4.1, RFC 7636) for
 * the native client `pgkey-cli` (RFC 8252): discovery, the authorization request, the code
 * exchange. Shared by the headless login driver and the demo's browser login helper; what
 * `pgkey login` will do with a real browser.
 */
import { createHash, randomBytes } from 'node:crypto';
import { PgkeyError } from '../errors/pgkey-error.ts';
import { CLI_CLIENT_ID } from '../idp/provider/settings.ts';

export interface Discovery {
  readonly issuer: string;
  readonly authorization_endpoint: string;
  readonly token_endpoint: string;
}

export interface AuthorizationRequest {
  /** Where to send the browser. */
  readonly url: string;
  /** Must come back unchanged with the code (RFC 6749 §10.12). */
  readonly state: string;
  /** The PKCE secret for the code exchange. */
  readonly verifier: string;
  readonly redirectUri: string;
  readonly clientId: string;
}

export interface LoginTokens {
  readonly accessToken: string;
  readonly idToken: string | undefined;
  readonly refreshToken: string | undefined;
  /** Seconds, as the token endpoint said. */
  readonly expiresIn: number;
}

export const DEFAULT_SCOPE = 'openid email groups';

export async function discover(issuer: string): Promise<Discovery> {
  const response = await fetch(`${issuer}/.well-known/openid-configuration`);
  const document = (await response.json().catch(() => ({}))) as Partial<Discovery>;
  // OpenID Connect Discovery 1.0 §4.3: the document's issuer must be the one we asked.
  if (
    response.status !== 200 ||
    document.issuer !== issuer ||
    typeof document.authorization_endpoint !== 'string' ||
    typeof document.token_endpoint !== 'string'
  ) {
    throw new PgkeyError('ERR_INTERNAL', {
      message: `no usable OpenID discovery document at ${issuer} (HTTP ${response.status})`,
      reason: 'discovery_failed',
    });
  }
  return {
    issuer,
    authorization_endpoint: document.authorization_endpoint,
    token_endpoint: document.token_endpoint,
  };
}

export function authorizationRequest(
  discovery: Discovery,
  input: {
    readonly redirectUri: string;
    readonly clientId?: string;
    readonly scope?: string;
    readonly params?: Readonly<Record<string, string>>;
  },
): AuthorizationRequest {
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const clientId = input.clientId ?? CLI_CLIENT_ID;
  const url = new URL(discovery.authorization_endpoint);
  url.search = new URLSearchParams({
    client_id: clientId,
    redirect_uri: input.redirectUri,
    response_type: 'code',
    scope: input.scope ?? DEFAULT_SCOPE,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    state,
    ...input.params,
  }).toString();
  return { url: url.href, state, verifier, redirectUri: input.redirectUri, clientId };
}

/** The code from the redirect back, after checking `state`; ERR_TOKEN_INVALID otherwise. */
export function codeFromCallback(callback: URL, request: AuthorizationRequest): string {
  const error = callback.searchParams.get('error');
  if (error !== null) {
    const description = callback.searchParams.get('error_description') ?? '';
    throw new PgkeyError('ERR_TOKEN_INVALID', {
      message: `authorization refused: ${error}${description === '' ? '' : ` (${description})`}`,
      reason: error,
    });
  }
  const code = callback.searchParams.get('code');
  if (code === null || callback.searchParams.get('state') !== request.state) {
    throw new PgkeyError('ERR_TOKEN_INVALID', {
      message: 'the redirect back carried no code or the wrong state',
      reason: 'callback_invalid',
    });
  }
  return code;
}

/** RFC 6749 §4.1.3 for a public client: client_id in the body, the PKCE verifier, no secret. */
export async function exchangeCode(
  discovery: Discovery,
  request: AuthorizationRequest,
  code: string,
): Promise<LoginTokens> {
  const response = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: request.clientId,
      code,
      redirect_uri: request.redirectUri,
      code_verifier: request.verifier,
    }),
  });
  const tokens = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (response.status !== 200 || typeof tokens.access_token !== 'string') {
    const error = typeof tokens.error === 'string' ? tokens.error : 'token_request_failed';
    const description =
      typeof tokens.error_description === 'string' ? tokens.error_description : '';
    throw new PgkeyError('ERR_TOKEN_INVALID', {
      message: `the token endpoint answered ${response.status} ${error}${description === '' ? '' : `: ${description}`}`,
      reason: error,
    });
  }
  return {
    accessToken: tokens.access_token,
    idToken: typeof tokens.id_token === 'string' ? tokens.id_token : undefined,
    refreshToken: typeof tokens.refresh_token === 'string' ? tokens.refresh_token : undefined,
    expiresIn: typeof tokens.expires_in === 'number' ? tokens.expires_in : 0,
  };
}

/** The claims of a JWT, unverified: for printing what the gateway will check. */
export function jwtClaims(token: string): {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
} {
  const [header = '', payload = ''] = token.split('.');
  const decode = (part: string) =>
    JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
  return { header: decode(header), payload: decode(payload) };
}
