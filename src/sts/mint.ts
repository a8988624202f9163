/**
 * `POST /v1/tokens`: a person mints a service token for one database and role.
 *
 * The person must have signed in with a security key within `token_service.mint.fresh_auth`
 * (RFC 9470 step-up otherwise), the gateway's policy must grant *them* that database and
 * role right now, and the lifetime stays within `mint.max_ttl`. The token's subject is
 * `svc:<name>`; it records who minted it and with which key (`minted_by`) and opens exactly
 * the granted pair (`pgkey_grant`, enforced by gateway/token-grant.ts). A record goes to the
 * directory (for listing and revocation) and `token.minted` to the audit trail before the
 * token is handed out; if the audit cannot be written, the token is revoked at once.
 */
import { PgkeyError } from '../errors/pgkey-error.ts';
import type { MintResponse } from './api-types.ts';
import {
  actorOf,
  lifetime,
  name,
  pgName,
  requireFresh,
  requirePerson,
  usage,
} from './caller-checks.ts';
import type { Caller, StsContext } from './context.ts';
import { mintedTokenJson } from './minted-tokens.ts';
import { SERVICE_SUBJECT_PREFIX, serviceTokenClaims } from './token-claims.ts';

const FIELDS = new Set(['name', 'database', 'role', 'ttl']);
/** Records of tokens expired this long ago are pruned when the next one is minted. */
const KEEP_EXPIRED_MS = 7 * 86_400_000;

export async function mintServiceToken(
  ctx: StsContext,
  caller: Caller,
  body: Readonly<Record<string, unknown>>,
): Promise<MintResponse> {
  const settings = ctx.settings();
  const { identity } = caller;
  requirePerson(identity, 'mint service tokens');
  const unknown = Object.keys(body).find((field) => !FIELDS.has(field));
  if (unknown !== undefined) {
    throw usage(`unknown field ${JSON.stringify(unknown)} (expected name, database, role, ttl)`);
  }
  const service = name(body.name, 'name');
  const database = pgName(body.database, 'database');
  const role = pgName(body.role, 'role');
  if (database === '*') throw usage('a service token opens one named database, not "*"');
  const ttlMs = lifetime(
    body.ttl,
    settings.mint.defaultTtlMs,
    settings.mint.maxTtlMs,
    'token_service.mint.max_ttl',
  );
  const now = ctx.clock.now();
  requireFresh(identity, settings.mint.freshAuthMs, now, 'minting a service token');

  const decision = ctx.authorize(identity, { database, role });
  if (!decision.allowed) {
    throw new PgkeyError(decision.code, {
      message: decision.message,
      hint: decision.hint,
      reason: decision.reason,
    });
  }
  const grant = { database, role, rule: decision.rule };
  const signed = await ctx.signer.sign(serviceTokenClaims(service, grant, identity), ttlMs);
  const record = await ctx.directory.mintedTokens.add({
    id: signed.jti,
    name: service,
    database,
    role,
    mintedBy: {
      issuer: identity.issuer,
      subject: identity.subject,
      email: identity.email,
      credentialId: identity.credentialId,
    },
    createdAt: signed.issuedAt,
    expiresAt: signed.expiresAt,
  });
  try {
    await ctx.audit.emit({
      type: 'token.minted',
      actor: actorOf(identity),
      issuer: identity.issuerName,
      ...(identity.credentialId !== undefined && { credential_id: identity.credentialId }),
      subject: `${SERVICE_SUBJECT_PREFIX}${service}`,
      jti: signed.jti,
      name: service,
      database,
      role,
      expires: new Date(signed.expiresAt).toISOString(),
      client: caller.client,
    });
  } catch (error) {
    // Fail closed (docs/decisions/0005): a token nobody can trace must not exist.
    await ctx.directory.mintedTokens
      .revoke(signed.jti, 'pgkey', 'the audit trail could not record it', now)
      .catch((cause: unknown) =>
        ctx.logger.error({ err: cause }, 'could not revoke an unaudited token'),
      );
    throw error;
  }
  ctx.directory.mintedTokens
    .prune(now - KEEP_EXPIRED_MS)
    .catch((error: unknown) => ctx.logger.warn({ err: error }, 'pruning minted tokens failed'));
  return {
    access_token: signed.token,
    token_type: 'Bearer',
    expires_in: (signed.expiresAt - signed.issuedAt) / 1000,
    token: mintedTokenJson(record, now),
  };
}
