// `pgkey login --device` on a provider with `idp.cli_device_flow: true`, the verification
// page driven in Chromium with a virtual authenticator: the CLI prints the link and code, the
// page shows the same code and where the request came from, the key is touched, the CLI's
// polling ends with cached tokens, and psql goes through the gateway with them.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { loadProfile } from '../../src/client/profiles.ts';
import { readTokenCache } from '../../src/client/token-cache.ts';
import { ClientHome, DEVICE_PROMPT } from '../client/client-fixture.ts';
import {
  enrollWithVirtualKey,
  launchChromium,
  NO_CHROMIUM,
  type Chromium,
} from '../idp/browser/chromium-harness.ts';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';

describe('pgkey login --device in Chromium', { skip: NO_CHROMIUM, timeout: 300_000 }, () => {
  let h: GatewayHarness;
  let chrome: Chromium;
  let home: ClientHome;
  const email = `dev-${randomBytes(3).toString('hex')}@example.com`;

  before(async () => {
    h = await startGatewayHarness({ idp: { cli_device_flow: true } });
    home = await ClientHome.create();
    chrome = await launchChromium();
    await enrollWithVirtualKey(chrome, h.idp!, {
      email,
      groups: ['analytics'],
      by: 'login-device-test',
    });
  });
  after(async () => {
    await chrome?.close();
    await home?.close();
    await h?.close();
  });

  it('code on the terminal, confirm and key in the browser, tokens in the cache', async () => {
    const running = home.start(
      'login',
      '--device',
      '--profile',
      'd',
      '--issuer',
      h.idp!.issuer,
      '--gateway',
      `localhost:${h.gateway.port}`,
      '--ca',
      h.clientCaFile,
    );
    const [, link, code] = await running.stderr.waitFor(DEVICE_PROMPT);
    const { page } = chrome;
    await page.goto(link!);
    // verification_uri_complete submits the code by itself and lands on the confirm page.
    await page.getByRole('heading', { name: 'Confirm the device' }).waitFor();
    assert.equal(await page.locator('code.user-code').textContent(), code);
    assert.match(
      (await page.locator('p.detail').textContent()) ?? '',
      /Requested from 127\.0\.0\.1/,
    );
    await Promise.all([
      page.waitForURL(/\/interaction\/[\w-]+$/),
      page.getByRole('button', { name: 'Continue' }).click(),
    ]);
    await page.waitForFunction(`!document.getElementById('signin').disabled`);
    await page.locator('#signin').click();
    await page.getByRole('heading', { name: 'Device connected' }).waitFor();

    const result = await running.done;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^Logged in as ${email} \\(profile d\\)`));
    const cached = await readTokenCache(await loadProfile(home.env, 'd'));
    assert.equal(cached?.via, 'device');
    assert.ok(cached?.refresh_token);

    const psql = await home.run(
      'psql',
      'warehouse',
      '--role',
      'analyst',
      '--profile',
      'd',
      '--',
      '-X',
      '-Atc',
      'select current_user',
    );
    assert.equal(psql.code, 0, psql.stderr);
    assert.equal(psql.stdout, 'analyst\n');
  });
});
