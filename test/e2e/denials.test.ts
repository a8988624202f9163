import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Config } from '../../src/config/schema.ts';
import { connectError, readAudit, waitFor } from '../support/e2e-clients.ts';
import {
  DEFAULT_POLICY,
  startGatewayHarness,
  type GatewayHarness,
} from '../support/gateway-harness.ts';

interface Expected {
  readonly sqlstate: string;
  readonly message: string | RegExp;
  readonly hint?: string;
  /** The auth.failure reason in the audit trail. */
  readonly reason: string;
}

interface Attempt {
  readonly token: () => Promise<string>;
  readonly user: string;
  readonly database: string;
}

/** Text from the upstream server or the OS that must never reach a client. */
const INTERNALS =
  /pg_hba\.conf entry|certificate authentication failed|ECONNREFUSED|ETIMEDOUT|127\.0\.0\.1:\d+|postgres\.log|\/tmp\//;

describe('refused connections through the gateway', () => {
  let h: GatewayHarness;
  const nowSeconds = (): number => Math.floor(Date.now() / 1000);
  before(async () => {
    // The dba rule also allows a role that does not exist in PostgreSQL.
    h = await startGatewayHarness({
      policy: DEFAULT_POLICY.map((rule) =>
        rule.name === 'dba' ? { ...rule, roles: ['app_owner', 'ghost'] } : rule,
      ),
    });
  });
  after(async () => {
    await h?.close();
  });

  /**
   * Makes the attempt with psql and with node-postgres: psql must print FATAL (and HINT) as
   * PostgreSQL's own refusals look, pg must see the SQLSTATE, and each attempt leaves exactly
   * one auth.failure with the expected reason.
   */
  async function assertRefused(attempt: Attempt, expected: Expected): Promise<string> {
    const token = await attempt.token();
    const auditBefore = readAudit(h).length;
    const options = { user: attempt.user, database: attempt.database };

    const psql = await h.psql(token, ['-c', 'SELECT 1'], options);
    assert.equal(psql.code, 2);
    assert.equal(psql.stdout, '');
    const prefix = `psql: error: connection to server at "127.0.0.1", port ${h.gateway.port} failed: FATAL:  `;
    assert.ok(psql.stderr.startsWith(prefix), psql.stderr);
    const [message, ...rest] = psql.stderr.slice(prefix.length).split('\n');
    if (typeof expected.message === 'string') assert.equal(message, expected.message);
    else assert.match(message ?? '', expected.message);
    assert.deepEqual(rest, expected.hint === undefined ? [''] : [`HINT:  ${expected.hint}`, '']);
    assert.doesNotMatch(psql.stderr, INTERNALS);

    const error = await connectError(h, token, options);
    assert.equal(error.severity, 'FATAL');
    assert.equal(error.code, expected.sqlstate);
    assert.equal(error.message, message);
    assert.equal(error.hint, expected.hint);
    assert.equal(error.detail, undefined);

    const records = readAudit(h).slice(auditBefore);
    assert.deepEqual(
      records.map((r) => [r.type, r.reason, r.user, r.database]),
      [
        ['auth.failure', expected.reason, attempt.user, attempt.database],
        ['auth.failure', expected.reason, attempt.user, attempt.database],
      ],
    );
    return psql.stderr;
  }

  it('names the rule, what is missing and the usable roles when a role is not granted', async () => {
    await assertRefused(
      { token: () => h.token(['analytics']), user: 'app_owner', database: 'warehouse' },
      {
        sqlstate: '28000',
        message:
          'access denied: alice@example.com may not use role "app_owner" on database "warehouse"',
        hint: 'rule "dba" grants this to group "dba" (you are in: analytics). Roles you may use: analyst, reporting on warehouse',
        reason: 'policy_denied',
      },
    );
  });

  it('refuses an analyst on a database the rule does not grant', async () => {
    await assertRefused(
      { token: () => h.token(['analytics']), user: 'analyst', database: 'postgres' },
      {
        sqlstate: '28000',
        message:
          'access denied: alice@example.com may not use role "analyst" on database "postgres"',
        hint: 'no rule grants role "analyst" on database "postgres". Roles you may use: analyst, reporting on warehouse',
        reason: 'policy_denied',
      },
    );
  });

  it('asks for a fresh security-key login when auth_time is older than fresh_auth', async () => {
    await assertRefused(
      {
        token: () => h.token(['dba'], { auth_time: nowSeconds() - 11 * 60 - 40 }),
        user: 'app_owner',
        database: 'warehouse',
      },
      {
        sqlstate: '28000',
        message:
          /^rule "dba" requires a security-key login within the last 10m; yours was 11m4\ds ago$/,
        hint: 'log in again with your security key (pgkey login --fresh), then reconnect',
        reason: 'stale_auth',
      },
    );
  });

  it('rejects an expired token with 28P01', async () => {
    // Expired two minutes ago: beyond the issuer's 60 s clock skew.
    await assertRefused(
      { token: () => h.token(['analytics'], {}, -120), user: 'analyst', database: 'warehouse' },
      {
        sqlstate: '28P01',
        message: 'token rejected: expired',
        hint: 'Get a new token and connect again.',
        reason: 'token_expired',
      },
    );
  });

  it('rejects a password that is not a token with 28P01', async () => {
    await assertRefused(
      {
        token: () => Promise.resolve('hunter2-not-a-token'),
        user: 'analyst',
        database: 'warehouse',
      },
      {
        sqlstate: '28P01',
        message: 'token rejected: not a compact JWS (expected three segments)',
        hint: 'pgkey expects a signed JWT access token: three base64url segments joined by dots.',
        reason: 'token_malformed',
      },
    );
  });

  it('says a database does not exist (3D000) without the server’s own text', async () => {
    await assertRefused(
      { token: () => h.token(['dba']), user: 'app_owner', database: 'nope' },
      {
        sqlstate: '3D000',
        message: 'database "nope" does not exist',
        reason: 'database_not_found',
      },
    );
  });

  it('refuses a policy-allowed role PostgreSQL does not have with a clean 08001', async () => {
    const stderr = await assertRefused(
      { token: () => h.token(['dba']), user: 'ghost', database: 'warehouse' },
      {
        sqlstate: '08001',
        message: "the database server refused pgkey's credential",
        hint: 'ask the operator to check that role "ghost" exists and that pg_hba.conf trusts pgkey',
        reason: 'upstream_auth_rejected',
      },
    );
    // Whatever PostgreSQL said about it stayed in the server log.
    const upstream = readFileSync(h.pg.logFile, 'utf8')
      .split('\n')
      .filter((line) => line.includes('FATAL:') && line.includes('ghost'))
      .map((line) => line.slice(line.indexOf('FATAL:') + 'FATAL:'.length).trim());
    assert.ok(upstream.length > 0, 'the upstream refused the login');
    for (const text of upstream) assert.ok(!stderr.includes(text), `leaked: ${text}`);
  });
});

