// The authentication ceremony with the soft authenticator and the real sqlite directory:
// the happy paths and every WebAuthn L3 §7.2 rule pgkey enforces, mapped to
// reliability.md D21 (replay, challenge reuse, expiry), D22 (origins, rpIdHash), D23
// (signCount), D24 (user handle), D26 (UP/UV), plus BE/BS, concurrency and no enumeration.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PgkeyError } from '../../../src/errors/pgkey-error.ts';
import { WebAuthnCeremonies } from '../../../src/idp/webauthn/ceremonies.ts';
import type { Directory } from '../../../src/store/directory.ts';
import { SoftAuthenticator } from '../../support/soft-authenticator.ts';
import type { Harness } from './fixtures.ts';
import { ORIGIN, RP_ID, harness, newUser, refused, register, signIn } from './fixtures.ts';

let h: Harness;
before(async () => {
  h = await harness();
});
after(async () => {
  await h.close();
});

/** A user with one registered soft key. */
async function enrolled(options: ConstructorParameters<typeof SoftAuthenticator>[0] = {}) {
  const user = await newUser(h.directory);
  const key = new SoftAuthenticator(options);
  const credential = await register(h.ceremonies, user, key);
  return { user, key, credential };
}

describe('authentication: happy paths', () => {
  it('a discoverable sign-in returns the user, the key evidence and acr/amr', async () => {
    const { user, key, credential } = await enrolled();
    const { challengeId, options } = await h.ceremonies.beginAuthentication({ uid: 'x1' });
    assert.equal(options.rpId, RP_ID);
    assert.equal(options.userVerification, 'required');
    assert.ok((options.allowCredentials ?? []).length === 0);
    const response = await key.get(options, { origin: ORIGIN });
    const result = await h.ceremonies.finishAuthentication(challengeId, response);

    assert.equal(result.user.id, user.id);
    assert.deepEqual(result.data, { uid: 'x1' });
    assert.equal(result.credential.id, credential.id);
    assert.equal(result.credential.signCount, 1);
    assert.equal(result.credential.lastUsedAt, h.clock.now());
    assert.equal(result.userVerified, true);
    assert.equal(result.deviceBound, true);
    assert.equal(result.attested, false);
    assert.equal(result.acr, 'phr');
    assert.deepEqual(result.amr, ['pop', 'user', 'mfa']);
    const stored = await h.directory.credentials.get(credential.id);
    assert.equal(stored?.signCount, 1);
    assert.equal(stored?.lastUsedAt, h.clock.now());
  });

  it('a sign-in for a known user lists only their usable keys', async () => {
    const { user, key, credential } = await enrolled();
    const second = await register(h.ceremonies, user, new SoftAuthenticator());
    const third = await register(h.ceremonies, user, new SoftAuthenticator());
    await h.directory.credentials.revoke(second.id, 'lost', h.clock.now());
    await h.directory.credentials.flag(third.id, 'test');
    const { options } = await h.ceremonies.beginAuthentication({}, { userId: user.id });
    assert.deepEqual(
      options.allowCredentials?.map((c) => c.id),
      [credential.id],
    );
    // Without a discoverable credential the handle may be absent (§7.2 step 6).
    const result = await signIn(h.ceremonies, key, { userHandle: null }, { userId: user.id });
    assert.equal(result.user.id, user.id);
  });

  it('UV=0 passes when user verification is only preferred, without `mfa`', async () => {
    const preferred = h.withSettings({ userVerification: 'preferred' });
    const user = await newUser(h.directory);
    const key = new SoftAuthenticator({ userVerified: false });
    await register(preferred, user, key);
    const result = await signIn(preferred, key);
    assert.equal(result.userVerified, false);
    assert.deepEqual(result.amr, ['pop', 'user']);
  });

  it('BS is updated from the assertion', async () => {
    const { key, credential } = await enrolled({ backupEligible: true, backupState: false });
    const result = await signIn(h.ceremonies, key, { backupState: true });
    assert.equal(result.credential.backupState, true);
    assert.equal((await h.directory.credentials.get(credential.id))?.backupState, true);
  });
});

