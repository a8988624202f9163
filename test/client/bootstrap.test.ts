// `pgkey login URL`: the token service's /.well-known/pgkey-configuration becomes a profile
// (and a CA file next to profiles.yaml); wrong answers and plain http elsewhere are refused.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bootstrapProfile, fetchBootstrap } from '../../src/client/bootstrap.ts';
import { readProfiles } from '../../src/client/profiles.ts';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';
import { createTestCa } from '../support/test-pki.ts';

describe('bootstrap from a pgkey token service', () => {
  let server: Server;
  let base: string;
  let home: string;
  let caPem: string;
  const answers = new Map<string, { status: number; body: string }>();

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'pgkey-bootstrap-'));
    caPem = (await createTestCa('bootstrap test CA')).certPem;
    server = createServer((req, res) => {
      const prefix = (req.url ?? '').split('/.well-known/')[0] ?? '';
      const answer = answers.get(prefix) ?? { status: 404, body: '{}' };
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(home, { recursive: true, force: true });
  });

  const document = (extra: Record<string, unknown> = {}) => ({
    issuer: 'https://login.example.com',
    client_id: 'pgkey-cli',
    gateway: { host: 'db.example.com', port: 6432 },
    token_service: 'https://login.example.com',
    ...extra,
  });

  it('writes the profile and the gateway CA next to profiles.yaml', async () => {
    answers.set('/good', {
      status: 200,
      body: JSON.stringify(document({ gateway_ca_pem: caPem })),
    });
    const profile = await bootstrapProfile(home, 'work', `${base}/good/`);
    assert.equal(profile.issuer, 'https://login.example.com');
    assert.equal(profile.token_service, 'https://login.example.com');
    assert.deepEqual(profile.gateway, { host: 'db.example.com', port: 6432 });
    assert.equal(profile.gateway_ca_file, join(home, 'work-gateway-ca.pem'));
    assert.equal((await readFile(profile.gateway_ca_file, 'utf8')).trim(), caPem.trim());
    assert.equal((await stat(profile.gateway_ca_file)).mode & 0o777, 0o600);
    const text = await readFile(join(home, 'profiles.yaml'), 'utf8');
    assert.match(text, /gateway_ca_file: work-gateway-ca\.pem/, 'stored relative to the dir');
  });

  it('a second bootstrap updates the profile and keeps what the person set', async () => {
    const { saveProfile } = await import('../../src/client/profiles.ts');
    await saveProfile(home, 'work', { database: 'warehouse' });
    answers.set('/moved', {
      status: 200,
      body: JSON.stringify(document({ gateway: { host: 'db2.example.com', port: 7000 } })),
    });
    const profile = await bootstrapProfile(home, 'work', `${base}/moved`);
    assert.deepEqual(profile.gateway, { host: 'db2.example.com', port: 7000 });
    assert.equal(profile.gateway_ca_file, undefined, 'no CA in the document: none configured');
    assert.equal(profile.database, 'warehouse');
    assert.equal((await readProfiles(home)).default, 'work');
  });

  it('over https with a private CA: refused without --ca, fetched with it', async () => {
    const ca = await createTestCa('token service CA');
    const cert = await ca.issueServer();
    const tls = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(document({ gateway_ca_pem: ca.certPem })));
    });
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    const url = `https://localhost:${(tls.address() as AddressInfo).port}`;
    try {
      await assert.rejects(fetchBootstrap(url), (error: unknown) =>
        isPgkeyError(error, 'ERR_PROVIDER_UNAVAILABLE'),
      );
      const caFile = join(home, 'given-ca.pem');
      await writeFile(caFile, ca.certPem);
      const profile = await bootstrapProfile(home, 'private', url, caFile);
      assert.equal(profile.gateway_ca_file, join(home, 'private-gateway-ca.pem'));
    } finally {
      await new Promise<void>((resolve) => tls.close(() => resolve()));
    }
  });

  it('refuses non-https, non-JSON, wrong shapes and bad certificates', async () => {
    await assert.rejects(fetchBootstrap('http://login.example.com'), (error: unknown) => {
      assert.ok(isPgkeyError(error, 'ERR_USAGE'));
      assert.match(error.message, /not an https:\/\/ URL/);
      return true;
    });
    answers.set('/html', { status: 200, body: '<html>' });
    await assert.rejects(fetchBootstrap(`${base}/html`), /pgkey-configuration: issuer: /);
    answers.set('/shape', {
      status: 200,
      body: JSON.stringify(document({ gateway: { host: 'h' } })),
    });
    await assert.rejects(fetchBootstrap(`${base}/shape`), /gateway\.port/);
    answers.set('/http', {
      status: 200,
      body: JSON.stringify(document({ token_service: 'http://login.example.com' })),
    });
    await assert.rejects(
      fetchBootstrap(`${base}/http`),
      /token_service: must be an https:\/\/ URL/,
    );
    answers.set('/pem', {
      status: 200,
      body: JSON.stringify(
        document({
          gateway_ca_pem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----',
        }),
      ),
    });
    await assert.rejects(fetchBootstrap(`${base}/pem`), /gateway_ca_pem is not a PEM certificate/);
    await assert.rejects(fetchBootstrap(`${base}/missing`), (error: unknown) => {
      assert.ok(isPgkeyError(error, 'ERR_LOGIN_FAILED'));
      assert.match(error.message, /answered HTTP 404/);
      assert.match(error.hint ?? '', /--issuer URL --gateway HOST:PORT/);
      return true;
    });
    await assert.rejects(fetchBootstrap('http://127.0.0.1:1'), (error: unknown) =>
      isPgkeyError(error, 'ERR_PROVIDER_UNAVAILABLE'),
    );
  });
});
