/**
 * A person's identity as the gateway sees it after a verified FIDO2 token: the one fixture
 * the policy, provisioning and token-service tests build their cases from.
 */
import type { Identity } from '../../src/identity/identity.ts';

const MINUTE = 60_000;

/** Ann, in `analytics`, logged in with a key 5 minutes before `now`; token good 10 more. */
export function personIdentity(now: number, overrides: Partial<Identity> = {}): Identity {
  return {
    issuerName: 'corp',
    issuer: 'https://idp.example.com',
    subject: '00u1ann',
    kind: 'human',
    email: 'ann@example.com',
    groups: ['analytics'],
    authTime: now - 5 * MINUTE,
    acr: 'phr',
    amr: ['pop'],
    fido2: true,
    credentialId: undefined,
    aaguid: undefined,
    deviceBound: undefined,
    attested: undefined,
    userVerified: undefined,
    actor: undefined,
    tokenId: undefined,
    issuedAt: undefined,
    expiresAt: now + 10 * MINUTE,
    claims: {},
    ...overrides,
  };
}
