// `pgkey tunnel` end to end: the whole server with the built-in provider, a person logged in
// with `pgkey login`, and psql, pgbench, node-postgres and pgJDBC pointed at the tunnel with
// no password and no TLS settings — sessions land as the role at the gateway, denials come
// back as the gateway's own FATAL, Ctrl+C cancels through the tunnel, a token near its
// expiry is refreshed for the next connection, and stopping the tunnel ends sessions cleanly.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { readTokenCache, writeTokenCache } from '../../src/client/token-cache.ts';
import { connectHints } from '../../src/tunnel/connect-hints.ts';
import { startTunnel } from '../../src/tunnel/tunnel.ts';
import type { EnrolledUser } from '../support/builtin-idp.ts';
import { activeBackends, readAudit, waitFor } from '../support/e2e-clients.ts';
import { run, startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';
import { liveTokens, startTunnelFixture, type TunnelFixture } from '../support/tunnel-fixture.ts';

const SLEEP = 'SELECT pg_sleep(30)';

/** A pg client through the tunnel: host, port, user, database — no password, no TLS. */
async function tunnelClient(
  f: TunnelFixture,
  user = 'analyst',
): Promise<pg.Client & { readonly errors: Error[] }> {
  const client = Object.assign(
    new pg.Client({
      host: '127.0.0.1',
      port: f.tunnel.address.port,
      user,
      database: 'warehouse',
      connectionTimeoutMillis: 10_000,
    }),
    { errors: [] as Error[] },
  );
  client.on('error', (error) => client.errors.push(error));
  await client.connect();
  return client;
}

describe('pgkey tunnel', { timeout: 240_000 }, () => {
  let h: GatewayHarness;
  let person: EnrolledUser;
  let f: TunnelFixture;

  before(async () => {
    h = await startGatewayHarness({ idp: true, oauth: true });
    person = await h.idp!.enroll('ada@example.com', ['analytics', 'dba']);
    f = await startTunnelFixture(h, person);
  });
  after(async () => {
    await f?.close();
    await h?.close();
  });

  it('psql without a password lands as the role, verified at the gateway', async () => {
    const result = await f.psql([
      '-At',
      '-c',
      "SELECT current_user, current_database(), current_setting('application_name')",
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'analyst|warehouse|pgkey-tunnel-e2e\n');
    const start = readAudit(h).findLast((e) => e.type === 'session.start');
    assert.equal(start?.email, 'ada@example.com');
    assert.equal(start?.role, 'analyst');
    assert.equal(start?.issuer, 'builtin');
    const connected = f.events.find((e) => e.kind === 'connected');
    assert.deepEqual(connected, {
      kind: 'connected',
      id: connected?.id,
      user: 'analyst',
      database: 'warehouse',
      application: 'pgkey-tunnel-e2e',
    });
  });

  it('pgbench -i, -c 4 -j 2 -T 3 and -C through the tunnel, no failures', async () => {
    const bench = (args: readonly string[]) =>
      run('pgbench', ['-U', 'app_owner', ...args, 'warehouse'], f.env());
    const init = await bench(['-i', '-s', '1', '-q']);
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stderr, /done in/);

    const timed = await bench(['-n', '-c', '4', '-j', '2', '-T', '3']);
    assert.equal(timed.code, 0, timed.stderr);
    assert.match(timed.stdout, /^number of failed transactions: 0 /m);
    assert.ok(
      Number(/^number of transactions actually processed: (\d+)/m.exec(timed.stdout)?.[1]) > 0,
    );

    const logins = (): number => readAudit(h).filter((e) => e.type === 'auth.success').length;
    const before = logins();
    const perTransaction = await bench(['-n', '-C', '-c', '2', '-j', '2', '-t', '25']);
    assert.equal(perTransaction.code, 0, perTransaction.stderr);
    assert.match(perTransaction.stdout, /^number of transactions actually processed: 50\/50$/m);
    // One gateway login per transaction, plus the connection pgbench opens first.
    assert.equal(logins() - before, 51);
    await waitFor('every -C session to end', () => h.gateway.sessions.size === 0);
    await waitFor('the tunnel to let go of them', () => f.tunnel.connections === 0);
  });

  it('node-postgres with the extended protocol through the tunnel', async () => {
    const client = await tunnelClient(f);
    try {
      const result = await client.query('SELECT $1::int + 1 AS n, current_user AS who', [41]);
      assert.deepEqual(result.rows, [{ n: 42, who: 'analyst' }]);
    } finally {
      await client.end();
    }
  });

  it('a gateway denial reaches psql as the gateway’s FATAL, with its HINT', async () => {
    const result = await f.psql(['-c', 'SELECT 1'], { database: 'postgres' });
    assert.equal(result.code, 2);
    const prefix = `psql: error: connection to server at "127.0.0.1", port ${f.tunnel.address.port} failed: FATAL:  `;
    assert.ok(result.stderr.startsWith(prefix), result.stderr);
    const [message, hint] = result.stderr.slice(prefix.length).split('\n');
    assert.equal(
      message,
      'access denied: ada@example.com may not use role "analyst" on database "postgres"',
    );
    assert.match(hint ?? '', /^HINT: {2}no rule grants role "analyst" on database "postgres"\./);
    const refused = f.events.findLast((e) => e.kind === 'refused');
    assert.equal(refused?.kind === 'refused' && refused.by, 'gateway');
    assert.equal(refused?.kind === 'refused' && refused.error.sqlstate, '28000');
    const failure = readAudit(h).findLast((e) => e.type === 'auth.failure');
    assert.equal(failure?.reason, 'policy_denied');
  });

  it('Ctrl+C in psql cancels the statement through the tunnel (57014)', async () => {
    const child = f.spawnPsql(['-v', 'VERBOSITY=verbose', '-c', SLEEP]);
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const done = new Promise<number | null>((resolve) => child.once('close', resolve));
    await waitFor('pg_sleep to start upstream', async () => (await activeBackends(h, SLEEP)) === 1);
    const interrupted = Date.now();
    child.kill('SIGINT');
    assert.equal(await done, 1);
    assert.ok(Date.now() - interrupted < 5000, 'canceled long before pg_sleep(30) ends');
    assert.match(
      stderr,
      /^Cancel request sent\nERROR: {2}57014: canceling statement due to user request\n/,
    );
    assert.equal(await activeBackends(h, SLEEP), 0);
    assert.ok(f.events.some((e) => e.kind === 'cancel' && e.forwarded));
  });

  it('a token near its expiry is refreshed for the next connection; open sessions keep theirs', async () => {
    const first = await tunnelClient(f);
    try {
      const [opened] = liveTokens(h, 'analyst');
      assert.ok(opened?.jti !== undefined);
      // Less than the two minutes a tunnel connection needs: the next one refreshes.
      const cached = (await readTokenCache(f.profile))!;
      await writeTokenCache(f.profile, { ...cached, expires_at: Date.now() + 60_000 });
      const second = await tunnelClient(f);
      try {
        const tokens = liveTokens(h, 'analyst');
        assert.equal(tokens.length, 2);
        const fresh = tokens.find((t) => t.jti !== opened.jti);
        assert.ok(fresh !== undefined, 'the second session was opened with another token');
        assert.ok(fresh.expiresAt >= opened.expiresAt);
        const refreshed = (await readTokenCache(f.profile))!;
        assert.equal(refreshed.via, 'refresh');
        assert.notEqual(refreshed.access_token, cached.access_token);
        assert.ok(f.events.some((e) => e.kind === 'token'));
        // The first session is untouched by the refresh.
        assert.deepEqual((await first.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
      } finally {
        await second.end();
      }
    } finally {
      await first.end();
    }
  });

  it('pgJDBC connects with the URL the tunnel prints', { skip: jdbcSkip() }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pgkey-jdbc-'));
    try {
      const source = join(dir, 'TunnelJdbc.java');
      await writeFile(source, JDBC_PROGRAM);
      const { jdbc } = connectHints(f.tunnel.address, { database: 'warehouse', role: 'analyst' });
      assert.equal(
        jdbc,
        `jdbc:postgresql://127.0.0.1:${f.tunnel.address.port}/warehouse?user=analyst`,
      );
      const result = await run('java', ['-cp', jdbcJar()!, source, jdbc], {
        PATH: process.env.PATH,
        HOME: dir,
      });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'analyst 42\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('with --local-password-file, local clients must send the password', async () => {
    const guarded = await startTunnel({
      profile: f.profile,
      address: { host: '127.0.0.1', port: 0 },
      password: 'local-secret',
    });
    try {
      const env = { PGPORT: String(guarded.address.port) };
      const none = await f.psql(['-c', 'SELECT 1'], { env: { ...env } });
      assert.equal(none.code, 2);
      assert.match(none.stderr, /fe_sendauth: no password supplied/);
      const wrong = await f.psql(['-c', 'SELECT 1'], { env: { ...env, PGPASSWORD: 'nope' } });
      assert.equal(wrong.code, 2);
      assert.match(wrong.stderr, /FATAL: {2}password authentication failed for user "analyst"/);
      const right = await f.psql(['-Atc', 'SELECT current_user'], {
        env: { ...env, PGPASSWORD: 'local-secret' },
      });
      assert.equal(right.code, 0, right.stderr);
      assert.equal(right.stdout, 'analyst\n');
    } finally {
      await guarded.close();
    }
  });

  it('a profile pointing at the OAUTHBEARER listener gets a FATAL that says so', async () => {
    const oauth = h.gateway.oauth!;
    const wrong = await startTunnel({
      profile: { ...f.profile, gateway: { host: 'localhost', port: oauth.port } },
      address: { host: '127.0.0.1', port: 0 },
    });
    try {
      const result = await f.psql(['-c', 'SELECT 1'], {
        env: { PGPORT: String(wrong.address.port) },
      });
      assert.equal(result.code, 2);
      assert.match(
        result.stderr,
        /FATAL: {2}localhost:\d+ did not ask for a token as the password, as a pgkey gateway's main port does\nHINT: {2}point the profile at/,
      );
    } finally {
      await wrong.close();
    }
  });

  it('stopping the tunnel ends its sessions with FATAL 57P01 between statements', async () => {
    const second = await startTunnel({
      profile: f.profile,
      address: { host: '127.0.0.1', port: 0 },
    });
    const client = Object.assign(
      new pg.Client({
        host: '127.0.0.1',
        port: second.address.port,
        user: 'analyst',
        database: 'warehouse',
      }),
      { errors: [] as Error[] },
    );
    client.on('error', (error) => client.errors.push(error));
    await client.connect();
    try {
      await client.query('SELECT 1');
      await second.close();
      const error = await waitFor('the FATAL', () => client.errors[0]);
      assert.ok(error instanceof pg.DatabaseError, String(error));
      assert.equal(error.code, '57P01');
      assert.equal(error.message, 'terminating connection because pgkey tunnel is shutting down');
      assert.equal(second.connections, 0);
    } finally {
      await client.end().catch(() => undefined);
    }
  });

  it('`pgkey tunnel` prints where to connect, serves it, and stops on SIGINT', async () => {
    const { saveProfile } = await import('../../src/client/profiles.ts');
    await saveProfile(f.home.configDir, f.profile.name, {
      role: 'analyst',
      database: 'warehouse',
    });
    const child = spawn(
      process.execPath,
      [
        join(import.meta.dirname, '../../bin/pgkey.js'),
        'tunnel',
        '--port',
        '0',
        '--profile',
        f.profile.name,
      ],
      { env: { ...f.home.env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    try {
      await waitFor('the banner', () => /Ctrl\+C stops the tunnel\.\n/.test(stdout), 20_000);
      const port = Number(
        /^pgkey tunnel on 127\.0\.0\.1:(\d+) → gateway localhost:\d+, profile "work" \(ada@example\.com\)$/m.exec(
          stdout,
        )?.[1],
      );
      assert.ok(port > 0, stdout);
      const lines = stdout.split('\n');
      assert.ok(
        lines.includes(`  psql 'host=127.0.0.1 port=${port} dbname=warehouse user=analyst'`),
        stdout,
      );
      assert.ok(
        lines.includes(`  jdbc:postgresql://127.0.0.1:${port}/warehouse?user=analyst`),
        stdout,
      );
      assert.ok(lines.includes(`  postgresql://analyst@127.0.0.1:${port}/warehouse`), stdout);
      assert.match(stdout, /Any program on this machine, of any user, can connect/);

      const conninfo = `host=127.0.0.1 port=${port} dbname=warehouse user=analyst`;
      const result = await run('psql', ['-X', '-Atc', 'SELECT current_user', conninfo], {
        PATH: process.env.PATH,
        HOME: f.home.dir,
      });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'analyst\n');
      await waitFor('the connection log', () =>
        /Z #1 analyst@warehouse connected \(psql\)\n[\s\S]*Z #1 closed after /.test(stderr),
      );
    } finally {
      child.kill('SIGINT');
    }
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /pgkey tunnel: stopping\n$/);
  });

  it('refuses to listen on anything but a loopback address', async () => {
    for (const bind of ['0.0.0.0', '::', '192.0.2.10', 'localhost', 'db.example.com']) {
      const result = await f.home.run('tunnel', '--bind', bind, '--profile', f.profile.name);
      assert.equal(result.code, 2, bind);
      assert.match(
        result.stderr,
        /^pgkey: --bind \S+: the tunnel listens on a loopback address only \(127\.0\.0\.1 or ::1\)\n/,
      );
    }
  });
});

const JDBC_PROGRAM = `
import java.sql.*;

public class TunnelJdbc {
  public static void main(String[] args) throws Exception {
    try (Connection c = DriverManager.getConnection(args[0]);
         PreparedStatement s = c.prepareStatement("SELECT current_user, ?::int + 1")) {
      s.setInt(1, 41);
      try (ResultSet r = s.executeQuery()) {
        r.next();
        System.out.println(r.getString(1) + " " + r.getInt(2));
      }
    }
  }
}
`;

/** pgJDBC from $PGKEY_JDBC_JAR or the local Maven repository; the test is skipped without it. */
function jdbcJar(): string | undefined {
  if (process.env.PGKEY_JDBC_JAR) return process.env.PGKEY_JDBC_JAR;
  const base = join(homedir(), '.m2/repository/org/postgresql/postgresql');
  if (!existsSync(base)) return undefined;
  const version = readdirSync(base).sort().at(-1);
  const jar = version === undefined ? undefined : join(base, version, `postgresql-${version}.jar`);
  return jar !== undefined && existsSync(jar) ? jar : undefined;
}

function jdbcSkip(): string | false {
  if (jdbcJar() === undefined) return 'no pgJDBC jar (set PGKEY_JDBC_JAR)';
  return process.env.PATH?.split(':').some((dir) => existsSync(join(dir, 'java')))
    ? false
    : 'no java on PATH';
}
