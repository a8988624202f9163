// Attestation trust and the authenticator policy (reliability.md D26; fido-oidc.md §3.4,
// §4.1 "verified ≠ trusted"), MDS statements and status reports, and what a sign-in then
// claims as acr/amr (OpenID EAP ACR Values: phrh only for a proven device-bound key).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ZERO_AAGUID } from '../../../src/idp/webauthn/aaguid-names.ts';
import { assuranceOf } from '../../../src/idp/webauthn/assurance.ts';
import {
  createAttestationCa,
  selfSignedAttestation,
  SOFT_AAGUID,
  SoftAuthenticator,
  type AttestationCa,
  type AttestationIssuer,
  type SoftAuthenticatorOptions,
} from '../../support/soft-authenticator.ts';
import type { Harness } from './fixtures.ts';
import { ORIGIN, harness, newUser, refused, register, signIn } from './fixtures.ts';
import { mdsMetadata } from './mds-fixtures.ts';

const OTHER_AAGUID = '0a0a0a0a-1111-4222-8333-444444444444';
let h: Harness;
let ca: AttestationCa;
let strangerCa: AttestationCa;

before(async () => {
  h = await harness();
  ca = await createAttestationCa('trusted vendor root');
  strangerCa = await createAttestationCa('unknown vendor root');
});
after(async () => {
  await h.close();
});

const strict = () =>
  h.withSettings({
    policy: { attestation: 'direct', requireAttested: true, trustedRoots: [ca.certPem] },
  });

const hardwareKey = (options: SoftAuthenticatorOptions = {}) =>
  new SoftAuthenticator({ attestation: 'packed-x5c', attestationIssuer: ca, ...options });

async function enrol(ceremonies = strict(), key = hardwareKey(), name?: string) {
  const user = await newUser(h.directory);
  const { challengeId, options } = await ceremonies.beginRegistration(user, {});
  const response = await key.create(options, { origin: ORIGIN });
  return ceremonies.finishRegistration(challengeId, response, name === undefined ? {} : { name });
}

describe('attestation: trusted', () => {
  it('a packed x5c chain to a configured root is attested', async () => {
    const ceremonies = strict();
    const { options } = await ceremonies.beginRegistration(await newUser(h.directory), {});
    assert.equal(options.attestation, 'direct');
    const { credential } = await enrol(ceremonies);
    assert.equal(credential.attested, true);
    assert.equal(credential.attestationFormat, 'packed');
  });

  it('a packed x5c chain to the MDS statement roots of its AAGUID is attested', async () => {
    const withMds = h.withSettings({
      policy: {
        attestation: 'direct',
        requireAttested: true,
        mds: mdsMetadata([
          { aaguid: SOFT_AAGUID, description: 'Soft Key 5', roots: [ca.certBase64] },
        ]),
      },
    });
    const { credential } = await enrol(withMds);
    assert.equal(credential.attested, true);
    assert.equal(credential.name, 'Soft Key 5');
  });

  it('MDS roots only vouch for their own AAGUID', async () => {
    const withMds = h.withSettings({
      policy: {
        attestation: 'direct',
        requireAttested: true,
        mds: mdsMetadata([{ aaguid: SOFT_AAGUID, roots: [ca.certBase64] }]),
      },
    });
    await refused(
      enrol(withMds, hardwareKey({ aaguid: OTHER_AAGUID })),
      'ERR_WEBAUTHN_NOT_ALLOWED',
      'attestation_untrusted',
    );
  });
});

describe('attestation: not trusted under requireAttested (D26)', () => {
  const cases: [string, () => SoftAuthenticator][] = [
    ['fmt none', () => new SoftAuthenticator({ attestation: 'none' })],
    ['packed self attestation', () => new SoftAuthenticator({ attestation: 'packed-self' })],
    ['a self-signed x5c', () => hardwareKey({ attestationIssuer: selfSignedAttestation })],
    ['an x5c from an unknown root', () => hardwareKey({ attestationIssuer: strangerCa })],
    ['a zero AAGUID, even with a trusted chain', () => hardwareKey({ aaguid: ZERO_AAGUID })],
  ];
  for (const [name, key] of cases) {
    it(`refuses ${name}`, async () => {
      const error = await refused(
        enrol(strict(), key()),
        'ERR_WEBAUTHN_NOT_ALLOWED',
        'attestation_untrusted',
      );
      assert.equal(error.httpStatus, 403);
      assert.ok(error.hint !== undefined);
    });
  }

  it('refuses an x5c that carries its own self-signed root (GHSA-6hxq-p678-4hr2)', async () => {
    const withOwnRoot: AttestationIssuer = {
      certify: async (key, aaguid) => [
        ...(await strangerCa.certify(key, aaguid)),
        Buffer.from(strangerCa.certBase64, 'base64'),
      ],
    };
    await refused(
      enrol(strict(), hardwareKey({ attestationIssuer: withOwnRoot })),
      'ERR_WEBAUTHN_NOT_ALLOWED',
      'attestation_untrusted',
    );
  });

  it('accepts an x5c that ends with the trusted root itself', async () => {
    const withRoot: AttestationIssuer = {
      certify: async (key, aaguid) => [
        ...(await ca.certify(key, aaguid)),
        Buffer.from(ca.certBase64, 'base64'),
      ],
    };
    const { credential } = await enrol(strict(), hardwareKey({ attestationIssuer: withRoot }));
    assert.equal(credential.attested, true);
  });

  it('refuses an x5c holding PEM text instead of DER', async () => {
    const pemText: AttestationIssuer = {
      certify: async (key, aaguid) =>
        (await ca.certify(key, aaguid)).map((der) =>
          Buffer.from(
            `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64')}\n-----END CERTIFICATE-----\n`,
          ),
        ),
    };
    await refused(
      enrol(strict(), hardwareKey({ attestationIssuer: pemText })),
      'ERR_WEBAUTHN_REGISTRATION',
      'attestation_invalid',
    );
  });

  it('without requireAttested the same keys enrol, recorded as not attested', async () => {
    const lenient = h.withSettings({
      policy: { attestation: 'direct', trustedRoots: [ca.certPem] },
    });
    for (const key of [
      new SoftAuthenticator({ attestation: 'packed-self' }),
      hardwareKey({ attestationIssuer: selfSignedAttestation }),
      hardwareKey({ aaguid: ZERO_AAGUID }),
    ]) {
      const { credential } = await enrol(lenient, key);
      assert.equal(credential.attested, false);
    }
    assert.equal((await enrol(lenient)).credential.attested, true);
  });
});

