// The registration ceremony with the soft authenticator and the real sqlite directory:
// the happy path, the options we send, WebAuthn L3 §7.1 checks, challenge handling and
// credential-id uniqueness (reliability.md D21, D22, D25, D26 UP/UV).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Harness } from './fixtures.ts';
import { ORIGIN, RP_ID, harness, newUser, refused, register } from './fixtures.ts';
import { SOFT_AAGUID, SoftAuthenticator } from '../../support/soft-authenticator.ts';

let h: Harness;
before(async () => {
  h = await harness();
});
after(async () => {
  await h.close();
});

describe('registration: happy path', () => {
  it('stores a credential with its flags, AAGUID, counter and a default name', async () => {
    const user = await newUser(h.directory);
    const key = new SoftAuthenticator({ initialSignCount: 7, transports: ['usb', 'nfc'] });
    const { challengeId, options } = await h.ceremonies.beginRegistration(user, { invite: 'i1' });
    const response = await key.create(options, { origin: ORIGIN });
    const { credential, data } = await h.ceremonies.finishRegistration(challengeId, response);

    assert.deepEqual(data, { invite: 'i1' });
    assert.equal(credential.id, response.id);
    assert.equal(credential.userId, user.id);
    assert.equal(credential.signCount, 7);
    assert.deepEqual(credential.transports, ['usb', 'nfc']);
    assert.equal(credential.aaguid, SOFT_AAGUID);
    assert.equal(credential.backupEligible, false);
    assert.equal(credential.backupState, false);
    assert.equal(credential.attestationFormat, 'none');
    assert.equal(credential.attested, false);
    assert.equal(credential.name, 'Security key');
    assert.deepEqual(await h.directory.credentials.get(credential.id), credential);
  });

  it('sends the options the policy asks for', async () => {
    const user = await newUser(h.directory);
    const first = await register(h.ceremonies, user, new SoftAuthenticator());
    const { options } = await h.ceremonies.beginRegistration(user, {});
    assert.equal(options.rp.id, RP_ID);
    // The user handle is the opaque user id, never the e-mail (WebAuthn L3 §14.6.1).
    assert.equal(options.user.id, Buffer.from(user.id).toString('base64url'));
    assert.equal(options.user.name, user.email);
    assert.deepEqual(
      options.pubKeyCredParams.map((p) => p.alg),
      [-7, -257, -8],
    );
    assert.equal(options.authenticatorSelection?.residentKey, 'preferred');
    assert.equal(options.authenticatorSelection?.userVerification, 'required');
    assert.equal(options.attestation, 'none');
    assert.deepEqual(
      options.excludeCredentials?.map((c) => c.id),
      [first.id],
    );
    assert.equal(Buffer.from(options.challenge, 'base64url').length, 32);
  });

  it('takes a user-chosen name, cleaned', async () => {
    const user = await newUser(h.directory);
    const key = new SoftAuthenticator();
    const { challengeId, options } = await h.ceremonies.beginRegistration(user, {});
    const response = await key.create(options, { origin: ORIGIN });
    const { credential } = await h.ceremonies.finishRegistration(challengeId, response, {
      name: '  work\nkey\u202e  ',
    });
    assert.equal(credential.name, 'work key');
  });

  it('records BE and BS of a synced passkey', async () => {
    const user = await newUser(h.directory);
    const key = new SoftAuthenticator({ backupEligible: true, backupState: true });
    const credential = await register(h.ceremonies, user, key);
    assert.equal(credential.backupEligible, true);
    assert.equal(credential.backupState, true);
  });
});

