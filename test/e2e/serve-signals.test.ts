import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { initUpstreamCa } from '../../src/pki/upstream-ca.ts';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.ts';
import { createTestCa, type TestCa } from '../support/test-pki.ts';
import { TestIssuer } from '../support/token-issuer.ts';

/**
 * `pgkey serve` as a real process: SIGHUP applies a new TLS certificate and policy to new
 * connections without dropping live sessions (and a broken file changes nothing), SIGTERM
 * stops accepting, lets sessions finish for drain_timeout, then ends them with 57P01.
 */
describe('pgkey serve signals', () => {
  let dir: string;
  let pgc: PgCluster;
  let ca: TestCa;
  let issuer: TestIssuer;
  let child: ChildProcess;
  let logs = '';
  let port = 0;
  let config: Record<string, unknown>;
  const configFile = (): string => join(dir, 'pgkey.yaml');

  const writeConfig = (policy: unknown[]): Promise<void> =>
    writeFile(configFile(), JSON.stringify({ ...config, policy }, null, 2));

  const waitForLog = async (pattern: RegExp, from = 0): Promise<RegExpMatchArray> => {
    for (let i = 0; i < 200; i++) {
      const match = logs.slice(from).match(pattern);
      if (match !== null) return match;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`log line ${pattern} not seen; logs:\n${logs}`);
  };

  const client = async (groups: string[]): Promise<pg.Client> => {
    const c = new pg.Client({
      host: '127.0.0.1',
      port,
      user: 'analyst',
      database: 'postgres',
      password: await issuer.humanToken({ groups }),
      ssl: { ca: ca.certPem, servername: 'localhost' },
    });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  };

  const serverSerial = (): Promise<string> =>
    new Promise((resolve, reject) => {
      // Direct TLS (PostgreSQL 17 style) lets a plain TLS client read the certificate.
      const socket = tls.connect(
        {
          host: '127.0.0.1',
          port,
          servername: 'localhost',
          ca: ca.certPem,
          ALPNProtocols: ['postgresql'],
        },
        () => {
          const serial = socket.getPeerCertificate().serialNumber;
          socket.destroy();
          resolve(serial);
        },
      );
      socket.on('error', reject);
    });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgkey-serve-'));
    const upstreamCa = await initUpstreamCa({
      cert: join(dir, 'up-ca.pem'),
      key: join(dir, 'up-ca-key.pem'),
    });
    pgc = await startPgCluster({ auth: 'cert', clientCaPem: upstreamCa.certPem });
    await pgc.query('CREATE ROLE analyst LOGIN');
    ca = await createTestCa('serve test CA');
    const server = await ca.issueServer();
    await writeFile(join(dir, 'gw.pem'), server.certPem);
    await writeFile(join(dir, 'gw-key.pem'), server.keyPem, { mode: 0o600 });
    issuer = await TestIssuer.create();
    config = {
      listen: { address: '127.0.0.1:0', tls: { cert: 'gw.pem', key: 'gw-key.pem' } },
      issuers: [
        {
          name: 'test',
          issuer: issuer.issuer,
          audience: 'pgkey',
          profile: 'builtin',
          jwks_file: await issuer.writeJwksFile(dir),
        },
      ],
      upstream: {
        host: '127.0.0.1',
        port: pgc.port,
        tls: { ca: pgc.serverCaFile, servername: 'localhost' },
        auth: 'cert',
        ca: { cert: 'up-ca.pem', key: 'up-ca-key.pem' },
      },
      session: { drain_timeout: '2s' },
      audit: { file: 'audit.jsonl' },
      admin: { address: '127.0.0.1:0' },
    };
    await writeConfig([
      { name: 'analysts', match: { groups: ['analytics'] }, databases: ['*'], roles: ['analyst'] },
    ]);
    child = spawn(process.execPath, ['bin/pgkey.js', 'serve', '--config', configFile()], {
      env: { ...process.env, PGKEY_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (logs += d));
    const ready = await waitForLog(/"listen":"127\.0\.0\.1:(\d+)"/);
    port = Number(ready[1]);
  });

  after(async () => {
    child?.kill('SIGKILL');
    await pgc?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('SIGHUP reloads the TLS certificate and policy without dropping a live session', async () => {
    const live = await client(['analytics']);
    const before = await serverSerial();
    await assert.rejects(client(['ops']), /access denied/);

    const next = await ca.issueServer();
    await writeFile(join(dir, 'gw.pem'), next.certPem);
    await writeFile(join(dir, 'gw-key.pem'), next.keyPem, { mode: 0o600 });
    await writeConfig([
      { name: 'analysts', match: { groups: ['analytics'] }, databases: ['*'], roles: ['analyst'] },
      { name: 'ops', match: { groups: ['ops'] }, databases: ['*'], roles: ['analyst'] },
    ]);
    const mark = logs.length;
    child.kill('SIGHUP');
    await waitForLog(/configuration reloaded/, mark);

    assert.notEqual(await serverSerial(), before);
    const ops = await client(['ops']);
    assert.equal((await ops.query('SELECT current_user AS u')).rows[0].u, 'analyst');
    await ops.end();
    assert.equal((await live.query('SELECT 1 AS one')).rows[0].one, 1);
    await live.end();
  });

  it('SIGHUP with a broken config keeps the running one', async () => {
    await writeFile(configFile(), 'listen: [not, a, map');
    const mark = logs.length;
    child.kill('SIGHUP');
    await waitForLog(/reload failed/, mark);
    const c = await client(['ops']);
    await c.end();
  });

  it('SIGTERM drains: new connections refused, live sessions ended with 57P01, exit 0', async () => {
    const live = await client(['analytics']);
    const ended = new Promise<Error>((resolve) => live.once('error', resolve));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await waitForLog(/draining sessions/);
    await assert.rejects(client(['analytics']), /ECONNREFUSED|shutting down/);
    const error = (await ended) as Error & { code?: string };
    assert.equal(error.code, '57P01');
    assert.match(error.message, /pgkey is shutting down/);
    assert.equal(await exited, 0);
  });
});
