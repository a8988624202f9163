import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { initUpstreamCa } from '../../src/pki/upstream-ca.ts';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.ts';
import { createTestCa, type TestCa } from '../support/test-pki.ts';
import { TestIssuer } from '../support/token-issuer.ts';

const execFileAsync = promisify(execFile);

/** A `pgkey serve` process and what it logs (stderr), started on a free port. */
interface Served {
  readonly child: ChildProcess;
  readonly port: number;
  readonly logs: () => string;
  readonly exited: Promise<number | null>;
}

/**
 * `kill -9` while a session is live (reliability.md §7 G35): after a restart, the trail
 * closes that session with `session.abandoned`, keeps every record the dead process had
 * acknowledged, accounts for the line the crash cut short, and still verifies.
 */
describe('audit trail across kill -9', () => {
  let dir: string;
  let pgc: PgCluster;
  let ca: TestCa;
  let issuer: TestIssuer;
  let configFile: string;
  const running: ChildProcess[] = [];

  async function serve(): Promise<Served> {
    const child = spawn(process.execPath, ['bin/pgkey.js', 'serve', '--config', configFile], {
      env: { ...process.env, PGKEY_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    running.push(child);
    let logs = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (logs += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    for (let i = 0; i < 300; i++) {
      const match = /"listen":"127\.0\.0\.1:(\d+)"/.exec(logs);
      if (match !== null) return { child, port: Number(match[1]), logs: () => logs, exited };
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`pgkey serve did not start:\n${logs}`);
  }

  async function connect(port: number): Promise<pg.Client> {
    const client = new pg.Client({
      host: '127.0.0.1',
      port,
      user: 'analyst',
      database: 'postgres',
      password: await issuer.humanToken({ groups: ['analytics'], email: 'carol@example.com' }),
      ssl: { ca: ca.certPem, servername: 'localhost' },
    });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  const trail = async (): Promise<Record<string, unknown>[]> =>
    (await readFile(join(dir, 'audit.jsonl'), 'utf8')).split('\n').flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return []; // the torn line
      }
    });

  const verify = () =>
    execFileAsync(process.execPath, [
      'bin/pgkey.js',
      'audit',
      'verify',
      '--config',
      configFile,
    ]).then(
      (result) => ({ code: 0, stdout: result.stdout }),
      (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
    );

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgkey-crash-'));
    const upstreamCa = await initUpstreamCa({
      cert: join(dir, 'up-ca.pem'),
      key: join(dir, 'up-ca-key.pem'),
    });
    pgc = await startPgCluster({ auth: 'cert', clientCaPem: upstreamCa.certPem });
    await pgc.query('CREATE ROLE analyst LOGIN');
    ca = await createTestCa('crash test CA');
    const server = await ca.issueServer();
    await writeFile(join(dir, 'gw.pem'), server.certPem);
    await writeFile(join(dir, 'gw-key.pem'), server.keyPem, { mode: 0o600 });
    issuer = await TestIssuer.create();
    configFile = join(dir, 'pgkey.yaml');
    await writeFile(
      configFile,
      JSON.stringify({
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
        policy: [
          {
            name: 'analysts',
            match: { groups: ['analytics'] },
            databases: ['*'],
            roles: ['analyst'],
          },
        ],
        session: { drain_timeout: '1s' },
        audit: { file: 'audit.jsonl', checkpoint_records: 4 },
        admin: { address: '127.0.0.1:0' },
      }),
    );
  });

  after(async () => {
    for (const child of running) child.kill('SIGKILL');
    await pgc?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('closes the live session as session.abandoned after a restart, and the trail verifies', async () => {
    const first = await serve();
    // Two sessions that end normally (a checkpoint falls among them), one that stays open.
    for (let n = 0; n < 2; n++) {
      const done = await connect(first.port);
      await done.query('SELECT 1');
      await done.end();
    }
    const live = await connect(first.port);
    const { rows } = await live.query('SELECT pg_backend_pid() AS pid');
    assert.ok(Number(rows[0].pid) > 0);
    // Its session.start was acknowledged (the client saw ReadyForQuery): it must survive.
    const acknowledged = (await trail()).filter((r) => r.type === 'session.start');
    assert.equal(acknowledged.length, 3);

    first.child.kill('SIGKILL');
    assert.equal(await first.exited, null);
    live.end().catch(() => undefined);
    // Power cut mid-write: half a line at the end of the file.
    await appendFile(join(dir, 'audit.jsonl'), '{"time":"2026-05-01T00:00:00.000Z","id":"zz","ty');
    const crashed = await verify();
    assert.equal(crashed.code, 1, 'before the restart, the torn line is a problem');
    assert.match(crashed.stdout, /^audit\.jsonl:\d+: the file ends inside a line/);

    const second = await serve();
    assert.match(second.logs(), /recorded them as session\.abandoned/);
    const records = await trail();
    const liveId = acknowledged[2]?.session;
    for (const start of acknowledged) {
      assert.ok(records.some((r) => r.type === 'session.start' && r.id === start.id));
    }
    const abandoned = records.filter((r) => r.type === 'session.abandoned');
    assert.deepEqual(
      abandoned.map((r) => [r.session, r.reason, r.role, r.email, r.started]),
      [[liveId, 'process_ended', 'analyst', 'carol@example.com', acknowledged[2]?.time]],
    );
    const restart = records.findIndex(
      (r) =>
        r.type === 'audit.chain_start' && r.writer === 'serve' && r.chain !== records[0]?.chain,
    );
    assert.equal(records[restart + 1]?.type, 'session.abandoned');
    assert.equal(abandoned[0]?.previous_chain, records[0]?.chain);

    const afterRestart = await verify();
    assert.equal(afterRestart.code, 0, afterRestart.stdout);
    assert.match(
      afterRestart.stdout,
      /^ok: \d+ records in 1 file, \d+ checkpoints, 2 chains \(serve ×2\)/,
    );
    assert.match(
      afterRestart.stdout,
      /note: audit\.jsonl:\d+: unfinished line \(\d+ bytes\) left by a crash/,
    );

    // A clean stop signs the rest; the next start finds nothing to abandon.
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0);
    const clean = await verify();
    assert.equal(clean.code, 0, clean.stdout);
    assert.doesNotMatch(clean.stdout, /not yet covered/);
    const third = await serve();
    assert.doesNotMatch(third.logs(), /session\.abandoned/);
    third.child.kill('SIGTERM');
    assert.equal(await third.exited, 0);
    assert.equal((await trail()).filter((r) => r.type === 'session.abandoned').length, 1);
  });
});