describe('authentication: replay and challenges (D21)', () => {
  it('a replayed assertion is refused after a success', async () => {
    const { key } = await enrolled();
    const { challengeId, options } = await h.ceremonies.beginAuthentication({});
    const response = await key.get(options, { origin: ORIGIN });
    await h.ceremonies.finishAuthentication(challengeId, response);
    await refused(
      h.ceremonies.finishAuthentication(challengeId, response),
      'ERR_WEBAUTHN_CHALLENGE',
      'challenge_unknown',
    );
  });

  it('a recorded assertion does not answer a new challenge', async () => {
    const { key } = await enrolled();
    const first = await h.ceremonies.beginAuthentication({});
    const recorded = await key.get(first.options, { origin: ORIGIN });
    const second = await h.ceremonies.beginAuthentication({});
    await refused(
      h.ceremonies.finishAuthentication(second.challengeId, recorded),
      'ERR_WEBAUTHN_AUTHENTICATION',
      'challenge_mismatch',
    );
  });

  it('a challenge is spent by a failed attempt', async () => {
    const { key } = await enrolled();
    const { challengeId, options } = await h.ceremonies.beginAuthentication({});
    const bad = await key.get(options, { origin: ORIGIN, corruptSignature: true });
    await refused(
      h.ceremonies.finishAuthentication(challengeId, bad),
      'ERR_WEBAUTHN_AUTHENTICATION',
      'signature_invalid',
    );
    const good = await key.get(options, { origin: ORIGIN });
    await refused(
      h.ceremonies.finishAuthentication(challengeId, good),
      'ERR_WEBAUTHN_CHALLENGE',
      'challenge_unknown',
    );
  });

  it('an expired challenge is refused, and nothing is left of it server-side', async () => {
    const own = await harness();
    try {
      const user = await newUser(own.directory);
      const key = new SoftAuthenticator();
      await register(own.ceremonies, user, key);
      const { challengeId, options } = await own.ceremonies.beginAuthentication({});
      const response = await key.get(options, { origin: ORIGIN });
      own.clock.advance(own.settings.challengeTtlMs + 1);
      await refused(
        own.ceremonies.finishAuthentication(challengeId, response),
        'ERR_WEBAUTHN_CHALLENGE',
        'challenge_unknown',
      );
      // The failed take deleted it: a sweep finds nothing, a second take nothing either.
      assert.equal(await own.directory.challenges.sweep(own.clock.now()), 0);
      assert.equal(await own.directory.challenges.take(challengeId, own.clock.now()), undefined);
    } finally {
      await own.close();
    }
  });

  it('a used challenge is gone server-side after a success', async () => {
    const { key } = await enrolled();
    const { challengeId, options } = await h.ceremonies.beginAuthentication({});
    await h.ceremonies.finishAuthentication(
      challengeId,
      await key.get(options, { origin: ORIGIN }),
    );
    assert.equal(await h.directory.challenges.take(challengeId, h.clock.now()), undefined);
  });

  it('a made-up challenge id is refused', async () => {
    const { key } = await enrolled();
    const { options } = await h.ceremonies.beginAuthentication({});
    const response = await key.get(options, { origin: ORIGIN });
    for (const id of ['nope', '../../etc/passwd', 'x'.repeat(500)]) {
      await refused(
        h.ceremonies.finishAuthentication(id, response),
        'ERR_WEBAUTHN_CHALLENGE',
        'challenge_unknown',
      );
    }
  });
});

describe('authentication: origin and RP ID (D22)', () => {
  const cases: [string, Parameters<SoftAuthenticator['get']>[1], string][] = [
    ['http:// instead of https://', { origin: 'http://pgkey.example.com' }, 'origin_mismatch'],
    ['another port', { origin: 'https://pgkey.example.com:8443' }, 'origin_mismatch'],
    ['a look-alike domain', { origin: 'https://pgkey-example.com' }, 'origin_mismatch'],
    ['a suffix trick', { origin: 'https://pgkey.example.com.evil.test' }, 'origin_mismatch'],
    ['a trailing slash', { origin: 'https://pgkey.example.com/' }, 'origin_mismatch'],
    ['a subdomain not allowed', { origin: 'https://evil.pgkey.example.com' }, 'origin_mismatch'],
    ['crossOrigin: true', { origin: ORIGIN, crossOrigin: true }, 'cross_origin'],
    ['an unexpected topOrigin', { origin: ORIGIN, topOrigin: 'https://evil.test' }, 'top_origin'],
    ['a foreign rpIdHash', { origin: ORIGIN, rpId: 'evil.test' }, 'rp_id_mismatch'],
    [
      'a registration-typed client data',
      { origin: ORIGIN, type: 'webauthn.create' },
      'client_data_type',
    ],
  ];
  for (const [name, overrides, reason] of cases) {
    it(`refuses ${name}`, async () => {
      const { key } = await enrolled();
      await refused(
        signIn(h.ceremonies, key, overrides),
        'ERR_WEBAUTHN_AUTHENTICATION',
        reason as never,
      );
    });
  }
});

