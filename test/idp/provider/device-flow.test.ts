// reliability.md E29: authorization responses carry `iss` (RFC 9207, mix-up defence), and the
// device authorization grant (RFC 8628), which a WebAuthn login cannot protect from remote
// phishing (§5.4, Storm-2372), exists only for clients that opt in: without one its endpoint
// is 404; with one, every other client gets `unauthorized_client`.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Browser, CLI, decodeJwt, startHarness, type Harness } from './harness.ts';

const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

function form(html: string): { action: string; fields: Record<string, string> } {
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
  assert.ok(action !== undefined, 'a form');
  const fields: Record<string, string> = {};
  for (const match of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) {
    fields[match[1] ?? ''] = match[2] ?? '';
  }
  return { action, fields };
}

describe('E29: iss in authorization responses', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('a successful response names the issuer (RFC 9207 §2)', async () => {
    const { callback } = await h.authorize({ state: 'xyz' });
    assert.equal(callback.searchParams.get('iss'), h.issuer);
    assert.equal(callback.searchParams.get('state'), 'xyz');
    assert.ok(callback.searchParams.get('code'));
  });

  it('an error response names the issuer too', async () => {
    const { response } = await h.start({ scope: 'openid', prompt: 'none' }, new Browser());
    const location = new URL(String(response.headers.get('location')));
    assert.equal(location.searchParams.get('error'), 'login_required');
    assert.equal(location.searchParams.get('iss'), h.issuer);
  });

  it('without a client that opts in, the device grant does not exist', async () => {
    const discovery = (await (
      await fetch(new URL('/.well-known/openid-configuration', h.issuer))
    ).json()) as Record<string, unknown>;
    assert.equal(discovery.device_authorization_endpoint, undefined);
    assert.ok(!(discovery.grant_types_supported as string[]).includes(DEVICE_GRANT));
    const response = await fetch(new URL('/device/auth', h.issuer), {
      method: 'POST',
      body: new URLSearchParams({ client_id: CLI, scope: 'openid' }),
    });
    assert.equal(response.status, 404);
    assert.equal((await fetch(new URL('/device', h.issuer))).status, 404);
    const token = await h.token({ grant_type: DEVICE_GRANT, client_id: CLI, device_code: 'x' });
    assert.equal(token.json.error, 'unsupported_grant_type');
  });
});

describe('E29: the device grant for clients that opt in', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      idp: {
        clients: [
          {
            client_id: 'tv',
            redirect_uris: ['https://tv.example.com/cb'],
            device_flow: true,
            gateway_tokens: true,
          },
        ],
      },
    });
  });
  after(() => h.close());

  const authorizeDevice = (clientId: string) =>
    fetch(new URL('/device/auth', h.issuer), {
      method: 'POST',
      body: new URLSearchParams({ client_id: clientId, scope: 'openid email' }),
    });

  it('a client without device_flow gets unauthorized_client, at both endpoints', async () => {
    const response = await authorizeDevice(CLI);
    assert.equal(response.status, 400);
    assert.equal(((await response.json()) as { error: string }).error, 'unauthorized_client');
    const token = await h.token({ grant_type: DEVICE_GRANT, client_id: CLI, device_code: 'x' });
    assert.equal(token.status, 400);
    assert.equal(token.json.error, 'unauthorized_client');
  });

  it('the opted-in client completes the flow; the page shows where the request came from', async () => {
    const response = await authorizeDevice('tv');
    assert.equal(response.status, 200);
    const grant = (await response.json()) as Record<string, string>;
    const pending = await h.token({
      grant_type: DEVICE_GRANT,
      client_id: 'tv',
      device_code: grant.device_code ?? '',
    });
    assert.equal(pending.json.error, 'authorization_pending');

    const browser = new Browser();
    // verification_uri_complete auto-submits the code (form_post page, hashed inline script).
    const landing = await browser.fetch(String(grant.verification_uri_complete));
    const csp = String(landing.headers.get('content-security-policy'));
    assert.match(csp, /script-src 'self' 'sha256-[A-Za-z0-9+/=]+'/);
    const submit = form(await landing.text());
    const confirm = await browser.fetch(submit.action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(submit.fields),
    });
    const confirmPage = await confirm.text();
    assert.match(confirmPage, /Confirm the device/);
    assert.match(confirmPage, /Requested from 127\.0\.0\.1/);
    assert.ok(confirmPage.includes(String(grant.user_code)));
    const confirmed = form(confirmPage);
    const toLogin = await browser.fetch(confirmed.action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(confirmed.fields),
    });
    assert.equal(toLogin.status, 303);
    const interaction = new URL(String(toLogin.headers.get('location')), h.issuer).href;
    const page = await h.follow(browser, interaction);
    assert.equal(page.response.status, 200);
    const signedIn = await h.signIn(browser, page.url);
    assert.equal(signedIn.status, 200, JSON.stringify(signedIn.body));
    const done = await h.follow(browser, String(signedIn.body.redirectTo));
    assert.equal(done.response.status, 200);
    assert.match(await done.response.text(), /Device connected/);

    const tokens = await h.token({
      grant_type: DEVICE_GRANT,
      client_id: 'tv',
      device_code: grant.device_code ?? '',
    });
    assert.equal(tokens.status, 200, JSON.stringify(tokens.json));
    const { payload } = decodeJwt(tokens.json.access_token);
    assert.equal(payload.acr, 'phrh');
    assert.equal(payload.credential_id, h.credential.id);
    const identity = await (await h.verifier()).verify(String(tokens.json.access_token));
    assert.equal(identity.fido2, true);
    const again = await h.token({
      grant_type: DEVICE_GRANT,
      client_id: 'tv',
      device_code: grant.device_code ?? '',
    });
    assert.equal(again.json.error, 'invalid_grant', 'a device code is single use');
  });
});
