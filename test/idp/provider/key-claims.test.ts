// What the built-in provider's access tokens say about the key behind the login, for policy
// `authenticator:` and `assurance:` rules: `attested` from the credential record (its
// attestation chained to a trusted root at enrollment), `device_bound` (BE=0) and
// `user_verified` (the assertion's UV flag), each read back by the gateway's builtin profile.
// Real ceremonies with the soft authenticator; code-flow.test.ts covers the attested,
// device-bound, user-verified key.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Browser, CLI, CLI_REDIRECT, decodeJwt, startHarness, type Harness } from './harness.ts';

describe('access tokens for a synced passkey without attestation', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ authenticator: { attestation: 'none', backupEligible: true } });
  });
  after(() => h.close());

  it('say attested false and device_bound false; the profile reads them so', async () => {
    assert.equal(h.credential.attested, false);
    const tokens = await h.login();
    const { payload } = decodeJwt(tokens.access_token);
    assert.equal(payload.attested, false);
    assert.equal(payload.device_bound, false);
    assert.equal(payload.user_verified, true);
    assert.equal(payload.acr, 'phr');
    const identity = await (await h.verifier()).verify(String(tokens.access_token));
    assert.equal(identity.attested, false);
    assert.equal(identity.deviceBound, false);
    assert.equal(identity.userVerified, true);
    assert.deepEqual(identity.amr, ['pop', 'swk', 'user', 'mfa']);
  });
});

describe('access tokens for a login without user verification (idp.user_verification: preferred)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ idp: { user_verification: 'preferred' } });
  });
  after(() => h.close());

  it('say user_verified false for a presence-only assertion, true when the key verified', async () => {
    assert.equal(h.credential.attested, true);
    const browser = new Browser();
    const { pkce: proof, url } = await h.start({}, browser);
    const signedIn = await h.signIn(browser, url, { userVerified: false });
    assert.equal(signedIn.status, 200, JSON.stringify(signedIn.body));
    const { response } = await h.follow(browser, String(signedIn.body.redirectTo));
    assert.equal(response.status, 303, await response.text());
    const code = new URL(String(response.headers.get('location'))).searchParams.get('code');
    assert.ok(code !== null);
    const { status, json } = await h.token({
      grant_type: 'authorization_code',
      client_id: CLI,
      code,
      redirect_uri: CLI_REDIRECT,
      code_verifier: proof.verifier,
    });
    assert.equal(status, 200, JSON.stringify(json));
    const { payload } = decodeJwt(json.access_token);
    assert.equal(payload.user_verified, false);
    assert.equal(payload.attested, true);
    assert.equal(payload.device_bound, true);
    const presenceOnly = await (await h.verifier()).verify(String(json.access_token));
    assert.equal(presenceOnly.userVerified, false);
    assert.ok(!presenceOnly.amr.includes('mfa'), 'no UV: not multi-factor');

    const verified = decodeJwt((await h.login()).access_token).payload;
    assert.equal(verified.user_verified, true);
  });
});
