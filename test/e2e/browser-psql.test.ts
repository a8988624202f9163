// The whole path a person takes, in a real browser: an invite link, a key registered with
// Chromium's virtual authenticator, `pgkey-cli`'s authorization code flow (what `pgkey login`
// runs), the access token, then real psql through the gateway landing as the mapped role.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createInvite } from '../../src/idp/pages/invites.ts';
import { cryptoRandom } from '../../src/runtime/random.ts';
import {
  addVirtualAuthenticator,
  launchChromium,
  NO_CHROMIUM,
  pkce,
  startLocalServer,
  type Chromium,
  type LocalServer,
} from '../idp/browser/chromium-harness.ts';
import { readAudit } from '../support/e2e-clients.ts';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';

describe(
  'browser enrollment to psql through the gateway',
  { skip: NO_CHROMIUM, timeout: 300_000 },
  () => {
    let h: GatewayHarness;
    let chrome: Chromium;
    let local: LocalServer;
    before(async () => {
      h = await startGatewayHarness({ idp: true });
      chrome = await launchChromium();
      local = await startLocalServer();
    });
    after(async () => {
      await chrome?.close();
      await local?.close();
      await h?.close();
    });

    it(
      'invite → key → pgkey-cli login → token → psql as analyst',
      { timeout: 120_000 },
      async () => {
        const idp = h.idp!;
        const email = `grace-${randomBytes(3).toString('hex')}@example.com`;
        const { page, context } = chrome;
        await addVirtualAuthenticator(await context.newCDPSession(page), {
          backupEligible: false,
          backupState: false,
        });
        const { link } = await createInvite(idp.directory, {
          email,
          createdBy: 'browser-psql-test',
          ttlMs: 600_000,
          now: Date.now(),
          random: cryptoRandom,
          issuer: idp.issuer,
        });
        const user = await idp.directory.users.findByEmail(email);
        await idp.directory.users.addGroup(user!.id, 'analytics');

        await page.goto(link);
        const register = page.getByRole('button', { name: 'Register your key' });
        await page.waitForFunction(`!document.querySelector('[data-ceremony] button').disabled`);
        await Promise.all([page.waitForURL(/\/me\?notice=enrolled$/), register.click()]);

        const proof = pkce();
        const state = randomBytes(8).toString('hex');
        const authorize = new URL(`${idp.issuer}/auth`);
        authorize.search = new URLSearchParams({
          client_id: 'pgkey-cli',
          redirect_uri: local.redirectUri,
          response_type: 'code',
          scope: 'openid email groups offline_access',
          code_challenge: proof.challenge,
          code_challenge_method: 'S256',
          state,
        }).toString();
        await page.goto(authorize.href);
        await page.waitForURL(/\/interaction\/[\w-]+$/);
        await page.waitForFunction(`!document.getElementById('signin').disabled`);
        await Promise.all([
          page.waitForURL(`${local.redirectUri}?**`),
          page.locator('#signin').click(),
        ]);
        const params = local.callbacks.at(-1)!;
        assert.equal(params.get('state'), state);
        const response = await fetch(`${idp.issuer}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            grant_type: 'authorization_code',
            client_id: 'pgkey-cli',
            code: params.get('code')!,
            redirect_uri: local.redirectUri,
            code_verifier: proof.verifier,
          }),
        });
        const tokens = (await response.json()) as { access_token?: string };
        assert.equal(response.status, 200, JSON.stringify(tokens));
        assert.ok(tokens.access_token);

        const result = await h.psql(tokens.access_token, [
          '-At',
          '-c',
          'SELECT current_user, current_database()',
        ]);
        assert.equal(result.stderr, '');
        assert.equal(result.stdout.trim(), 'analyst|warehouse');
        const audit = readAudit(h);
        const start = audit.find((e) => e.type === 'session.start' && e.email === email);
        assert.ok(start, 'session.start names the person');
        assert.equal(start.issuer, 'builtin');
        assert.equal(typeof start.credential_id, 'string');
      },
    );
  },
);
