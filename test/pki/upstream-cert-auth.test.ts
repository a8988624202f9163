import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import {
  activateRotation,
  finishRotation,
  prepareRotation,
  rotationFiles,
} from '../../src/pki/ca-rotation.ts';
import { ClientCertIssuer, type ClientCredential } from '../../src/pki/client-cert-issuer.ts';
import { initUpstreamCa, loadUpstreamCa, type UpstreamCaFiles } from '../../src/pki/upstream-ca.ts';
import { renderUpstreamSetup } from '../../src/pki/upstream-setup.ts';
import { ManualClock, systemClock } from '../../src/runtime/clock.ts';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.ts';
import { createTestCa } from '../support/test-pki.ts';

/**
 * End to end against a real PostgreSQL 15 with `hostssl all all 127.0.0.1/32 cert`:
 * PostgreSQL verifies the chain against ssl_ca_file and requires CN = user (PostgreSQL
 * docs, "Certificate Authentication").
 */
const TTL = 10 * 60_000;
const ROLES = ['pgkey_alice', 'a,b"c', 'ß漢字', 'CN=evil+x'];
let cluster: PgCluster;
let dir: string;
let files: UpstreamCaFiles;
let issuer: ClientCertIssuer;

// PostgreSQL 15 logs only this for any chain failure (unknown CA, expired, …).
const VERIFY_FAILED = /could not accept SSL connection: certificate verify failed/;
const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pgkey-certauth-'));
  files = { cert: join(dir, 'upstream-ca.pem'), key: join(dir, 'upstream-ca.key') };
  // Backdated a day so the expired-certificate test can sign inside the CA's own validity.
  const ca = await initUpstreamCa(files, { clock: new ManualClock(Date.now() - 24 * 3600_000) });
  issuer = new ClientCertIssuer({ ca, ttlMs: TTL, clock: systemClock });
  const started = performance.now();
  cluster = await startPgCluster({ auth: 'cert', clientCaPem: ca.certPem });
  process.stderr.write(`# cluster started in ${Math.round(performance.now() - started)} ms\n`);
  for (const role of ['pgkey_bob', ...ROLES])
    await cluster.query(`CREATE ROLE ${quoteIdent(role)} LOGIN`);
});

after(async () => {
  await cluster?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function currentUser(
  role: string,
  credential: { key: string; cert: string },
): Promise<string> {
  const client = new pg.Client({
    host: cluster.host,
    port: cluster.port,
    user: role,
    database: 'postgres',
    connectionTimeoutMillis: 5000,
    ssl: {
      ca: cluster.serverCaPem,
      servername: 'localhost',
      key: credential.key,
      cert: credential.cert,
    },
  });
  await client.connect();
  try {
    const result = await client.query<{ user: string }>('SELECT current_user AS "user"');
    return result.rows[0]?.user ?? '';
  } finally {
    await client.end();
  }
}

/** `attempt` must fail, and the server must log why (the log line may trail the TLS alert). */
async function assertRefused(attempt: () => Promise<unknown>, why: RegExp): Promise<void> {
  const offset = (await readFile(cluster.logFile)).length;
  await assert.rejects(attempt());
  let log = '';
  for (let waited = 0; waited <= 2000 && !why.test(log); waited += 25) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    log = (await readFile(cluster.logFile)).subarray(offset).toString('utf8');
  }
  assert.match(log, why);
}

void describe('ephemeral client certificates against PostgreSQL (pg_hba cert)', () => {
  void it('logs in as the role named in the certificate CN, hostile names included', async () => {
    for (const role of ROLES) {
      assert.equal(await currentUser(role, await issuer.credentialFor(role)), role);
    }
  });

  void it("refuses one role's certificate for another role", async () => {
    const alice = await issuer.credentialFor('pgkey_alice');
    await assertRefused(
      () => currentUser('pgkey_bob', alice),
      /certificate authentication failed for user "pgkey_bob"/,
    );
  });

  void it('refuses a certificate from a CA PostgreSQL does not trust', async () => {
    const stranger = await createTestCa('untrusted CA');
    const { certPem, keyPem } = await stranger.issueClient('pgkey_alice');
    await assertRefused(
      () => currentUser('pgkey_alice', { cert: certPem, key: keyPem }),
      VERIFY_FAILED,
    );
  });

  void it('refuses an expired certificate from the trusted CA', async () => {
    const past = new ManualClock(Date.now() - 2 * 3600_000);
    const stale = new ClientCertIssuer({
      ca: await loadUpstreamCa(files),
      ttlMs: TTL,
      clock: past,
    });
    const expired = await stale.credentialFor('pgkey_alice');
    assert.ok(expired.notAfter < Date.now());
    await assertRefused(() => currentUser('pgkey_alice', expired), VERIFY_FAILED);
  });

  void it('accepts the pg_hba lines `pgkey upstream init` prints', async () => {
    const setup = renderUpstreamSetup({ caBundlePath: join(cluster.dataDir, 'client-ca.pem') });
    const hba = setup.split('\n').filter((line) => /^host(no)?ssl\s/.test(line));
    assert.equal(hba.length, 2);
    await writeFile(
      join(cluster.dataDir, 'pg_hba.conf'),
      ['local all all trust', ...hba, ''].join('\n'),
    );
    await cluster.reload();
    const rules = await cluster.query(
      'SELECT type, address, auth_method, error FROM pg_hba_file_rules',
    );
    assert.deepEqual(
      rules.rows.map((rule: { type: string; auth_method: string; error: string | null }) => [
        rule.type,
        rule.auth_method,
        rule.error,
      ]),
      [
        ['local', 'trust', null],
        ['hostssl', 'cert', null],
        ['hostnossl', 'reject', null],
      ],
    );
    assert.equal(
      await currentUser('pgkey_alice', await issuer.credentialFor('pgkey_alice')),
      'pgkey_alice',
    );
  });

  void it('rotates the upstream CA without refusing a single login', async () => {
    const old = await loadUpstreamCa(files);
    const oldIssuer = new ClientCertIssuer({ ca: old, ttlMs: TTL, clock: systemClock });
    const loginWith = async (signer: ClientCertIssuer, role = 'pgkey_alice'): Promise<void> => {
      const credential: ClientCredential = await signer.credentialFor(role);
      assert.equal(await currentUser(role, credential), role);
    };

    const prepared = await prepareRotation(files);
    await cluster.setClientCa(prepared.bundlePem);
    const paths = rotationFiles(files);
    const next = await loadUpstreamCa({ cert: paths.nextCert, key: paths.nextKey });
    await loginWith(oldIssuer);
    await loginWith(new ClientCertIssuer({ ca: next, ttlMs: TTL, clock: systemClock }));

    const activated = await activateRotation(files);
    await cluster.setClientCa(activated.bundlePem); // same two CAs, new order
    const active = await loadUpstreamCa(files);
    assert.equal(active.fingerprint, next.fingerprint);
    issuer.setCa(active); // what SIGHUP does in the gateway
    await loginWith(issuer, 'a,b"c');
    await loginWith(oldIssuer); // a gateway that has not reloaded yet still gets in

    const finished = await finishRotation(files);
    await cluster.setClientCa(finished.bundlePem);
    await loginWith(issuer);
    const retired = await oldIssuer.credentialFor('pgkey_alice');
    await assertRefused(() => currentUser('pgkey_alice', retired), VERIFY_FAILED);
  });
});
