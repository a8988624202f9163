// In a real browser: open an invite link, register a key with Chromium's virtual
// authenticator, land on "My keys", sign out and in again, then run an authorization code
// flow with PKCE for a test client and read the access token's `acr`: a device-bound key
// with trusted attestation (BE=0) earns `phrh`, a synced passkey (BE=1, BS=1) `phr`.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { createInvite } from '../../../src/idp/pages/invites.ts';
import { cryptoRandom } from '../../../src/runtime/random.ts';
import { decodeJwt } from '../provider/harness.ts';
import { chromiumAttestationRoot } from './chromium-attestation.ts';
import {
  addVirtualAuthenticator,
  launchChromium,
  NO_CHROMIUM,
  pkce,
  screenshot,
  startLocalServer,
  startProvider,
  type Chromium,
  type LocalServer,
  type Provider,
  type VirtualAuthenticator,
} from './chromium-harness.ts';

const CHROMIUM_AAGUID = '01020304-0506-0708-0102-030405060708';
const TIMEOUT = { timeout: 120_000 };

describe('the account pages in Chromium', { skip: NO_CHROMIUM, timeout: 300_000 }, () => {
  let chrome: Chromium;
  let local: LocalServer;
  let provider: Provider;
  before(async () => {
    chrome = await launchChromium();
    local = await startLocalServer();
    const root = await chromiumAttestationRoot(chrome.page, local.origin);
    provider = await startProvider({ trustedRootPem: root, redirectUri: local.redirectUri });
  });
  after(async () => {
    await chrome?.close();
    await provider?.close();
    await local?.close();
  });

  async function invite(email: string): Promise<string> {
    const { link } = await createInvite(provider.directory, {
      email,
      createdBy: 'browser-test',
      ttlMs: provider.config.invite_ttl,
      now: Date.now(),
      random: cryptoRandom,
      issuer: provider.issuer,
    });
    return link;
  }

  /** Clicks the page's ceremony button and waits for where it leads. */
  async function ceremony(page: Page, button: string, destination: RegExp): Promise<void> {
    const go = page.getByRole('button', { name: button });
    await go.waitFor({ state: 'visible' });
    await page.waitForFunction(`!document.querySelector('[data-ceremony] button').disabled`);
    await Promise.all([page.waitForURL(destination), go.click()]);
  }

  /** authorize → the provider's sign-in page → the key → the callback; returns the tokens. */
  async function codeFlow(page: Page): Promise<Record<string, unknown>> {
    const proof = pkce();
    const state = randomBytes(8).toString('hex');
    const authorize = new URL(`${provider.issuer}/auth`);
    authorize.search = new URLSearchParams({
      client_id: 'browser-app',
      redirect_uri: local.redirectUri,
      response_type: 'code',
      scope: 'openid email groups',
      code_challenge: proof.challenge,
      code_challenge_method: 'S256',
      state,
    }).toString();
    await page.goto(authorize.href);
    await page.waitForURL(/\/interaction\/[\w-]+$/);
    const signIn = page.locator('#signin');
    await page.waitForFunction(`!document.getElementById('signin').disabled`);
    const callback = `${local.redirectUri}?**`;
    await Promise.all([page.waitForURL(callback), signIn.click()]);
    const params = local.callbacks.at(-1);
    assert.ok(params !== undefined, 'the callback was reached');
    assert.equal(params.get('state'), state);
    assert.equal(params.get('iss'), provider.issuer, 'RFC 9207');
    const code = params.get('code');
    assert.ok(code !== null);
    const response = await fetch(`${provider.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        client_id: 'browser-app',
        code,
        redirect_uri: local.redirectUri,
        code_verifier: proof.verifier,
      }),
    });
    const tokens = (await response.json()) as Record<string, unknown>;
    assert.equal(response.status, 200, JSON.stringify(tokens));
    return tokens;
  }

  describe('a device-bound security key (BE=0) with trusted attestation', () => {
    const email = `ada-${randomBytes(3).toString('hex')}@example.com`;
    let key: VirtualAuthenticator;
    before(async () => {
      const cdp = await chrome.context.newCDPSession(chrome.page);
      key = await addVirtualAuthenticator(cdp, { backupEligible: false, backupState: false });
    });
    after(() => key?.remove());

    it('enrolls from an invite link and lands on "My keys" showing the key', TIMEOUT, async () => {
      const { page } = chrome;
      await page.goto(await invite(email));
      await page.getByRole('heading', { name: 'Register your security key or passkey' }).waitFor();
      await page.getByLabel('Name for this key (optional)').fill('Desk key');
      await ceremony(page, 'Register your key', /\/me\?notice=enrolled$/);
      await page.getByRole('heading', { name: 'My keys' }).waitFor();
      const row = page.getByRole('row', { name: /Desk key/ });
      await row.waitFor();
      const text = await row.innerText();
      assert.match(text, /Device-bound/);
      assert.match(text, /verified/, 'the attestation chained to the captured root');
      assert.match(text, /Active/);
      assert.match(await page.locator('.notice').innerText(), /registered and you are signed in/);
      const [credential] = await provider.directory.credentials.list();
      assert.equal(credential?.aaguid, CHROMIUM_AAGUID);
      assert.equal(credential.attested, true);
      assert.equal(credential.backupEligible, false);
      const cookies = await chrome.context.cookies(provider.issuer);
      const session = cookies.find((c) => c.name === 'pgkey_session');
      assert.equal(session?.httpOnly, true);
      assert.equal(session.sameSite, 'Strict');
      assert.equal(session.path, '/');
      await screenshot(page, 'me.png');
    });

    it('signs out, then signs in again with the key', TIMEOUT, async () => {
      const { page } = chrome;
      await Promise.all([
        page.waitForURL(/\/login\?notice=signed-out$/),
        page.getByRole('button', { name: 'Sign out' }).click(),
      ]);
      assert.match(await page.locator('.notice').innerText(), /You are signed out/);
      assert.equal((await chrome.context.cookies(provider.issuer)).length, 0);
      await ceremony(page, 'Sign in with your security key or passkey', /\/me$/);
      await page.getByRole('row', { name: /Desk key/ }).waitFor();
      assert.doesNotMatch(await page.getByRole('row', { name: /Desk key/ }).innerText(), /never/);
    });

    it('runs the code flow with PKCE: the access token says acr phrh', TIMEOUT, async () => {
      const tokens = await codeFlow(chrome.page);
      const { payload } = decodeJwt(tokens.access_token);
      assert.equal(payload.iss, provider.issuer);
      assert.equal(payload.acr, 'phrh');
      assert.deepEqual(payload.amr, ['pop', 'hwk', 'user', 'mfa']);
      assert.equal(payload.device_bound, true);
      assert.equal(payload.aaguid, CHROMIUM_AAGUID);
      assert.equal(payload.email, email);
      assert.equal(decodeJwt(tokens.id_token).payload.acr, 'phrh');
    });
  });

  describe('a synced passkey (BE=1, BS=1)', () => {
    const email = `grace-${randomBytes(3).toString('hex')}@example.com`;
    let key: VirtualAuthenticator;
    before(async () => {
      // A new person in a browser without the first one's key or cookies.
      await chrome.context.clearCookies();
      const cdp = await chrome.context.newCDPSession(chrome.page);
      key = await addVirtualAuthenticator(cdp, { backupEligible: true, backupState: true });
    });
    after(() => key?.remove());

    it('enrolls, and the code flow gives acr phr', TIMEOUT, async () => {
      const { page } = chrome;
      await page.goto(await invite(email));
      await ceremony(page, 'Register your key', /\/me\?notice=enrolled$/);
      const row = page.locator('tbody tr').first();
      assert.match(await row.innerText(), /Synced passkey/);
      const tokens = await codeFlow(page);
      const { payload } = decodeJwt(tokens.access_token);
      assert.equal(payload.acr, 'phr');
      assert.deepEqual(payload.amr, ['pop', 'swk', 'user', 'mfa']);
      assert.equal(payload.device_bound, false);
      assert.equal(payload.email, email);
    });
  });
});
