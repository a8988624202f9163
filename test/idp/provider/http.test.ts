// The provider's HTTP surface: the discovery document, the headers every response carries,
// the static assets, and the guard in front of the sign-in endpoints (same origin, JSON
// only, capped body, the interaction cookie naming the interaction in the URL, a challenge
// issued for this interaction).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Browser, startHarness, type Harness } from './harness.ts';

describe('discovery and JWKS', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('describes a code + PKCE S256 provider with iss in responses and no device endpoint', async () => {
    const response = await fetch(`${h.issuer}/.well-known/openid-configuration`);
    assert.equal(response.status, 200);
    const doc = (await response.json()) as Record<string, unknown>;
    assert.equal(doc.issuer, h.issuer);
    for (const key of [
      'authorization_endpoint',
      'token_endpoint',
      'jwks_uri',
      'userinfo_endpoint',
    ]) {
      assert.ok(String(doc[key]).startsWith(`${h.issuer}/`), key);
    }
    assert.deepEqual(doc.code_challenge_methods_supported, ['S256']);
    assert.equal(doc.authorization_response_iss_parameter_supported, true);
    assert.equal(doc.device_authorization_endpoint, undefined);
    assert.deepEqual(doc.response_types_supported, ['code']);
    assert.deepEqual(doc.grant_types_supported, ['authorization_code', 'refresh_token']);
    assert.deepEqual(doc.id_token_signing_alg_values_supported, ['ES256']);
    assert.deepEqual(doc.acr_values_supported, ['phrh', 'phr']);
    assert.ok((doc.claims_supported as string[]).includes('groups'));
  });

  it('publishes public ES256 keys only', async () => {
    const jwks = (await (await fetch(`${h.issuer}/jwks`)).json()) as {
      keys: Record<string, unknown>[];
    };
    assert.equal(jwks.keys.length, 1);
    const [key] = jwks.keys;
    assert.deepEqual(
      { kty: key?.kty, crv: key?.crv, alg: key?.alg, use: key?.use, kid: key?.kid, d: key?.d },
      { kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: h.idp.signingKid(), d: undefined },
    );
  });

  it('with a client that opts into the device grant, advertises its endpoint', async () => {
    const device = await startHarness({ idp: { cli_device_flow: true } });
    try {
      const doc = (await (
        await fetch(`${device.issuer}/.well-known/openid-configuration`)
      ).json()) as Record<string, unknown>;
      assert.equal(doc.device_authorization_endpoint, `${device.issuer}/device/auth`);
    } finally {
      await device.close();
    }
  });
});

describe('pages, headers and assets', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  it('the sign-in page: CSP without inline script, no framing, no external resources', async () => {
    const { response, url } = await h.start({}, new Browser());
    assert.equal(response.status, 200);
    assert.match(url, /\/interaction\/[\w-]+$/);
    const csp = String(response.headers.get('content-security-policy'));
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
    assert.equal(response.headers.get('x-frame-options'), 'DENY');
    assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(response.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(response.headers.get('cache-control'), 'no-store');
    const html = await response.text();
    assert.match(html, /Sign in with your security key or passkey/);
    assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)[^>]*>/, 'no inline script');
    assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i, 'no inline style or handlers');
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//, 'no other origin');
    for (const src of html.matchAll(/(?:src|href)="([^"]+)"/g)) {
      const asset = await fetch(`${h.origin}${src[1] ?? ''}`);
      assert.equal(asset.status, 200, src[1]);
      assert.equal(asset.headers.get('x-content-type-options'), 'nosniff');
    }
  });

  it('serves the @simplewebauthn/browser bundle, login.js and the stylesheet', async () => {
    const bundle = await fetch(`${h.issuer}/assets/simplewebauthn-browser.umd.min.js`);
    assert.match(String(bundle.headers.get('content-type')), /^text\/javascript/);
    assert.match(await bundle.text(), /SimpleWebAuthnBrowser/);
    const script = await fetch(`${h.issuer}/assets/login.js`);
    assert.match(await script.text(), /startAuthentication/);
    const css = await fetch(`${h.issuer}/assets/pgkey.css`);
    assert.match(String(css.headers.get('content-type')), /^text\/css/);
    const etag = String(css.headers.get('etag'));
    assert.equal(
      (await fetch(`${h.issuer}/assets/pgkey.css`, { headers: { 'if-none-match': etag } })).status,
      304,
    );
    for (const path of [
      '/assets/nope.js',
      '/assets/../package.json',
      '/assets/%2e%2e/package.json',
    ]) {
      assert.equal((await fetch(`${h.origin}${path}`)).status, 404, path);
    }
  });

  it('an unknown or expired interaction renders a 400 page, not a stack trace', async () => {
    const page = await new Browser().fetch(`${h.issuer}/interaction/unknownuid`);
    assert.equal(page.status, 400);
    assert.match(await page.text(), /expired/);
    assert.equal((await fetch(`${h.issuer}/interaction/a/b/c`)).status, 404);
  });
});

