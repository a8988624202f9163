// Claim profiles: what counts as FIDO2 evidence per IdP (fido-oidc.md §2.2), identity kinds,
// and the claim shapes we refuse. toIdentity is pure, so these run without keys or clocks.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configSchema, type ConfigInput } from '../../src/config/schema.ts';
import { toIdentity } from '../../src/identity/claim-profiles.ts';

type IssuerInput = ConfigInput['issuers'][number];

function issuer(overrides: Partial<IssuerInput> = {}) {
  return configSchema.shape.issuers.element.parse({
    name: 'idp',
    issuer: 'https://idp.example',
    audience: 'pgkey',
    profile: 'builtin',
    ...overrides,
  });
}

const base = { iss: 'https://idp.example', sub: 'alice', aud: 'pgkey', exp: 1_767_225_900 };
const claimsInvalid = {
  name: 'PgkeyError',
  code: 'ERR_TOKEN_INVALID',
  reason: 'token_claims_invalid',
};

void describe('builtin profile', () => {
  void it('accepts acr phrh as FIDO2 and treats it as device-bound', () => {
    const id = toIdentity(issuer(), {
      ...base,
      acr: 'phrh',
      amr: ['hwk', 'user'],
      auth_time: 1_767_225_000,
      jti: 't-1',
      credential_id: 'Y3JlZA',
      aaguid: 'ee882879-721c-4913-9775-3dfcce97072a',
    });
    assert.equal(id.fido2, true);
    assert.equal(id.kind, 'human');
    assert.equal(id.deviceBound, true);
    assert.equal(id.credentialId, 'Y3JlZA');
    assert.equal(id.aaguid, 'ee882879-721c-4913-9775-3dfcce97072a');
    assert.equal(id.authTime, 1_767_225_000_000);
    assert.equal(id.expiresAt, 1_767_225_900_000);
    assert.equal(id.tokenId, 't-1');
    assert.deepEqual(id.amr, ['hwk', 'user']);
    assert.equal(id.issuerName, 'idp');
  });

  void it('accepts acr phr (synced passkey) without claiming device binding', () => {
    const id = toIdentity(issuer(), { ...base, acr: 'phr' });
    assert.equal(id.fido2, true);
    assert.equal(id.deviceBound, undefined);
  });

  void it('lets an explicit device_bound claim win over the phrh default', () => {
    assert.equal(
      toIdentity(issuer(), { ...base, acr: 'phrh', device_bound: false }).deviceBound,
      false,
    );
    assert.throws(
      () => toIdentity(issuer(), { ...base, acr: 'phrh', device_bound: 'yes' }),
      claimsInvalid,
    );
  });

  void it('reads attested and user_verified; phrh implies attested, amr mfa implies UV', () => {
    const claimed = toIdentity(issuer(), {
      ...base,
      acr: 'phr',
      amr: ['pop', 'swk', 'user'],
      device_bound: false,
      attested: false,
      user_verified: false,
    });
    assert.deepEqual(
      [claimed.deviceBound, claimed.attested, claimed.userVerified],
      [false, false, false],
    );
    const implied = toIdentity(issuer(), { ...base, acr: 'phrh', amr: ['pop', 'hwk', 'mfa'] });
    assert.deepEqual(
      [implied.deviceBound, implied.attested, implied.userVerified],
      [true, true, true],
    );
    // The claims win over what acr and amr imply.
    const explicit = toIdentity(issuer(), {
      ...base,
      acr: 'phrh',
      amr: ['mfa'],
      attested: false,
      user_verified: false,
    });
    assert.deepEqual([explicit.attested, explicit.userVerified], [false, false]);
    const silent = toIdentity(issuer(), { ...base, acr: 'phr', amr: ['pop', 'user'] });
    assert.deepEqual(
      [silent.deviceBound, silent.attested, silent.userVerified],
      [undefined, undefined, undefined],
    );
    for (const claim of ['attested', 'user_verified']) {
      assert.throws(() => toIdentity(issuer(), { ...base, acr: 'phr', [claim]: 'true' }), {
        ...claimsInvalid,
        message: `token rejected: ${claim} claim must be a boolean`,
      });
    }
  });

  void it('does not count amr hwk or an MFA acr without phr/phrh', () => {
    assert.equal(toIdentity(issuer(), { ...base, amr: ['hwk'] }).fido2, false);
    assert.equal(toIdentity(issuer(), { ...base, acr: 'urn:okta:loa:2fa:any' }).fido2, false);
    assert.equal(toIdentity(issuer(), base).fido2, false);
  });

  void it('uses the issuer fido2 config instead of the profile default', () => {
    const custom = issuer({ fido2: { amr: ['hwk'] } });
    assert.equal(toIdentity(custom, { ...base, acr: 'phrh' }).fido2, false);
    assert.equal(toIdentity(custom, { ...base, amr: ['pwd', 'hwk'] }).fido2, true);
  });
});

