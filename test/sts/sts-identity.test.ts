import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configSchema, type IssuerConfig } from '../../src/config/schema.ts';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';
import type { Identity } from '../../src/identity/identity.ts';
import { stsIdentity } from '../../src/sts/sts-identity.ts';
import { agentTokenClaims, serviceTokenClaims } from '../../src/sts/token-claims.ts';

/**
 * The token service's claims, written (token-claims.ts) and read back (sts-identity.ts):
 * an agent token is the person, judged by the issuer they signed in with; a service token
 * is a workload restricted to its grant, carrying its minter.
 */
const issuer = (input: Record<string, unknown>): IssuerConfig =>
  configSchema.shape.issuers.element.parse({ audience: 'pgkey', ...input });

const STS = issuer({ name: 'pgkey-sts', issuer: 'https://sts.example.com', profile: 'builtin' });
const OKTA = issuer({
  name: 'corp',
  issuer: 'https://corp.okta.com',
  profile: 'okta',
  groups_claim: 'roles',
});
const CI = issuer({ name: 'ci', issuer: 'https://ci.example.com', profile: 'workload' });
const NOW_S = 1_750_000_000;

const ann: Identity = {
  issuerName: 'corp',
  issuer: OKTA.issuer,
  subject: '00u1ann',
  kind: 'human',
  email: 'ann@example.com',
  groups: ['analytics'],
  authTime: (NOW_S - 60) * 1000,
  acr: undefined,
  amr: ['pop'],
  fido2: true,
  credentialId: undefined,
  aaguid: undefined,
  deviceBound: undefined,
  attested: undefined,
  userVerified: undefined,
  actor: undefined,
  tokenId: 'okta-jti',
  issuedAt: NOW_S * 1000,
  expiresAt: (NOW_S + 600) * 1000,
  claims: {
    iss: OKTA.issuer,
    sub: '00u1ann',
    aud: 'pgkey',
    iat: NOW_S,
    exp: NOW_S + 600,
    jti: 'okta-jti',
    cid: 'cli',
    scp: ['openid'],
    amr: ['pop'],
    auth_time: NOW_S - 60,
    email: 'ann@example.com',
    roles: ['analytics'],
    department: 'finance',
    cnf: { jkt: 'x' },
  },
};

/** What the signer adds around the builder's claims. */
const signed = (claims: Record<string, unknown>, jti = 'sts-jti') => ({
  ...claims,
  iss: STS.issuer,
  aud: 'pgkey',
  iat: NOW_S + 1,
  exp: NOW_S + 301,
  jti,
  client_id: 'pgkey-cli',
});

describe('token service claims', () => {
  it('an agent token copies the person’s claims, not the original token’s bindings', () => {
    const claims = agentTokenClaims(ann, 'report-bot');
    assert.deepEqual(claims, {
      cid: 'cli',
      amr: ['pop'],
      auth_time: NOW_S - 60,
      email: 'ann@example.com',
      roles: ['analytics'],
      department: 'finance',
      sub: '00u1ann',
      act: { sub: 'agent:report-bot' },
      pgkey_subject_iss: OKTA.issuer,
    });
  });

  it('reads an agent token back as the person, delegated, by their issuer’s profile', () => {
    const identity = stsIdentity(STS, [OKTA, CI], signed(agentTokenClaims(ann, 'report-bot')));
    assert.equal(identity.issuerName, 'corp');
    assert.equal(identity.issuer, OKTA.issuer);
    assert.equal(identity.subject, '00u1ann');
    assert.equal(identity.kind, 'delegated');
    assert.equal(identity.actor, 'agent:report-bot');
    assert.deepEqual(identity.groups, ['analytics'], 'through the issuer’s groups_claim');
    assert.equal(identity.fido2, true, 'okta profile: amr pop');
    assert.equal(identity.authTime, (NOW_S - 60) * 1000);
    assert.equal(identity.tokenId, 'sts-jti');
    assert.equal(identity.expiresAt, (NOW_S + 301) * 1000);
    assert.equal(identity.claims.department, 'finance');
  });

  it('refuses an agent token whose person’s issuer is no longer trusted', () => {
    assert.throws(
      () => stsIdentity(STS, [CI], signed(agentTokenClaims(ann, 'report-bot'))),
      (error) => isPgkeyError(error, 'ERR_ISSUER_UNKNOWN'),
    );
    const forged = { ...agentTokenClaims(ann, 'x'), pgkey_subject_iss: CI.issuer };
    assert.throws(
      () => stsIdentity(STS, [OKTA, CI], signed(forged)),
      (error) => isPgkeyError(error, 'ERR_ISSUER_UNKNOWN'),
      'never a workload issuer',
    );
  });

  it('reads a service token as a workload restricted to its grant, with its minter', () => {
    const grant = { database: 'app', role: 'deployer', rule: 'deployers' };
    const identity = stsIdentity(STS, [OKTA], signed(serviceTokenClaims('ci-deploy', grant, ann)));
    assert.equal(identity.issuerName, 'pgkey-sts');
    assert.equal(identity.subject, 'svc:ci-deploy');
    assert.equal(identity.kind, 'workload');
    assert.equal(identity.fido2, false);
    assert.deepEqual(identity.groups, []);
    assert.equal(identity.email, undefined);
    assert.deepEqual(identity.restrictedTo, grant);
    assert.deepEqual(identity.mintedBy, {
      issuer: OKTA.issuer,
      subject: '00u1ann',
      email: 'ann@example.com',
      credentialId: undefined,
    });
  });

  it('refuses what it does not issue', () => {
    const invalid = (claims: Record<string, unknown>) =>
      assert.throws(
        () => stsIdentity(STS, [OKTA], signed(claims)),
        (error) => isPgkeyError(error, 'ERR_TOKEN_INVALID'),
        JSON.stringify(claims),
      );
    invalid({ sub: 'alice' });
    invalid({ sub: 'svc:x', pgkey_grant: { database: 'app', role: 'r' }, minted_by: {} });
    invalid({ sub: 'svc:x', pgkey_grant: 'app', minted_by: { issuer: 'i', sub: 's' } });
    invalid({
      sub: 'alice',
      pgkey_grant: { database: 'app', role: 'r', rule: 'x' },
      minted_by: { issuer: 'i', sub: 's' },
    });
    invalid({ ...agentTokenClaims(ann, 'x'), act: { sub: 'someone' } });
  });
});
