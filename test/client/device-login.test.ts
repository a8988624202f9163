// `pgkey login --device` (RFC 8628) against the built-in provider alone: refused clearly when
// the provider has no device endpoint or does not allow pgkey-cli the grant, and completed
// (code, confirm page, key) when `idp.cli_device_flow` is on. The browser here is fetch with
// the soft authenticator; test/e2e/login-device.test.ts does the same in Chromium.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadProfile } from '../../src/client/profiles.ts';
import { readTokenCache } from '../../src/client/token-cache.ts';
import { Browser, startHarness, type Harness } from '../idp/provider/harness.ts';
import { ClientHome, DEVICE_PROMPT } from './client-fixture.ts';

function form(html: string): { action: string; fields: Record<string, string> } {
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
  assert.ok(action !== undefined, 'a form');
  const fields: Record<string, string> = {};
  for (const match of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) {
    fields[match[1] ?? ''] = match[2] ?? '';
  }
  return { action, fields };
}

async function withProvider(
  idp: Record<string, unknown>,
  fn: (h: Harness, home: ClientHome) => Promise<void>,
): Promise<void> {
  const h = await startHarness({ idp });
  const home = await ClientHome.create();
  try {
    await fn(h, home);
  } finally {
    await home.close();
    await h.close();
  }
}

const loginArgs = (h: Harness) => [
  'login',
  '--device',
  '--profile',
  'dev',
  '--issuer',
  h.issuer,
  '--gateway',
  'localhost:6432',
];

describe('pgkey login --device', { timeout: 120_000 }, () => {
  it('a provider without a device endpoint: a clear refusal, no cache', () =>
    withProvider({}, async (h, home) => {
      const result = await home.run(...loginArgs(h));
      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        /^pgkey: the provider http:\/\/localhost:\d+ offers no device login \(RFC 8628: no device_authorization_endpoint\)$/m,
      );
      assert.match(result.stderr, /hint: .*idp\.cli_device_flow: true/);
      assert.equal(await readTokenCache(await loadProfile(home.env, 'dev')), undefined);
    }));

  it('a provider that allows the grant to other clients only: unauthorized_client, explained', () =>
    withProvider(
      {
        clients: [{ client_id: 'tv', redirect_uris: ['https://tv.example/cb'], device_flow: true }],
      },
      async (h, home) => {
        const result = await home.run(...loginArgs(h), '--json');
        assert.equal(result.code, 1);
        const { error } = JSON.parse(result.stdout) as { error: Record<string, string> };
        assert.equal(error.code, 'ERR_LOGIN_FAILED');
        assert.match(
          error.message ?? '',
          /does not allow client "pgkey-cli" the device login \(unauthorized_client\)/,
        );
      },
    ));

  it('with idp.cli_device_flow: code, confirmation, key → cached tokens', () =>
    withProvider({ cli_device_flow: true }, async (h, home) => {
      const running = home.start(...loginArgs(h));
      const [, link, code] = await running.stderr.waitFor(DEVICE_PROMPT);
      assert.match(running.stderr.text, /If someone sent you a code or link, stop\./);
      const browser = new Browser();
      const landing = await browser.fetch(link!);
      const submit = form(await landing.text());
      const confirm = await browser.fetch(submit.action, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(submit.fields),
      });
      const confirmPage = await confirm.text();
      assert.ok(confirmPage.includes(code!), 'the confirm page shows the code the CLI printed');
      const toLogin = await browser.fetch(form(confirmPage).action, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form(confirmPage).fields),
      });
      const page = await h.follow(
        browser,
        new URL(String(toLogin.headers.get('location')), h.issuer).href,
      );
      const signedIn = await h.signIn(browser, page.url);
      assert.equal(signedIn.status, 200);
      await h.follow(browser, String(signedIn.body.redirectTo));

      const result = await running.done;
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^Logged in as ada@example\.com \(profile dev\)/);
      const cached = await readTokenCache(await loadProfile(home.env, 'dev'));
      assert.equal(cached?.via, 'device');
      assert.equal(cached?.identity.email, 'ada@example.com');
      assert.ok(cached?.refresh_token);
    }));
});