describe('authentication: user presence and verification (D26)', () => {
  it('refuses UP=0', async () => {
    const { key } = await enrolled();
    await refused(
      signIn(h.ceremonies, key, { userPresent: false }),
      'ERR_WEBAUTHN_AUTHENTICATION',
      'user_not_present',
    );
  });

  it('refuses UV=0 when user verification is required', async () => {
    const { key } = await enrolled();
    await refused(
      signIn(h.ceremonies, key, { userVerified: false }),
      'ERR_WEBAUTHN_AUTHENTICATION',
      'user_not_verified',
    );
  });
});

describe('authentication: signature counter (D23)', () => {
  for (const reported of [10, 5]) {
    it(`stored 10, reported ${reported}: refused and the credential flagged`, async () => {
      const { key, credential } = await enrolled({ initialSignCount: 10 });
      await refused(
        signIn(h.ceremonies, key, { signCount: reported }),
        'ERR_WEBAUTHN_AUTHENTICATION',
        'sign_count_regression',
      );
      const stored = await h.directory.credentials.get(credential.id);
      assert.equal(stored?.flaggedReason, 'sign_count_regression');
      assert.equal(stored?.signCount, 10);
      // A flagged key stays refused, even with a good counter.
      await refused(
        signIn(h.ceremonies, key, { signCount: 11 }),
        'ERR_WEBAUTHN_AUTHENTICATION',
        'credential_flagged',
      );
    });
  }

  it('stored 10, reported 11: accepted', async () => {
    const { key } = await enrolled({ initialSignCount: 10 });
    const result = await signIn(h.ceremonies, key);
    assert.equal(result.credential.signCount, 11);
  });

  it('0/0 (an authenticator without a counter) is allowed, again and again', async () => {
    const { key, credential } = await enrolled({ signCount: 'zero' });
    assert.equal(credential.signCount, 0);
    await signIn(h.ceremonies, key);
    await signIn(h.ceremonies, key);
    assert.equal((await h.directory.credentials.get(credential.id))?.flaggedReason, undefined);
  });

  it('an unsigned counter regression does not flag the key', async () => {
    const { key, credential } = await enrolled({ initialSignCount: 10 });
    await refused(
      signIn(h.ceremonies, key, { signCount: 3, corruptSignature: true }),
      'ERR_WEBAUTHN_AUTHENTICATION',
      'signature_invalid',
    );
    assert.equal((await h.directory.credentials.get(credential.id))?.flaggedReason, undefined);
    await signIn(h.ceremonies, key, { signCount: 12 });
  });

  it('a concurrent assertion that moved the counter first wins; this one is refused', async () => {
    const { key, credential } = await enrolled();
    // Another node records a use between our read and our compare-and-set.
    const racing: Directory = {
      ...h.directory,
      credentials: {
        ...h.directory.credentials,
        async recordUse(id, update) {
          await h.directory.credentials.recordUse(id, {
            ...update,
            signCount: update.signCount + 1,
          });
          return h.directory.credentials.recordUse(id, update);
        },
      },
    };
    const ceremonies = new WebAuthnCeremonies({
      directory: racing,
      settings: h.settings,
      clock: h.clock,
    });
    await refused(signIn(ceremonies, key), 'ERR_WEBAUTHN_AUTHENTICATION', 'concurrent_use');
    assert.equal((await h.directory.credentials.get(credential.id))?.signCount, 2);
  });
});

