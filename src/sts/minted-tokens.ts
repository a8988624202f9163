/**
 * Listing and revoking minted service tokens (`GET /v1/tokens`, `DELETE /v1/tokens/<jti>`).
 * People see and revoke the tokens they minted; members of the admin group
 * (`token_service.admin_group`, default `idp.admin_group`) see and revoke every token.
 * Revoking writes `token.revoked` to the directory's change feed: every gateway on it refuses
 * the token at login and ends its live sessions within a second (gateway/revocation.ts).
 */
import { PgkeyError } from '../errors/pgkey-error.ts';
import type { Identity } from '../identity/identity.ts';
import type { MintedToken } from '../store/directory.ts';
import type { MintedTokenJson, TokenListResponse } from './api-types.ts';
import { actorOf, requirePerson } from './caller-checks.ts';
import type { Caller, StsContext } from './context.ts';
import { SERVICE_SUBJECT_PREFIX } from './token-claims.ts';

const iso = (ms: number | undefined): string | null =>
  ms === undefined ? null : new Date(ms).toISOString();

export function mintedTokenJson(token: MintedToken, now: number): MintedTokenJson {
  return {
    jti: token.id,
    name: token.name,
    subject: `${SERVICE_SUBJECT_PREFIX}${token.name}`,
    database: token.database,
    role: token.role,
    minted_by: {
      issuer: token.mintedBy.issuer,
      sub: token.mintedBy.subject,
      email: token.mintedBy.email ?? null,
      credential_id: token.mintedBy.credentialId ?? null,
    },
    created_at: new Date(token.createdAt).toISOString(),
    expires_at: new Date(token.expiresAt).toISOString(),
    state:
      token.revokedAt !== undefined ? 'revoked' : token.expiresAt <= now ? 'expired' : 'active',
    revoked_at: iso(token.revokedAt),
    revoked_by: token.revokedBy ?? null,
    revoked_reason: token.revokedReason ?? null,
  };
}

function isAdmin(ctx: StsContext, identity: Identity): boolean {
  const group = ctx.settings().adminGroup;
  return group !== undefined && identity.groups.includes(group);
}

function isMinter(identity: Identity, token: MintedToken): boolean {
  return token.mintedBy.issuer === identity.issuer && token.mintedBy.subject === identity.subject;
}

export async function listMintedTokens(
  ctx: StsContext,
  caller: Caller,
): Promise<TokenListResponse> {
  const { identity } = caller;
  requirePerson(identity, 'list service tokens');
  const tokens = isAdmin(ctx, identity)
    ? await ctx.directory.mintedTokens.list()
    : await ctx.directory.mintedTokens.list({ issuer: identity.issuer, subject: identity.subject });
  const now = ctx.clock.now();
  return { tokens: tokens.map((token) => mintedTokenJson(token, now)) };
}

export async function revokeMintedToken(
  ctx: StsContext,
  caller: Caller,
  jti: string,
  reason: string | undefined,
): Promise<MintedTokenJson> {
  const { identity } = caller;
  requirePerson(identity, 'revoke service tokens');
  const found = await ctx.directory.mintedTokens.get(jti);
  // Someone else's token answers like an unknown one: ids are not for probing.
  if (found === undefined || !(isMinter(identity, found) || isAdmin(ctx, identity))) {
    throw new PgkeyError('ERR_NOT_FOUND', {
      message: 'no service token with this id among yours',
      hint: 'pgkey token list shows the ids of the tokens you minted',
      reason: 'token_not_found',
    });
  }
  const now = ctx.clock.now();
  const actor = actorOf(identity);
  const token = await ctx.directory.mintedTokens.revoke(jti, actor, reason ?? 'revoked', now);
  await ctx.audit.emit({
    type: 'token.revoked',
    actor,
    issuer: identity.issuerName,
    ...(identity.credentialId !== undefined && { credential_id: identity.credentialId }),
    subject: `${SERVICE_SUBJECT_PREFIX}${token.name}`,
    jti: token.id,
    name: token.name,
    database: token.database,
    role: token.role,
    expires: new Date(token.expiresAt).toISOString(),
    reason: token.revokedReason ?? reason ?? 'revoked',
    client: caller.client,
  });
  return mintedTokenJson(token, now);
}