describe('an unreachable upstream', () => {
  let h: GatewayHarness;
  let blackHole: net.Server;
  const held: net.Socket[] = [];
  before(async () => {
    h = await startGatewayHarness();
    // Accepts TCP and never says a word, like a server behind a dead firewall state.
    blackHole = net.createServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    for (const socket of held) socket.destroy();
    await new Promise((resolve) => blackHole?.close(resolve));
    await h?.close();
  });

  /** Points the gateway's upstream elsewhere for new connections (a config reload). */
  async function withUpstream(
    upstream: Partial<Config['upstream']>,
    body: () => Promise<void>,
  ): Promise<void> {
    const original = h.config;
    await h.gateway.reload({ ...original, upstream: { ...original.upstream, ...upstream } });
    try {
      await body();
    } finally {
      await h.gateway.reload(original);
    }
  }

  async function assertUnavailable(message: string, reason: string, withinMs: number) {
    const token = await h.token(['analytics']);
    const auditBefore = readAudit(h).length;
    const started = Date.now();
    const error = await connectError(h, token);
    assert.ok(Date.now() - started < withinMs, `refused within ${withinMs} ms`);
    assert.equal(error.severity, 'FATAL');
    assert.equal(error.code, '08001');
    assert.equal(error.message, message);
    assert.equal(error.detail, undefined);
    assert.equal(error.hint, undefined);

    const psql = await h.psql(token, ['-c', 'SELECT 1']);
    assert.equal(psql.code, 2);
    assert.ok(psql.stderr.endsWith(`failed: FATAL:  ${message}\n`), psql.stderr);
    assert.doesNotMatch(psql.stderr, INTERNALS);

    const reasons = readAudit(h)
      .slice(auditBefore)
      .map((r) => [r.type, r.reason]);
    assert.deepEqual(reasons, [
      ['auth.failure', reason],
      ['auth.failure', reason],
    ]);
  }

  it('answers 08001 at once when nothing listens on the upstream port', async () => {
    const closed = await freePort();
    await withUpstream({ port: closed }, () =>
      assertUnavailable('the database server is unavailable', 'upstream_econnrefused', 5000),
    );
  });

  it('answers 08001 after upstream.connect_timeout when the server never replies', async () => {
    const { port } = blackHole.address() as net.AddressInfo;
    await withUpstream({ port, connect_timeout: 1000 }, () =>
      assertUnavailable('the database server did not answer in time', 'upstream_timeout', 5000),
    );
  });

  // Last in the file: it stops the harness's cluster for good.
  it('answers 08001 once the PostgreSQL cluster itself has been stopped', async () => {
    const token = await h.token(['analytics']);
    const ok = await h.psql(token, ['-At', '-c', 'SELECT 1']);
    assert.equal(ok.stdout, '1\n');
    await waitFor('the session to end', () => readAudit(h).some((e) => e.type === 'session.end'));
    await h.pg.stop();
    await assertUnavailable('the database server is unavailable', 'upstream_econnrefused', 5000);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
