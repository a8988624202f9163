// reliability.md E27: redirect_uri is compared byte for byte with what the client
// registered, and a mismatch renders a 400 error page at the provider — never a redirect,
// since redirecting to an unverified URI is the open redirect (Keycloak CVE-2022-3782,
// CVE-2024-1132, CVE-2024-8883; RFC 6749 §4.1.2.1). Only a native client's loopback
// redirect may vary its port (RFC 8252 §7.3).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Browser, CLI, startHarness, type Harness } from './harness.ts';

const REGISTERED = 'https://client.example.com/cb';
const LOCAL = 'http://localhost:3000/cb';

describe('E27: redirect_uri exact matching', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      idp: { clients: [{ client_id: 'webapp', redirect_uris: [REGISTERED, LOCAL] }] },
    });
  });
  after(() => h.close());

  async function refused(clientId: string, redirectUri: string | undefined): Promise<void> {
    const params: Record<string, string> = { client_id: clientId };
    if (redirectUri !== undefined) params.redirect_uri = redirectUri;
    const { response } = await h.start(params, new Browser());
    const body = await response.text();
    const label = `${clientId} ${redirectUri ?? '(none)'}`;
    assert.equal(response.status, 400, label);
    assert.equal(response.headers.get('location'), null, `${label}: must not redirect`);
    assert.match(String(response.headers.get('content-type')), /^text\/html/);
    assert.match(body, /Sign-in failed/);
    assert.match(body, /invalid_redirect_uri|invalid_request|invalid_client/);
    assert.ok(!body.includes('evil'), `${label}: the page does not echo the URI`);
    assert.match(String(response.headers.get('content-security-policy')), /frame-ancestors 'none'/);
  }

  const webVariants = [
    'https://client.example.com:443/cb',
    'https://CLIENT.EXAMPLE.COM/cb',
    'https://client.example.com/cb/',
    'https://client.example.com/cb/../x',
    'https://client.example.com/cb/%2e%2e/x',
    'https://client.example.com/cb/%252e%252e/x',
    'https://client.example.com/cb?next=https://evil.example',
    'https://client.example.com/cb#frag',
    'https://client.example.com@evil.example/cb',
    'https://evil.example@client.example.com/cb',
    'https://user:pass@client.example.com/cb',
    'https://client.example.com.evil.example/cb',
    'http://client.example.com/cb',
    'http://localhost:3001/cb', // another localhost port: exact for a web client
    'http://127.0.0.1:3000/cb',
    'https://evil.example/cb',
  ];

  for (const variant of webVariants) {
    it(`web client: ${variant} → 400 page, no Location`, () => refused('webapp', variant));
  }

  it('web client: a missing redirect_uri → 400 page (never a default)', () =>
    refused('webapp', undefined));

  const nativeVariants = [
    'http://localhost:53682/callback', // only IP literals are registered (RFC 8252 §8.3)
    'http://127.0.0.1:53682/callback/',
    'http://127.0.0.1:53682/other',
    'http://evil@127.0.0.1:53682/callback',
    'http://127.0.0.1:53682@evil.example/callback',
    'http://127.0.0.2:53682/callback',
    'https://127.0.0.1:53682/callback',
    'http://127.0.0.1:53682/callback/../callback',
    'http://127.0.0.1:port/callback',
  ];

  for (const variant of nativeVariants) {
    it(`pgkey-cli: ${variant} → 400 page, no Location`, () => refused(CLI, variant));
  }

  it('unknown client_id → 400 page, no Location', () => refused('nobody', REGISTERED));

  it('the registered URIs, and any loopback port for pgkey-cli, are accepted', async () => {
    for (const [clientId, uri] of [
      ['webapp', REGISTERED],
      ['webapp', LOCAL],
      [CLI, 'http://127.0.0.1:1/callback'],
      [CLI, 'http://127.0.0.1:65535/callback'],
      [CLI, 'http://[::1]:40000/callback'],
    ] as const) {
      const { response, url } = await h.start(
        { client_id: clientId, redirect_uri: uri },
        new Browser(),
      );
      assert.equal(response.status, 200, `${clientId} ${uri}`);
      assert.match(url, /\/interaction\/[\w-]+$/);
    }
  });
});