describe('attestation: AAGUID allowlist and MDS status', () => {
  it('allows listed models and refuses others', async () => {
    const listed = h.withSettings({
      policy: {
        attestation: 'direct',
        requireAttested: true,
        trustedRoots: [ca.certPem],
        aaguids: [SOFT_AAGUID.toUpperCase()],
      },
    });
    await enrol(listed);
    await refused(
      enrol(listed, hardwareKey({ aaguid: OTHER_AAGUID })),
      'ERR_WEBAUTHN_NOT_ALLOWED',
      'aaguid_not_allowed',
    );
  });

  for (const status of ['REVOKED', 'ATTESTATION_KEY_COMPROMISE', 'USER_VERIFICATION_BYPASS']) {
    it(`refuses a model whose MDS status is ${status}`, async () => {
      const revoked = h.withSettings({
        policy: {
          mds: mdsMetadata([
            { aaguid: SOFT_AAGUID, statusReports: [{ status: 'FIDO_CERTIFIED_L1' }, { status }] },
          ]),
        },
      });
      await refused(
        enrol(revoked, new SoftAuthenticator()),
        'ERR_WEBAUTHN_NOT_ALLOWED',
        'authenticator_status',
      );
    });
  }

  it('ignores a status report that is not yet in effect', async () => {
    const later = h.withSettings({
      policy: {
        mds: mdsMetadata([
          {
            aaguid: SOFT_AAGUID,
            statusReports: [{ status: 'REVOKED', effectiveDate: '2099-01-01' }],
          },
        ]),
      },
    });
    await enrol(later, new SoftAuthenticator());
  });

  it('a model revoked after enrolment can no longer sign in', async () => {
    const user = await newUser(h.directory);
    const key = new SoftAuthenticator();
    await register(h.ceremonies, user, key);
    const revoked = h.withSettings({
      policy: {
        mds: mdsMetadata([{ aaguid: SOFT_AAGUID, statusReports: [{ status: 'REVOKED' }] }]),
      },
    });
    await refused(signIn(revoked, key), 'ERR_WEBAUTHN_AUTHENTICATION', 'authenticator_status');
  });
});

describe('acr and amr', () => {
  const lenient = () =>
    h.withSettings({ policy: { attestation: 'direct', trustedRoots: [ca.certPem] } });

  async function loginWith(key: SoftAuthenticator) {
    const ceremonies = lenient();
    const user = await newUser(h.directory);
    await register(ceremonies, user, key);
    return signIn(ceremonies, key);
  }

  it('BE=0 and attested: phrh, hwk', async () => {
    const result = await loginWith(hardwareKey());
    assert.deepEqual(
      {
        acr: result.acr,
        amr: result.amr,
        deviceBound: result.deviceBound,
        attested: result.attested,
      },
      { acr: 'phrh', amr: ['pop', 'hwk', 'user', 'mfa'], deviceBound: true, attested: true },
    );
  });

  it('BE=0 and not attested: phr, no claim about where the key lives', async () => {
    const result = await loginWith(new SoftAuthenticator());
    assert.deepEqual(
      { acr: result.acr, amr: result.amr },
      { acr: 'phr', amr: ['pop', 'user', 'mfa'] },
    );
  });

  it('BE=1 (a synced passkey), even attested: phr, swk', async () => {
    const result = await loginWith(hardwareKey({ backupEligible: true, backupState: true }));
    assert.deepEqual(
      {
        acr: result.acr,
        amr: result.amr,
        deviceBound: result.deviceBound,
        attested: result.attested,
      },
      { acr: 'phr', amr: ['pop', 'swk', 'user', 'mfa'], deviceBound: false, attested: true },
    );
  });

  it('the full table', () => {
    const rows: [boolean, boolean, boolean, string, string[]][] = [
      // deviceBound, attested, userVerified → acr, amr
      [true, true, true, 'phrh', ['pop', 'hwk', 'user', 'mfa']],
      [true, true, false, 'phrh', ['pop', 'hwk', 'user']],
      [true, false, true, 'phr', ['pop', 'user', 'mfa']],
      [false, true, true, 'phr', ['pop', 'swk', 'user', 'mfa']],
      [false, false, false, 'phr', ['pop', 'swk', 'user']],
    ];
    for (const [deviceBound, attested, userVerified, acr, amr] of rows) {
      assert.deepEqual(assuranceOf({ deviceBound, attested, userVerified }), { acr, amr });
    }
  });
});