describe('registration: WebAuthn L3 §7.1 checks', () => {
  const attempt = async (
    overrides: Parameters<SoftAuthenticator['create']>[1],
    options: ConstructorParameters<typeof SoftAuthenticator>[0] = {},
  ): Promise<unknown> => {
    const user = await newUser(h.directory);
    const begun = await h.ceremonies.beginRegistration(user, {});
    const response = await new SoftAuthenticator(options).create(begun.options, overrides);
    return h.ceremonies.finishRegistration(begun.challengeId, response);
  };

  it('refuses a foreign rpIdHash (expectedRPID is always passed)', async () => {
    await refused(
      attempt({ origin: ORIGIN, rpId: 'evil.example' }),
      'ERR_WEBAUTHN_REGISTRATION',
      'rp_id_mismatch',
    );
  });

  it('refuses another origin', async () => {
    await refused(
      attempt({ origin: 'https://pgkey.example.com.evil.test' }),
      'ERR_WEBAUTHN_REGISTRATION',
      'origin_mismatch',
    );
  });

  it('refuses crossOrigin: true and any topOrigin', async () => {
    await refused(
      attempt({ origin: ORIGIN, crossOrigin: true }),
      'ERR_WEBAUTHN_REGISTRATION',
      'cross_origin',
    );
    await refused(
      attempt({ origin: ORIGIN, topOrigin: 'https://evil.test' }),
      'ERR_WEBAUTHN_REGISTRATION',
      'top_origin',
    );
  });

  it('refuses an assertion-typed client data', async () => {
    await refused(
      attempt({ origin: ORIGIN, type: 'webauthn.get' }),
      'ERR_WEBAUTHN_REGISTRATION',
      'client_data_type',
    );
  });

  it('refuses UP=0 (D26)', async () => {
    await refused(
      attempt({ origin: ORIGIN, userPresent: false }),
      'ERR_WEBAUTHN_REGISTRATION',
      'user_not_present',
    );
  });

  it('refuses UV=0 when user verification is required (D26)', async () => {
    await refused(
      attempt({ origin: ORIGIN, userVerified: false }),
      'ERR_WEBAUTHN_REGISTRATION',
      'user_not_verified',
    );
  });

  it('accepts UV=0 when user verification is only preferred', async () => {
    const preferred = h.withSettings({ userVerification: 'preferred' });
    const user = await newUser(h.directory);
    const { challengeId, options } = await preferred.beginRegistration(user, {});
    assert.equal(options.authenticatorSelection?.userVerification, 'preferred');
    const response = await new SoftAuthenticator({ userVerified: false }).create(options, {
      origin: ORIGIN,
    });
    await preferred.finishRegistration(challengeId, response);
  });

  it('refuses BS=1 without BE (§7.1 step 16)', async () => {
    await refused(
      attempt({ origin: ORIGIN, backupEligible: false, backupState: true }),
      'ERR_WEBAUTHN_REGISTRATION',
      'backup_flags_invalid',
    );
  });

  it('refuses a response whose id is not the credential id in authData', async () => {
    const user = await newUser(h.directory);
    const begun = await h.ceremonies.beginRegistration(user, {});
    const response = await new SoftAuthenticator().create(begun.options, { origin: ORIGIN });
    const other = Buffer.alloc(32, 7).toString('base64url');
    await refused(
      h.ceremonies.finishRegistration(begun.challengeId, { ...response, id: other, rawId: other }),
      'ERR_WEBAUTHN_REGISTRATION',
      'credential_id_mismatch',
    );
  });

  it('refuses a disabled user, at the start and at the finish', async () => {
    const user = await newUser(h.directory);
    const begun = await h.ceremonies.beginRegistration(user, {});
    const disabled = await h.directory.users.setDisabled(user.id, true, 'left', h.clock.now());
    await refused(
      h.ceremonies.beginRegistration(disabled, {}),
      'ERR_WEBAUTHN_REGISTRATION',
      'user_disabled',
    );
    const response = await new SoftAuthenticator().create(begun.options, { origin: ORIGIN });
    await refused(
      h.ceremonies.finishRegistration(begun.challengeId, response),
      'ERR_WEBAUTHN_REGISTRATION',
      'user_disabled',
    );
  });
});

