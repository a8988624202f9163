// The admin page in a real browser: an administrator enrolled with Chromium's virtual
// authenticator opens /admin, terminates a live gateway session and revokes someone's key
// with the page's own buttons.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createInvite } from '../../../src/idp/pages/invites.ts';
import { cryptoRandom } from '../../../src/runtime/random.ts';
import type { Credential, User } from '../../../src/store/directory.ts';
import { FakeLiveSessions } from '../pages/harness.ts';
import { chromiumAttestationRoot } from './chromium-attestation.ts';
import {
  addVirtualAuthenticator,
  launchChromium,
  NO_CHROMIUM,
  screenshot,
  startLocalServer,
  startProvider,
  type Chromium,
  type LocalServer,
  type Provider,
} from './chromium-harness.ts';

const TIMEOUT = { timeout: 120_000 };

describe('the admin page in Chromium', { skip: NO_CHROMIUM, timeout: 300_000 }, () => {
  let chrome: Chromium;
  let local: LocalServer;
  let provider: Provider;
  const live = new FakeLiveSessions();
  let target: { user: User; credential: Credential };

  before(async () => {
    chrome = await launchChromium();
    local = await startLocalServer();
    const root = await chromiumAttestationRoot(chrome.page, local.origin);
    provider = await startProvider({
      trustedRootPem: root,
      redirectUri: local.redirectUri,
      sessions: live,
    });
    const cdp = await chrome.context.newCDPSession(chrome.page);
    await addVirtualAuthenticator(cdp, { backupEligible: false, backupState: false });

    // The administrator enrolls in the browser (a fresh sign-in, as the page requires).
    const { link, user } = await createInvite(provider.directory, {
      email: 'root@example.com',
      displayName: 'Root',
      createdBy: 'browser-test',
      ttlMs: provider.config.invite_ttl,
      now: Date.now(),
      random: cryptoRandom,
      issuer: provider.issuer,
    });
    await provider.directory.users.addGroup(user.id, provider.config.admin_group);
    const { page } = chrome;
    await page.goto(link);
    await page.waitForFunction(`!document.querySelector('[data-ceremony] button').disabled`);
    await Promise.all([
      page.waitForURL(/\/me\?notice=enrolled$/),
      page.getByRole('button', { name: 'Register your key' }).click(),
    ]);

    // Someone else, with a key registered directly (an id the page will show), and a live
    // database session of theirs in the gateway's registry.
    const other = await provider.directory.users.create({
      id: randomBytes(16).toString('base64url'),
      email: 'bob@example.com',
      displayName: 'Bob',
      now: Date.now(),
    });
    const credential = await provider.directory.credentials.add({
      id: randomBytes(32).toString('base64url'),
      userId: other.id,
      publicKey: new Uint8Array([1, 2, 3]),
      signCount: 0,
      transports: ['usb'],
      aaguid: '00000000-0000-0000-0000-000000000000',
      backupEligible: false,
      backupState: false,
      attestationFormat: 'none',
      attested: false,
      name: 'Bob’s key',
      createdAt: Date.now() - 86_400_000,
    });
    target = { user: other, credential };
    live.sessions = [
      {
        id: 'gw-1',
        subject: other.id,
        email: other.email,
        role: 'bob',
        database: 'orders',
        clientAddress: '203.0.113.7:51234',
        startedAt: Date.now() - 120_000,
        credentialId: credential.id,
      },
    ];
  });
  after(async () => {
    await chrome?.close();
    await provider?.close();
    await local?.close();
  });

  it('shows people, keys and live sessions', TIMEOUT, async () => {
    const { page } = chrome;
    await page.getByRole('link', { name: 'Administration' }).click();
    await page.getByRole('heading', { name: 'Administration' }).waitFor();
    await page.getByRole('heading', { name: 'Live sessions' }).waitFor();
    assert.match(await page.locator('#sessions').innerText(), /203\.0\.113\.7:51234/);
    assert.match(await page.locator('#people').innerText(), /bob@example\.com/);
    await screenshot(page, 'admin.png');
  });

  it('terminates a session with the Terminate button', TIMEOUT, async () => {
    const { page } = chrome;
    const row = page.locator('#sessions tbody tr', { hasText: 'bob@example.com' });
    await row.getByRole('textbox').fill('suspicious query');
    await Promise.all([
      page.waitForURL(/\/admin\?notice=session-terminated$/),
      row.getByRole('button', { name: 'Terminate' }).click(),
    ]);
    assert.match(await page.locator('.notice').innerText(), /The session is terminated/);
    assert.deepEqual(live.terminated, [{ id: 'gw-1', reason: 'suspicious query' }]);
    assert.match(await page.locator('#sessions').innerText(), /None\./);
  });

  it('revokes a key with the Revoke button', TIMEOUT, async () => {
    const { page } = chrome;
    const row = page.locator('#keys tbody tr', { hasText: 'Bob’s key' });
    await row.getByRole('textbox').fill('reported lost');
    await Promise.all([
      page.waitForURL(/\/admin\?notice=key-revoked$/),
      row.getByRole('button', { name: 'Revoke' }).click(),
    ]);
    assert.match(await page.locator('.notice').innerText(), /The key is revoked/);
    const key = await provider.directory.credentials.get(target.credential.id);
    assert.equal(key?.revokedReason, 'reported lost');
    assert.match(
      await page.locator('#keys tbody tr', { hasText: 'Bob’s key' }).innerText(),
      /Removed/,
    );
  });
});