void describe('okta, keycloak, entra and generic profiles', () => {
  void it('okta: amr pop or acr phr/phrh; credential claims are ignored', () => {
    const okta = issuer({ profile: 'okta' });
    const id = toIdentity(okta, { ...base, amr: ['pop'], credential_id: 'x', device_bound: true });
    assert.equal(id.fido2, true);
    assert.equal(id.credentialId, undefined);
    assert.equal(id.deviceBound, undefined);
    assert.equal(toIdentity(okta, { ...base, acr: 'phr' }).fido2, true);
    assert.equal(toIdentity(okta, { ...base, amr: ['mfa', 'swk'] }).fido2, false);
  });

  void it('no profile but builtin reports the key, whatever claims the token carries', () => {
    const keyClaims = {
      ...base,
      acr: 'phrh',
      amr: ['pop', 'hwk', 'mfa'],
      credential_id: 'x',
      aaguid: 'ee882879-721c-4913-9775-3dfcce97072a',
      device_bound: true,
      attested: true,
      user_verified: true,
      acrs: ['c1'],
    };
    for (const profile of ['okta', 'keycloak', 'entra', 'generic', 'workload'] as const) {
      const config =
        profile === 'entra' || profile === 'generic'
          ? issuer({ profile, fido2: { acrs: ['c1'], amr: ['hwk'] } })
          : issuer({ profile });
      const id = toIdentity(config, keyClaims);
      assert.deepEqual(
        [id.credentialId, id.aaguid, id.deviceBound, id.attested, id.userVerified],
        [undefined, undefined, undefined, undefined, undefined],
        profile,
      );
    }
  });

  void it('keycloak: amr hwk or pop, and acr alone is not enough', () => {
    const keycloak = issuer({ profile: 'keycloak' });
    assert.equal(toIdentity(keycloak, { ...base, amr: ['hwk'] }).fido2, true);
    assert.equal(toIdentity(keycloak, { ...base, amr: ['pop'] }).fido2, true);
    assert.equal(toIdentity(keycloak, { ...base, acr: 'phrh' }).fido2, false);
    assert.equal(toIdentity(keycloak, { ...base, amr: ['otp'] }).fido2, false);
  });

  void it('entra: no default rule; acrs authentication context when configured', () => {
    const bare = issuer({ profile: 'entra' });
    assert.equal(toIdentity(bare, { ...base, amr: ['fido', 'mfa'], acrs: ['c1'] }).fido2, false);
    const entra = issuer({ profile: 'entra', fido2: { acrs: ['c1'] } });
    assert.equal(toIdentity(entra, { ...base, acrs: ['c2', 'c1'] }).fido2, true);
    assert.equal(toIdentity(entra, { ...base, acrs: ['c2'] }).fido2, false);
    assert.throws(() => toIdentity(entra, { ...base, acrs: 'c1' }), claimsInvalid);
  });

  void it('entra: email falls back to preferred_username, then upn', () => {
    const entra = issuer({ profile: 'entra' });
    const both = { ...base, preferred_username: 'alice@corp', upn: 'a@upn' };
    assert.equal(toIdentity(entra, { ...both, email: 'alice@mail' }).email, 'alice@mail');
    assert.equal(toIdentity(entra, both).email, 'alice@corp');
    assert.equal(toIdentity(entra, { ...base, upn: 'a@upn' }).email, 'a@upn');
    // Other profiles never guess an e-mail address from a sign-in name.
    assert.equal(toIdentity(issuer({ profile: 'okta' }), both).email, undefined);
  });

  void it('generic: never FIDO2 without config; any configured list suffices', () => {
    assert.equal(toIdentity(issuer({ profile: 'generic' }), { ...base, acr: 'phrh' }).fido2, false);
    const generic = issuer({ profile: 'generic', fido2: { acr: ['gold'], amr: ['hwk'] } });
    assert.equal(toIdentity(generic, { ...base, acr: 'gold' }).fido2, true);
    assert.equal(toIdentity(generic, { ...base, amr: ['hwk'] }).fido2, true);
    assert.equal(toIdentity(generic, { ...base, acr: 'silver', amr: ['pwd'] }).fido2, false);
  });

  void it('reads e-mail and groups from the configured claims', () => {
    const custom = issuer({ profile: 'generic', email_claim: 'mail', groups_claim: 'roles' });
    const id = toIdentity(custom, {
      ...base,
      mail: 'a@x',
      email: 'no@x',
      roles: ['r1'],
      groups: ['g'],
    });
    assert.equal(id.email, 'a@x');
    assert.deepEqual(id.groups, ['r1']);
  });
});