describe('the sign-in endpoints refuse what a page of ours would not send', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.close());

  async function interaction(): Promise<{ browser: Browser; url: string }> {
    const browser = new Browser();
    const { response, url } = await h.start({}, browser);
    assert.equal(response.status, 200);
    return { browser, url };
  }

  const json = { 'content-type': 'application/json' };

  it('a foreign or missing Origin, or a cross-site fetch, is 403', async () => {
    const { browser, url } = await interaction();
    for (const headers of [
      json,
      { ...json, origin: 'https://evil.example' },
      { ...json, origin: 'null' },
      { ...json, origin: h.origin, 'sec-fetch-site': 'cross-site' },
    ]) {
      const response = await browser.fetch(`${url}/webauthn/options`, {
        method: 'POST',
        headers,
        body: '{}',
      });
      assert.equal(response.status, 403, JSON.stringify(headers));
    }
  });

  it('anything but application/json is 415; a body over 64 KiB is 413', async () => {
    const { browser, url } = await interaction();
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data']) {
      const response = await browser.fetch(`${url}/webauthn/options`, {
        method: 'POST',
        headers: { 'content-type': type, origin: h.origin },
        body: '{}',
      });
      assert.equal(response.status, 415, type);
    }
    const big = await browser.fetch(`${url}/webauthn/verify`, {
      method: 'POST',
      headers: { ...json, origin: h.origin },
      body: JSON.stringify({ pad: 'x'.repeat(70 * 1024) }),
    });
    assert.equal(big.status, 413);
    const notJson = await browser.fetch(`${url}/webauthn/verify`, {
      method: 'POST',
      headers: { ...json, origin: h.origin },
      body: '{"challengeId":',
    });
    assert.equal(notJson.status, 400);
  });

  it('wrong methods are 405', async () => {
    const { browser, url } = await interaction();
    assert.equal((await browser.fetch(`${url}/webauthn/options`)).status, 405);
    const post = await browser.fetch(url, {
      method: 'POST',
      headers: { ...json, origin: h.origin },
      body: '{}',
    });
    assert.equal(post.status, 405);
  });

  it('without the interaction cookie, or with the cookie of another interaction, nothing happens', async () => {
    const first = await interaction();
    const second = await interaction();
    const headers = { ...json, origin: h.origin };
    const noCookie = await fetch(`${first.url}/webauthn/options`, {
      method: 'POST',
      headers,
      body: '{}',
    });
    assert.equal(noCookie.status, 400);
    assert.equal(((await noCookie.json()) as { error: string }).error, 'interaction_expired');
    // A valid, signed cookie of the second interaction, sent to the first one's URL.
    const cookie = second.browser.cookieHeader(`${second.url}/webauthn/options`);
    assert.match(cookie, /_interaction=[\w-]+; _interaction\.sig=/);
    for (const url of [first.url, second.url]) {
      const page = await fetch(url, { headers: { cookie } });
      assert.equal(page.status, url === second.url ? 200 : 400);
      const options = await fetch(`${url}/webauthn/options`, {
        method: 'POST',
        headers: { ...headers, cookie },
        body: '{}',
      });
      assert.equal(options.status, url === second.url ? 200 : 400);
    }
    // An unsigned cookie naming the interaction is not enough.
    const uid = first.url.split('/').pop() ?? '';
    const forged = await fetch(`${first.url}/webauthn/options`, {
      method: 'POST',
      headers: { ...headers, cookie: `_interaction=${uid}` },
      body: '{}',
    });
    assert.equal(forged.status, 400);
  });

  it('a key response to a challenge of another interaction is refused', async () => {
    const a = await interaction();
    const b = await interaction();
    const post = (browser: Browser, url: string, body: unknown) =>
      browser.fetch(url, {
        method: 'POST',
        headers: { ...json, origin: h.origin },
        body: JSON.stringify(body),
      });
    const started = (await (await post(a.browser, `${a.url}/webauthn/options`, {})).json()) as {
      challengeId: string;
      options: never;
    };
    const response = await h.authenticator.get(started.options, { origin: h.origin });
    const verify = await post(b.browser, `${b.url}/webauthn/verify`, {
      challengeId: started.challengeId,
      response,
    });
    assert.equal(verify.status, 400);
    assert.equal(((await verify.json()) as { error: string }).error, 'challenge_mismatch');
    const malformed = await post(b.browser, `${b.url}/webauthn/verify`, { challengeId: 1 });
    assert.equal(malformed.status, 400);
  });

  it('a failed ceremony says why without a redirect, and the page can retry', async () => {
    const { browser, url } = await interaction();
    const bad = await h.signIn(browser, url, { corruptSignature: true });
    assert.ok(bad.status === 400 || bad.status === 401, JSON.stringify(bad.body));
    assert.equal(bad.body.redirectTo, undefined);
    assert.equal(typeof bad.body.message, 'string');
    const good = await h.signIn(browser, url);
    assert.equal(good.status, 200);
    assert.ok(String(good.body.redirectTo).startsWith(`${h.issuer}/`));
  });
});

describe('an issuer below a path', () => {
  it('serves everything below the path and signs people in', async () => {
    const h = await startHarness({ issuerPath: '/idp' });
    try {
      const doc = (await (
        await fetch(`${h.issuer}/.well-known/openid-configuration`)
      ).json()) as Record<string, unknown>;
      assert.equal(doc.issuer, h.issuer);
      assert.equal(doc.jwks_uri, `${h.issuer}/jwks`);
      assert.equal((await fetch(`${h.origin}/.well-known/openid-configuration`)).status, 404);
      const tokens = await h.login();
      const identity = await (await h.verifier()).verify(String(tokens.access_token));
      assert.equal(identity.issuer, h.issuer);
    } finally {
      await h.close();
    }
  });
});
