// The authorization code flow with PKCE end to end: a registered key signs in through the
// provider's own page (soft authenticator), the code becomes an RFC 9068 access token, and
// the gateway's own verifier (builtin profile) turns it into an Identity. Then what a token
// chain keeps (auth_time, acr, the key) and where it ends (session_max, a disabled user, a
// revoked key). Time moves by mocking Date: oidc-provider reads the system clock.
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { Browser, CLI, decodeJwt, startHarness, type Harness } from './harness.ts';

const WEB = 'webapp';
const WEB_REDIRECT = 'http://localhost:3000/cb';

function freezeTime(t: TestContext): (ms: number) => void {
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
  return (ms) => t.mock.timers.setTime(Date.now() + ms);
}

async function refresh(h: Harness, refreshToken: unknown) {
  return h.token({
    grant_type: 'refresh_token',
    client_id: CLI,
    refresh_token: String(refreshToken),
  });
}

describe('authorization code flow (pgkey-cli, PKCE S256)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      idp: {
        session_max: '1h',
        clients: [{ client_id: WEB, redirect_uris: [WEB_REDIRECT], gateway_tokens: true }],
      },
    });
  });
  after(() => h.close());

  it('issues an at+jwt access token the gateway verifies as a FIDO2 identity', async () => {
    const tokens = await h.login();
    assert.equal(tokens.token_type, 'Bearer');
    assert.equal(typeof tokens.refresh_token, 'string');
    assert.equal(typeof tokens.id_token, 'string');
    const { header, payload } = decodeJwt(tokens.access_token);
    assert.equal(header.typ, 'at+jwt');
    assert.equal(header.alg, 'ES256');
    assert.equal(header.kid, h.idp.signingKid());
    assert.equal(payload.iss, h.issuer);
    assert.equal(payload.aud, 'pgkey');
    assert.equal(payload.sub, h.user.id);
    assert.equal(payload.client_id, CLI);
    assert.equal(payload.exp, (payload.iat as number) + 600);

    const identity = await (await h.verifier()).verify(String(tokens.access_token));
    assert.equal(identity.issuerName, 'builtin');
    assert.equal(identity.subject, h.user.id);
    assert.equal(identity.kind, 'human');
    assert.equal(identity.fido2, true);
    assert.equal(identity.acr, 'phrh');
    assert.deepEqual(identity.amr, ['pop', 'hwk', 'user', 'mfa']);
    assert.equal(identity.credentialId, h.credential.id);
    assert.equal(identity.aaguid, h.credential.aaguid);
    assert.equal(identity.deviceBound, true);
    // The key's record (attestation chained to the test root) and the assertion's UV flag.
    assert.equal(payload.attested, true);
    assert.equal(payload.user_verified, true);
    assert.equal(payload.device_bound, true);
    assert.equal(identity.attested, true);
    assert.equal(identity.userVerified, true);
    assert.deepEqual(identity.groups, ['dba']);
    assert.equal(identity.email, 'ada@example.com');
    assert.ok(identity.authTime !== undefined);
    assert.ok(Math.abs(identity.authTime - Date.now()) < 10_000);

    const id = decodeJwt(tokens.id_token).payload;
    assert.equal(id.auth_time, payload.auth_time);
    assert.equal(id.acr, 'phrh');
    assert.equal(id.email, 'ada@example.com');
  });

  it('refresh rotates the refresh token and keeps auth_time, acr and the key', async (t) => {
    const advance = freezeTime(t);
    const first = await h.login();
    const before = decodeJwt(first.access_token).payload;
    advance(20 * 60_000);
    const { status, json } = await refresh(h, first.refresh_token);
    assert.equal(status, 200, JSON.stringify(json));
    assert.notEqual(json.refresh_token, first.refresh_token);
    const after = decodeJwt(json.access_token).payload;
    assert.ok((after.iat as number) >= (before.iat as number) + 1200);
    for (const claim of [
      'auth_time',
      'acr',
      'amr',
      'credential_id',
      'aaguid',
      'device_bound',
      'attested',
      'user_verified',
    ]) {
      assert.deepEqual(after[claim], before[claim], claim);
    }
    const identity = await (await h.verifier()).verify(String(json.access_token));
    assert.equal(identity.authTime, (before.auth_time as number) * 1000);
  });

  it('a refresh token used twice is refused and ends the whole chain (RFC 9700 §4.14.2)', async () => {
    const first = await h.login();
    const second = await refresh(h, first.refresh_token);
    assert.equal(second.status, 200);
    const replay = await refresh(h, first.refresh_token);
    assert.equal(replay.status, 400);
    assert.equal(replay.json.error, 'invalid_grant');
    const after = await refresh(h, second.json.refresh_token);
    assert.equal(after.json.error, 'invalid_grant');
  });

  it('never outlives auth_time + session_max: access tokens are capped, refresh stops', async (t) => {
    const advance = freezeTime(t);
    const first = await h.login();
    const authTime = decodeJwt(first.access_token).payload.auth_time as number;
    advance(55 * 60_000);
    const late = await refresh(h, first.refresh_token);
    assert.equal(late.status, 200, JSON.stringify(late.json));
    const capped = decodeJwt(late.json.access_token).payload;
    assert.equal(capped.exp, authTime + 3600, 'access token capped at the session end');
    assert.ok((late.json.expires_in as number) <= 5 * 60);
    advance(6 * 60_000);
    const over = await refresh(h, late.json.refresh_token);
    assert.equal(over.status, 400);
    assert.equal(over.json.error, 'invalid_grant');
  });

  it('a web client with a grant signs in silently; prompt=login and max_age=0 force a new ceremony', async (t) => {
    const advance = freezeTime(t);
    const browser = new Browser();
    const web = { client_id: WEB, redirect_uri: WEB_REDIRECT };
    const exchange = async (callback: URL, verifier: string) => {
      const code = callback.searchParams.get('code');
      assert.ok(code !== null, callback.href);
      const { status, json } = await h.token({
        grant_type: 'authorization_code',
        client_id: WEB,
        code,
        redirect_uri: WEB_REDIRECT,
        code_verifier: verifier,
      });
      assert.equal(status, 200, JSON.stringify(json));
      return decodeJwt(json.access_token).payload;
    };
    const { callback, pkce } = await h.authorize(web, browser);
    const firstAuth = (await exchange(callback, pkce.verifier)).auth_time as number;

    advance(30_000);
    const silent = await h.start(web, browser);
    assert.equal(silent.response.status, 303, 'no sign-in page with a live session and grant');
    const silentCallback = new URL(String(silent.response.headers.get('location')));
    assert.equal((await exchange(silentCallback, silent.pkce.verifier)).auth_time, firstAuth);

    for (const extra of [{ prompt: 'login' }, { max_age: '0' }] as Record<string, string>[]) {
      advance(30_000);
      const fresh = await h.authorize({ ...web, ...extra }, browser);
      const authTime = (await exchange(fresh.callback, fresh.pkce.verifier)).auth_time as number;
      assert.ok(authTime >= firstAuth + 30, `${JSON.stringify(extra)}: new auth_time`);
    }

    advance(61 * 60_000); // past session_max (1h): the browser session no longer signs in
    const expired = await h.start(web, browser);
    assert.equal(expired.response.status, 200);
    assert.match(expired.url, /\/interaction\/[\w-]+$/);
  });

  it('pgkey-cli (native) always asks for the key, also with a live session (RFC 8252 §8.6)', async () => {
    const browser = new Browser();
    await h.login({}, browser);
    const again = await h.start({}, browser);
    assert.equal(again.response.status, 200);
    assert.match(again.url, /\/interaction\/[\w-]+$/);
  });

  it('clients without gateway_tokens get no gateway token', async () => {
    const other = await startHarness({
      idp: { clients: [{ client_id: 'portal', redirect_uris: [WEB_REDIRECT] }] },
    });
    try {
      const web = { client_id: 'portal', redirect_uri: WEB_REDIRECT };
      const { callback, pkce } = await other.authorize(web);
      const { json } = await other.token({
        grant_type: 'authorization_code',
        client_id: 'portal',
        code: String(callback.searchParams.get('code')),
        redirect_uri: WEB_REDIRECT,
        code_verifier: pkce.verifier,
      });
      assert.equal(String(json.access_token).split('.').length, 1, 'opaque, not a JWT');
      const discovery = (await (
        await fetch(`${other.issuer}/.well-known/openid-configuration`)
      ).json()) as { userinfo_endpoint: string };
      const me = await fetch(discovery.userinfo_endpoint, {
        headers: { authorization: `Bearer ${String(json.access_token)}` },
      });
      assert.equal(((await me.json()) as { email?: string }).email, 'ada@example.com');
      const asked = await other.start({ ...web, resource: 'urn:pgkey:gateway' }, new Browser());
      const location = new URL(String(asked.response.headers.get('location')));
      assert.equal(location.searchParams.get('error'), 'invalid_target');
    } finally {
      await other.close();
    }
  });
});