describe('authentication: whose key is it (D24)', () => {
  it("refuses A's user handle with B's credential", async () => {
    const a = await enrolled();
    const b = await enrolled();
    await refused(
      signIn(h.ceremonies, b.key, { userHandle: Buffer.from(a.user.id).toString('base64url') }),
      'ERR_WEBAUTHN_AUTHENTICATION',
      'user_handle_mismatch',
    );
  });

  it("refuses B's credential in a sign-in started for A", async () => {
    const a = await enrolled();
    const b = await enrolled();
    await refused(
      // The client ignores allowCredentials and signs with B's key.
      signIn(h.ceremonies, b.key, { credentialId: b.credential.id }, { userId: a.user.id }),
      'ERR_WEBAUTHN_AUTHENTICATION',
      'credential_not_allowed',
    );
  });

  it('refuses a discoverable sign-in without a user handle', async () => {
    const { key } = await enrolled();
    await refused(
      signIn(h.ceremonies, key, { userHandle: null }),
      'ERR_WEBAUTHN_AUTHENTICATION',
      'user_handle_missing',
    );
  });
});

describe('authentication: backup eligibility (WebAuthn L3 §7.2 step 18)', () => {
  it('refuses BE turning on for a device-bound key', async () => {
    const { key } = await enrolled();
    await refused(
      signIn(h.ceremonies, key, { backupEligible: true }),
      'ERR_WEBAUTHN_AUTHENTICATION',
      'backup_eligibility_changed',
    );
  });

  it('refuses BE turning off for a synced key', async () => {
    const { key } = await enrolled({ backupEligible: true, backupState: true });
    await refused(
      signIn(h.ceremonies, key, { backupEligible: false, backupState: false }),
      'ERR_WEBAUTHN_AUTHENTICATION',
      'backup_eligibility_changed',
    );
  });

  it('refuses BS=1 without BE', async () => {
    const { key } = await enrolled();
    await refused(
      signIn(h.ceremonies, key, { backupState: true }),
      'ERR_WEBAUTHN_AUTHENTICATION',
      'backup_flags_invalid',
    );
  });
});

describe('authentication: no enumeration', () => {
  it('unknown, revoked and flagged keys, a disabled owner and a bad signature look the same', async () => {
    const errors: PgkeyError[] = [];
    const unknown = new SoftAuthenticator();
    await unknown.create(
      (await h.ceremonies.beginRegistration(await newUser(h.directory), {})).options,
      {
        origin: ORIGIN,
      },
    );
    errors.push(
      await refused(
        signIn(h.ceremonies, unknown),
        'ERR_WEBAUTHN_AUTHENTICATION',
        'credential_unknown',
      ),
    );

    const revoked = await enrolled();
    await h.directory.credentials.revoke(revoked.credential.id, 'lost', h.clock.now());
    errors.push(
      await refused(
        signIn(h.ceremonies, revoked.key),
        'ERR_WEBAUTHN_AUTHENTICATION',
        'credential_revoked',
      ),
    );

    const flagged = await enrolled();
    await h.directory.credentials.flag(flagged.credential.id, 'suspicious');
    errors.push(
      await refused(
        signIn(h.ceremonies, flagged.key),
        'ERR_WEBAUTHN_AUTHENTICATION',
        'credential_flagged',
      ),
    );

    const disabled = await enrolled();
    await h.directory.users.setDisabled(disabled.user.id, true, 'left', h.clock.now());
    errors.push(
      await refused(
        signIn(h.ceremonies, disabled.key),
        'ERR_WEBAUTHN_AUTHENTICATION',
        'user_disabled',
      ),
    );

    const forged = await enrolled();
    errors.push(
      await refused(
        signIn(h.ceremonies, forged.key, { corruptSignature: true }),
        'ERR_WEBAUTHN_AUTHENTICATION',
        'signature_invalid',
      ),
    );

    const visible = (e: PgkeyError) => ({
      code: e.code,
      message: e.message,
      reason: e.reason,
      detail: e.detail,
      hint: e.hint,
      http: e.httpStatus,
      oauth: e.oauthError,
      sqlstate: e.sqlstate,
    });
    for (const error of errors) assert.deepEqual(visible(error), visible(errors[0] as PgkeyError));
    assert.equal(errors[0]?.httpStatus, 401);
    assert.equal(errors[0]?.oauthError, 'access_denied');
  });
});