describe('registration: challenges (D21)', () => {
  it('a challenge works once, even after a failed attempt', async () => {
    const user = await newUser(h.directory);
    const key = new SoftAuthenticator();
    const { challengeId, options } = await h.ceremonies.beginRegistration(user, {});
    const bad = await key.create(options, { origin: 'https://evil.test' });
    await refused(
      h.ceremonies.finishRegistration(challengeId, bad),
      'ERR_WEBAUTHN_REGISTRATION',
      'origin_mismatch',
    );
    const good = await key.create(options, { origin: ORIGIN, ignoreExcludeCredentials: true });
    await refused(
      h.ceremonies.finishRegistration(challengeId, good),
      'ERR_WEBAUTHN_CHALLENGE',
      'challenge_unknown',
    );
  });

  it('an expired challenge is refused', async () => {
    const user = await newUser(h.directory);
    const { challengeId, options } = await h.ceremonies.beginRegistration(user, {});
    const response = await new SoftAuthenticator().create(options, { origin: ORIGIN });
    h.clock.advance(h.settings.challengeTtlMs + 1);
    await refused(
      h.ceremonies.finishRegistration(challengeId, response),
      'ERR_WEBAUTHN_CHALLENGE',
      'challenge_unknown',
    );
  });

  it('an authentication challenge cannot finish a registration', async () => {
    const user = await newUser(h.directory);
    const reg = await h.ceremonies.beginRegistration(user, {});
    const response = await new SoftAuthenticator().create(reg.options, { origin: ORIGIN });
    const auth = await h.ceremonies.beginAuthentication({});
    await refused(
      h.ceremonies.finishRegistration(auth.challengeId, response),
      'ERR_WEBAUTHN_CHALLENGE',
      'challenge_purpose',
    );
  });

  it('a response made for another challenge is refused', async () => {
    const user = await newUser(h.directory);
    const one = await h.ceremonies.beginRegistration(user, {});
    const two = await h.ceremonies.beginRegistration(user, {});
    const response = await new SoftAuthenticator().create(one.options, { origin: ORIGIN });
    await refused(
      h.ceremonies.finishRegistration(two.challengeId, response),
      'ERR_WEBAUTHN_REGISTRATION',
      'challenge_mismatch',
    );
  });
});

describe('registration: credential ids are unique (D25)', () => {
  it('refuses an id that already exists, for the same user and for another', async () => {
    const alice = await newUser(h.directory, 'alice');
    const mallory = await newUser(h.directory, 'mallory');
    const victimKey = new SoftAuthenticator();
    const victim = await register(h.ceremonies, alice, victimKey);

    // The same authenticator, asked to ignore excludeCredentials, for the same user.
    const again = await h.ceremonies.beginRegistration(alice, {});
    const duplicate = await victimKey.create(again.options, {
      origin: ORIGIN,
      credentialId: victim.id,
      ignoreExcludeCredentials: true,
    });
    await refused(
      h.ceremonies.finishRegistration(again.challengeId, duplicate),
      'ERR_WEBAUTHN_REGISTRATION',
      'credential_exists',
    );

    // An attacker registering the victim's credential id, with their own key, to their account.
    const takeover = await h.ceremonies.beginRegistration(mallory, {});
    const forged = await new SoftAuthenticator().create(takeover.options, {
      origin: ORIGIN,
      credentialId: victim.id,
    });
    await refused(
      h.ceremonies.finishRegistration(takeover.challengeId, forged),
      'ERR_WEBAUTHN_REGISTRATION',
      'credential_exists',
    );
    const stored = await h.directory.credentials.get(victim.id);
    assert.equal(stored?.userId, alice.id);
    assert.deepEqual(stored?.publicKey, victim.publicKey);
  });

  it('of 10 concurrent registrations of one id, exactly one succeeds', async () => {
    const id = Buffer.alloc(32, 0x5a).toString('base64url');
    const attempts = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const user = await newUser(h.directory, `racer${i}`);
        const { challengeId, options } = await h.ceremonies.beginRegistration(user, {});
        const response = await new SoftAuthenticator().create(options, {
          origin: ORIGIN,
          credentialId: id,
        });
        return { challengeId, response };
      }),
    );
    const results = await Promise.allSettled(
      attempts.map((a) => h.ceremonies.finishRegistration(a.challengeId, a.response)),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    assert.equal(won.length, 1);
    for (const result of results) {
      if (result.status === 'rejected') {
        await refused(
          Promise.reject(result.reason as Error),
          'ERR_WEBAUTHN_REGISTRATION',
          'credential_exists',
        );
      }
    }
    const owner = won[0]?.status === 'fulfilled' ? won[0].value.credential.userId : undefined;
    assert.equal((await h.directory.credentials.get(id))?.userId, owner);
  });
});