describe('the login behind a token chain ends', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      idp: { clients: [{ client_id: WEB, redirect_uris: [WEB_REDIRECT] }] },
    });
  });
  after(() => h.close());

  it('when the user is disabled: no code exchange, no refresh, no new sign-in', async () => {
    const tokens = await h.login();
    const { callback, pkce } = await h.authorize();
    await h.directory.users.setDisabled(h.user.id, true, 'left the team', Date.now());
    const exchange = await h.token({
      grant_type: 'authorization_code',
      client_id: CLI,
      code: String(callback.searchParams.get('code')),
      redirect_uri: 'http://127.0.0.1:53682/callback',
      code_verifier: pkce.verifier,
    });
    assert.equal(exchange.json.error, 'invalid_grant');
    assert.equal((await refresh(h, tokens.refresh_token)).json.error, 'invalid_grant');
    const browser = new Browser();
    const page = await h.start({}, browser);
    const attempt = await h.signIn(browser, page.url);
    assert.ok(attempt.status >= 400 && attempt.status < 500, JSON.stringify(attempt.body));
    assert.equal(attempt.body.redirectTo, undefined);

    await h.directory.users.setDisabled(h.user.id, false, undefined, Date.now());
    assert.equal((await refresh(h, tokens.refresh_token)).json.error, 'invalid_grant');
    assert.equal(typeof (await h.login()).access_token, 'string', 'a new login works again');
  });

  it('a browser session whose login predates a group removal must sign in again', async () => {
    const browser = new Browser();
    const web = { client_id: WEB, redirect_uri: WEB_REDIRECT };
    await h.authorize(web, browser);
    assert.equal(
      (await h.start(web, browser)).response.status,
      303,
      'silent while the login holds',
    );
    await h.directory.users.addGroup(h.user.id, 'temp');
    await h.directory.users.removeGroup(h.user.id, 'temp', Date.now());
    const again = await h.start(web, browser);
    assert.equal(again.response.status, 200);
    assert.match(again.url, /\/interaction\/[\w-]+$/);
    const none = await h.start({ ...web, prompt: 'none' }, browser);
    const location = new URL(String(none.response.headers.get('location')));
    assert.equal(location.searchParams.get('error'), 'login_required');
  });

  it('when the key is revoked', async () => {
    const tokens = await h.login();
    await h.directory.credentials.revoke(h.credential.id, 'lost', Date.now());
    assert.equal((await refresh(h, tokens.refresh_token)).json.error, 'invalid_grant');
  });
});
