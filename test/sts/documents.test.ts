import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { freePort } from '../../src/demo/free-port.ts';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';
import { TokenServiceClient } from '../../src/sts/service-client.ts';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';

/**
 * The token service over https (reusing the gateway's certificate, `listen.tls`): what
 * `pgkey login <url>` bootstraps from, what `pgkey status` asks (whoami), and the discovery
 * document and JWKS that let any verifier check its tokens.
 */
const POLICY = [
  { name: 'dba', match: { groups: ['dba'] }, databases: ['*'], roles: ['app_owner'] },
  {
    name: 'analysts',
    match: { groups: ['analytics'] },
    databases: ['warehouse'],
    roles: ['analyst', 'reporting'],
  },
  {
    name: 'fresh-reports',
    match: { groups: ['reports'] },
    databases: ['postgres'],
    roles: ['reporting'],
    fresh_auth: '1m',
  },
  {
    name: 'bot',
    match: { actor: ['agent:report-bot'] },
    databases: ['warehouse'],
    roles: ['reporting'],
  },
];

describe('token service: bootstrap, whoami, discovery', () => {
  let h: GatewayHarness;
  let port: number;
  let sts: TokenServiceClient;
  before(async () => {
    port = await freePort();
    h = await startGatewayHarness({
      policy: POLICY,
      tokenService: {
        issuer: `https://localhost:${port}`,
        address: `127.0.0.1:${port}`,
        publish_gateway_ca: 'gateway-ca.pem',
      },
    });
    sts = new TokenServiceClient({
      url: `https://localhost:${port}`,
      ca: await readFile(h.clientCaFile, 'utf8'),
    });
  });
  after(async () => {
    await h?.close();
  });

  it('publishes the bootstrap document pgkey login reads', async () => {
    const document = await sts.bootstrap();
    assert.deepEqual(document, {
      issuer: h.issuer.issuer,
      client_id: 'pgkey-cli',
      gateway: { host: 'localhost', port: h.gateway.port },
      gateway_ca_pem: await readFile(h.clientCaFile, 'utf8'),
      token_service: `https://localhost:${port}`,
    });
  });

  it('is not reachable without trusting its certificate', async () => {
    const untrusting = new TokenServiceClient({ url: `https://localhost:${port}` });
    await assert.rejects(untrusting.bootstrap(), (error) =>
      isPgkeyError(error, 'ERR_PROVIDER_UNAVAILABLE'),
    );
  });

  it('whoami lists every database and role the gateway would open now', async () => {
    const token = await h.token(['analytics', 'dba', 'reports'], { credential_id: 'k1' });
    const view = await sts.whoami(token);
    assert.deepEqual(view.identity, {
      issuer: h.issuer.issuer,
      subject: 'alice',
      email: 'alice@example.com',
      groups: ['analytics', 'dba', 'reports'],
      kind: 'human',
      actor: null,
      fido2: true,
      auth_time: view.identity.auth_time,
      expires_at: view.identity.expires_at,
      credential_id: 'k1',
    });
    assert.ok(Date.parse(view.identity.expires_at) > Date.now());
    assert.deepEqual(view.grants, [
      { database: '*', role: 'app_owner', rule: 'dba' },
      { database: 'warehouse', role: 'analyst', rule: 'analysts' },
      { database: 'warehouse', role: 'reporting', rule: 'analysts' },
      { database: 'postgres', role: 'reporting', rule: 'fresh-reports' },
    ]);

    const stale = await h.token(['reports'], { auth_time: Math.floor(Date.now() / 1000) - 300 });
    assert.deepEqual((await sts.whoami(stale)).grants, [], 'fresh_auth applies as at login');

    const agent = await sts.exchange(await h.token(['analytics']), 'report-bot');
    const delegated = await sts.whoami(agent.access_token);
    assert.equal(delegated.identity.kind, 'delegated');
    assert.equal(delegated.identity.actor, 'agent:report-bot');
    assert.deepEqual(delegated.grants, [{ database: 'warehouse', role: 'reporting', rule: 'bot' }]);

    const minted = await sts.mint(await h.token(['analytics']), {
      name: 'job',
      database: 'warehouse',
      role: 'analyst',
    });
    const service = await sts.whoami(minted.access_token);
    assert.equal(service.identity.kind, 'workload');
    assert.equal(service.identity.subject, 'svc:job');
    assert.deepEqual(service.grants, [
      { database: 'warehouse', role: 'analyst', rule: 'minted:analysts' },
    ]);
  });

  it('refuses whoami without a valid token', async () => {
    await assert.rejects(sts.whoami('garbage'), (error) =>
      isPgkeyError(error, 'ERR_TOKEN_INVALID'),
    );
  });

  it('publishes discovery and a JWKS that verify its tokens', async () => {
    const base = `https://localhost:${port}`;
    const ca = await readFile(h.clientCaFile, 'utf8');
    const discovery = await getJson(`${base}/.well-known/openid-configuration`, ca);
    assert.equal(discovery.issuer, base);
    assert.equal(discovery.jwks_uri, `${base}/jwks.json`);
    assert.equal(discovery.token_endpoint, `${base}/v1/token`);
    assert.deepEqual(discovery.grant_types_supported, [
      'urn:ietf:params:oauth:grant-type:token-exchange',
    ]);
    const jwks = (await getJson(`${base}/jwks.json`, ca)) as unknown as JSONWebKeySet;
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0]?.d, undefined, 'no private member is published');
    const agent = await sts.exchange(await h.token(['analytics']), 'report-bot');
    const { payload } = await jwtVerify(agent.access_token, createLocalJWKSet(jwks), {
      issuer: base,
      audience: 'pgkey',
      typ: 'at+jwt',
      algorithms: ['ES256'],
    });
    assert.equal(payload.sub, 'alice');
  });
});

function getJson(url: string, ca: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    request(url, { ca }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve(JSON.parse(text) as Record<string, unknown>));
    })
      .on('error', reject)
      .end();
  });
}
