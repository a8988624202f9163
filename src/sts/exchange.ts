/**
 * `POST /v1/token`: OAuth 2.0 Token Exchange (RFC 8693) for AI agents and other programs a
 * person lets act for them. The request (§2.1, form-encoded):
 *
 *   grant_type=urn:ietf:params:oauth:grant-type:token-exchange
 *   subject_token=<the person's access token>
 *   subject_token_type=urn:ietf:params:oauth:token-type:access_token
 *   actor_token=<agent name>   actor_token_type=urn:pgkey:params:oauth:token-type:agent-name
 *   [requested_token_type=urn:ietf:params:oauth:token-type:access_token]
 *   [audience=<the gateway's audience>]  [expires_in=<seconds>, pgkey's extension]
 *
 * The subject token must be a person's FIDO2 login (verified by the gateway's verifier, so
 * revoked keys and disabled accounts are refused), fresh within `exchange.fresh_auth` when
 * set. The answer (§2.2.1) is a short token for the same person with `act.sub` =
 * `agent:<name>` (§4.1): the gateway sees a `delegated` identity that only rules naming the
 * agent (`match.actor`) or `kind: delegated` match. It never outlives the person's token.
 * `scope` and `resource` are ignored: what the token opens is the policy's business.
 */
import { PgkeyError } from '../errors/pgkey-error.ts';
import {
  ACCESS_TOKEN_TYPE,
  AGENT_NAME_TOKEN_TYPE,
  TOKEN_EXCHANGE_GRANT,
  type ExchangeResponse,
} from './api-types.ts';
import { actorOf, lifetime, name, requireFresh, requirePerson, usage } from './caller-checks.ts';
import type { StsContext } from './context.ts';
import type { AuditClient } from '../audit/events.ts';
import { AGENT_ACTOR_PREFIX, agentTokenClaims } from './token-claims.ts';

function required(form: ReadonlyMap<string, string>, parameter: string): string {
  const value = form.get(parameter);
  if (value === undefined || value === '') throw usage(`${parameter} is required`);
  return value;
}

export async function exchangeToken(
  ctx: StsContext,
  form: ReadonlyMap<string, string>,
  client: AuditClient,
): Promise<ExchangeResponse> {
  const settings = ctx.settings();
  const grantType = required(form, 'grant_type');
  if (grantType !== TOKEN_EXCHANGE_GRANT) {
    throw new PgkeyError('ERR_GRANT_UNSUPPORTED', {
      message: `grant_type must be ${TOKEN_EXCHANGE_GRANT}`,
      reason: 'unsupported_grant_type',
    });
  }
  if (required(form, 'subject_token_type') !== ACCESS_TOKEN_TYPE) {
    throw usage(`subject_token_type must be ${ACCESS_TOKEN_TYPE}`);
  }
  if (required(form, 'actor_token_type') !== AGENT_NAME_TOKEN_TYPE) {
    throw usage(`actor_token_type must be ${AGENT_NAME_TOKEN_TYPE} (the agent's name)`);
  }
  const requested = form.get('requested_token_type');
  if (requested !== undefined && requested !== ACCESS_TOKEN_TYPE) {
    throw usage(`requested_token_type must be ${ACCESS_TOKEN_TYPE}`);
  }
  // RFC 8693 §2.2.2: an audience this service does not issue for is `invalid_target`.
  const audience = form.get('audience');
  if (audience !== undefined && audience !== settings.audience) {
    throw new PgkeyError('ERR_TARGET_INVALID', {
      message: `this service issues tokens for audience ${JSON.stringify(settings.audience)} only`,
      reason: 'invalid_target',
    });
  }
  const agent = name(form.get('actor_token'), 'actor_token (the agent name)');
  // `expires_in` in seconds (pgkey's extension; RFC 8693 has no lifetime parameter).
  const ttlMs = lifetime(
    form.get('expires_in'),
    settings.exchange.defaultTtlMs,
    settings.exchange.maxTtlMs,
    'token_service.exchange.max_ttl',
  );

  const person = await ctx.verify(required(form, 'subject_token'));
  requirePerson(person, 'hand a token to an agent');
  const now = ctx.clock.now();
  if (settings.exchange.freshAuthMs !== undefined) {
    requireFresh(person, settings.exchange.freshAuthMs, now, 'handing a token to an agent');
  }
  const left = person.expiresAt - now;
  if (left < 1000) throw usage('the subject token expires within a second; log in again');
  const signed = await ctx.signer.sign(agentTokenClaims(person, agent), Math.min(ttlMs, left));
  await ctx.audit.emit({
    type: 'token.exchanged',
    actor: actorOf(person),
    issuer: person.issuerName,
    ...(person.credentialId !== undefined && { credential_id: person.credentialId }),
    subject: person.subject,
    jti: signed.jti,
    agent: `${AGENT_ACTOR_PREFIX}${agent}`,
    expires: new Date(signed.expiresAt).toISOString(),
    client,
  });
  return {
    access_token: signed.token,
    issued_token_type: ACCESS_TOKEN_TYPE,
    token_type: 'Bearer',
    expires_in: (signed.expiresAt - signed.issuedAt) / 1000,
  };
}
