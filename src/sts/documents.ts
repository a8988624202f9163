/**
 * The token service's public documents:
 *
 * - `/.well-known/pgkey-configuration`: what `pgkey login <url>` writes into a profile —
 *   where people log in, the CLI's client id, where the gateway listens (and, when the
 *   operator publishes it, the CA its certificate chains to), and this service;
 * - `/.well-known/openid-configuration` (OpenID Connect Discovery 1.0 §3, RFC 8414 §2):
 *   enough for a verifier of this service's tokens — `issuer`, `jwks_uri` — and for a
 *   token-exchange client — `token_endpoint` and the grant it takes;
 * - `/jwks.json`: the public keys (RFC 7517 §5).
 */
import type { JSONWebKeySet } from 'jose';
import { PgkeyError } from '../errors/pgkey-error.ts';
import { STS_PATHS, TOKEN_EXCHANGE_GRANT, type BootstrapDocument } from './api-types.ts';
import type { StsContext } from './context.ts';
import { TOKEN_CLIENT_ID } from './token-signer.ts';

export function bootstrapDocument(ctx: StsContext): BootstrapDocument {
  const settings = ctx.settings();
  if (settings.loginIssuer === undefined) {
    throw new PgkeyError('ERR_NOT_FOUND', {
      message: 'this gateway trusts no identity provider for people (only workload issuers)',
      reason: 'no_login_issuer',
    });
  }
  return {
    issuer: settings.loginIssuer,
    client_id: TOKEN_CLIENT_ID,
    gateway: { host: settings.gateway.host, port: settings.gateway.port ?? ctx.gatewayPort() },
    ...(settings.gatewayCaPem !== undefined && { gateway_ca_pem: settings.gatewayCaPem }),
    token_service: settings.issuer,
  };
}

export function discoveryDocument(ctx: StsContext): Record<string, unknown> {
  const { issuer } = ctx.settings();
  return {
    issuer,
    jwks_uri: `${issuer}${STS_PATHS.jwks}`,
    token_endpoint: `${issuer}${STS_PATHS.token}`,
    grant_types_supported: [TOKEN_EXCHANGE_GRANT],
    // RFC 8693 §2.1: the person's token authenticates the request; there is no client secret.
    token_endpoint_auth_methods_supported: ['none'],
    response_types_supported: [],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['ES256'],
  };
}

export function jwksDocument(ctx: StsContext): JSONWebKeySet {
  return ctx.jwks();
}