void describe('identity kinds', () => {
  void it('workload: kind workload and never FIDO2, whatever the claims say', () => {
    const id = toIdentity(issuer({ profile: 'workload' }), { ...base, acr: 'phrh', amr: ['hwk'] });
    assert.equal(id.kind, 'workload');
    assert.equal(id.fido2, false);
    const configured = issuer({ profile: 'workload', fido2: { acr: ['phrh'] } });
    assert.equal(toIdentity(configured, { ...base, acr: 'phrh' }).fido2, false);
  });

  void it('delegated: act.sub becomes the actor (RFC 8693 §4.1)', () => {
    const id = toIdentity(issuer(), {
      ...base,
      acr: 'phrh',
      act: { sub: 'agent-7', act: { sub: 'x' } },
    });
    assert.equal(id.kind, 'delegated');
    assert.equal(id.actor, 'agent-7');
    assert.equal(id.subject, 'alice');
    assert.throws(() => toIdentity(issuer(), { ...base, act: 'agent-7' }), claimsInvalid);
    assert.throws(() => toIdentity(issuer(), { ...base, act: { sub: 7 } }), claimsInvalid);
  });

  void it('human otherwise', () => {
    assert.equal(toIdentity(issuer(), base).kind, 'human');
    assert.equal(toIdentity(issuer(), base).actor, undefined);
  });
});

void describe('claim shapes', () => {
  void it('groups: array, a single string, or absent', () => {
    assert.deepEqual(toIdentity(issuer(), { ...base, groups: ['a', 'b'] }).groups, ['a', 'b']);
    assert.deepEqual(toIdentity(issuer(), { ...base, groups: 'dba' }).groups, ['dba']);
    assert.deepEqual(toIdentity(issuer(), base).groups, []);
  });

  void it('groups: caps of 1000 entries × 256 characters are inclusive', () => {
    const max = Array.from({ length: 1000 }, (_, i) => `${i}`.padEnd(256, 'g'));
    assert.equal(toIdentity(issuer(), { ...base, groups: max }).groups.length, 1000);
    assert.throws(() => toIdentity(issuer(), { ...base, groups: [...max, 'x'] }), claimsInvalid);
    assert.throws(
      () => toIdentity(issuer(), { ...base, groups: ['g'.repeat(257)] }),
      claimsInvalid,
    );
  });

  for (const [label, groups] of [
    ['a number', 7],
    ['an object', { admin: true }],
    ['null', null],
    ['an array holding a number', ['a', 1]],
    ['an array holding an array', [['a']]],
  ] as const) {
    void it(`groups: ${label} is refused`, () => {
      assert.throws(() => toIdentity(issuer(), { ...base, groups }), claimsInvalid);
    });
  }

  for (const [label, claims] of [
    ['sub missing', { ...base, sub: undefined }],
    ['sub a number', { ...base, sub: 42 }],
    ['sub empty', { ...base, sub: '' }],
    ['exp missing', { ...base, exp: undefined }],
    ['exp a string', { ...base, exp: '1767225900' }],
    ['auth_time a string', { ...base, auth_time: 'yesterday' }],
    ['amr a string', { ...base, amr: 'hwk' }],
    ['acr a number', { ...base, acr: 3 }],
    ['email an array', { ...base, email: ['a@x'] }],
    ['jti an object', { ...base, jti: {} }],
  ] as const) {
    void it(`refuses ${label}`, () => {
      assert.throws(() => toIdentity(issuer(), claims), claimsInvalid);
    });
  }

  void it('does not mutate its input and returns a frozen identity', () => {
    const claims = { ...base, acr: 'phrh', groups: ['a'] };
    const copy = structuredClone(claims);
    const id = toIdentity(issuer(), claims);
    assert.deepEqual(claims, copy);
    assert.ok(Object.isFrozen(id) && Object.isFrozen(id.groups) && Object.isFrozen(id.claims));
    assert.equal(id.claims.acr, 'phrh');
  });
});
