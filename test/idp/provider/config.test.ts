// The `idp:` section: what an operator gets by default, what the provider derives from it,
// and the client checks that happen at start-up (secret files). Cross-field rules are in
// test/config/rules.test.ts with every other rule.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PgkeyError } from '../../../src/errors/pgkey-error.ts';
import { loadClients } from '../../../src/idp/provider/clients.ts';
import { idpSettings, longestTokenLifetimeMs } from '../../../src/idp/provider/settings.ts';
import { idpConfig } from './harness.ts';

describe('idp configuration', () => {
  it('defaults: loopback listener, pgkey audience, 10m tokens, 12h sessions, UV required', () => {
    const config = idpConfig({ issuer: 'http://localhost:8080' });
    assert.equal(config.address, '127.0.0.1:8080');
    assert.equal(config.audience, 'pgkey');
    assert.equal(config.access_token_ttl, 600_000);
    assert.equal(config.session_max, 12 * 3_600_000);
    assert.equal(config.user_verification, 'required');
    assert.equal(config.cli_device_flow, false);
    assert.deepEqual(config.clients, []);
    assert.equal(config.trust_proxy, false);
    assert.deepEqual(config.authenticators, { attestation: 'none', require_attested: false });
    assert.equal(longestTokenLifetimeMs(config), 660_000);
  });

  it('derives RP ID, origins and the mount path from the issuer', () => {
    assert.deepEqual(
      { ...idpSettings(idpConfig({ issuer: 'https://login.example.com/idp' })) },
      {
        issuer: 'https://login.example.com/idp',
        origin: 'https://login.example.com',
        mountPath: '/idp',
        rpId: 'login.example.com',
        origins: ['https://login.example.com'],
        audience: 'pgkey',
        accessTokenTtlSeconds: 600,
        sessionMaxSeconds: 43_200,
      },
    );
    const explicit = idpSettings(
      idpConfig({
        issuer: 'https://login.example.com',
        rp_id: 'example.com',
        origins: ['https://login.example.com', 'https://sso.example.com'],
      }),
    );
    assert.equal(explicit.rpId, 'example.com');
    assert.deepEqual(explicit.origins, ['https://login.example.com', 'https://sso.example.com']);
  });

  it('refuses a configured client named pgkey-cli and unknown keys', () => {
    assert.throws(() =>
      idpConfig({
        issuer: 'http://localhost:8080',
        clients: [{ client_id: 'pgkey-cli', redirect_uris: ['https://x.example/cb'] }],
      }),
    );
    assert.throws(() => idpConfig({ issuer: 'http://localhost:8080', dev_interactions: true }));
  });

  it('builds the native CLI client and reads client secrets, refusing weak ones', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pgkey-clients-'));
    try {
      const good = join(dir, 'good');
      const weak = join(dir, 'weak');
      await writeFile(good, `${'s'.repeat(40)}\n`);
      await writeFile(weak, 'hunter2\n');
      const client = (file: string) => ({
        client_id: 'grafana',
        redirect_uris: ['https://grafana.example.com/cb'],
        client_secret_file: file,
        device_flow: true,
      });
      const setup = await loadClients(
        idpConfig({ issuer: 'http://localhost:8080', clients: [client(good)] }),
      );
      const [cli, grafana] = setup.metadata;
      assert.equal(cli?.application_type, 'native');
      assert.equal(cli?.token_endpoint_auth_method, 'none');
      assert.deepEqual(cli?.redirect_uris, ['http://127.0.0.1/callback', 'http://[::1]/callback']);
      assert.deepEqual(cli?.grant_types, ['authorization_code', 'refresh_token']);
      assert.equal(grafana?.client_secret, 's'.repeat(40));
      assert.equal(grafana?.token_endpoint_auth_method, 'client_secret_basic');
      assert.deepEqual([...setup.deviceClients], ['grafana']);
      assert.deepEqual([...setup.gatewayClients], ['pgkey-cli']);
      for (const file of [weak, join(dir, 'missing')]) {
        await assert.rejects(
          loadClients(idpConfig({ issuer: 'http://localhost:8080', clients: [client(file)] })),
          (error) => error instanceof PgkeyError && error.code === 'ERR_CONFIG',
        );
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
