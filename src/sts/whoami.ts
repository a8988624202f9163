/**
 * `GET /v1/whoami`: who the gateway takes the bearer token's holder for, and every database
 * and role it would open for them right now — the same verification (revocations included)
 * and the same decision a login gets, asked once per (database, role) pair the policy names.
 * `*` stays `*` (any database). `pgkey status` shows it; `pgkey psql` picks a role from it.
 */
import type { Identity } from '../identity/identity.ts';
import type { WhoamiResponse } from './api-types.ts';
import type { StsContext } from './context.ts';

const iso = (ms: number | undefined): string | null =>
  ms === undefined ? null : new Date(ms).toISOString();

/** Every (database, role) pair a rule names, in rule order, once. */
function candidatePairs(ctx: StsContext, identity: Identity): { database: string; role: string }[] {
  if (identity.restrictedTo !== undefined) return [identity.restrictedTo];
  const seen = new Set<string>();
  const pairs: { database: string; role: string }[] = [];
  for (const rule of ctx.policy()) {
    for (const database of rule.databases) {
      for (const role of rule.roles) {
        const key = JSON.stringify([database, role]);
        if (seen.has(key)) continue;
        seen.add(key);
        pairs.push({ database, role });
      }
    }
  }
  return pairs;
}

export function whoami(ctx: StsContext, identity: Identity): WhoamiResponse {
  const grants = candidatePairs(ctx, identity).flatMap((request) => {
    const decision = ctx.authorize(identity, request);
    return decision.allowed ? [{ ...request, rule: decision.rule }] : [];
  });
  return {
    identity: {
      issuer: identity.issuer,
      subject: identity.subject,
      email: identity.email ?? null,
      groups: identity.groups,
      kind: identity.kind,
      actor: identity.actor ?? null,
      fido2: identity.fido2,
      auth_time: iso(identity.authTime),
      expires_at: new Date(identity.expiresAt).toISOString(),
      credential_id: identity.credentialId ?? null,
    },
    grants,
  };
}
