import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import {
  activeBackends,
  connectPg,
  liveSessionId,
  readAudit,
  sessionEnd,
  waitFor,
  type AuditLine,
} from '../support/e2e-clients.ts';
import {
  DEFAULT_POLICY,
  startGatewayHarness,
  type GatewayHarness,
} from '../support/gateway-harness.ts';

const EXPIRED = 'terminating connection because the token it was opened with expired';
const EXPIRED_HINT = 'log in again (pgkey login) and reconnect';

/** The error a query gets when the gateway ends the session under it. */
async function queryError(query: Promise<unknown>): Promise<pg.DatabaseError> {
  try {
    await query;
  } catch (error) {
    assert.ok(error instanceof pg.DatabaseError, `expected a DatabaseError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the query to fail');
}

function assertEnded(end: AuditLine, reason: string): void {
  assert.equal(end.reason, reason);
  assert.ok((end.bytes_from_client ?? 0) > 0, 'the client sent a query');
  assert.ok(typeof end.duration_ms === 'number' && end.duration_ms > 0);
}

describe('session limits through the gateway', () => {
  let h: GatewayHarness;
  before(async () => {
    h = await startGatewayHarness({
      policy: [
        ...DEFAULT_POLICY,
        {
          name: 'contractors',
          match: { groups: ['contractors'] },
          databases: ['warehouse'],
          roles: ['reporting'],
          max_session: '3s',
        },
      ],
    });
  });
  after(async () => {
    await h?.close();
  });

  /**
   * An ended session's statement must not run on upstream: PostgreSQL only notices a closed
   * socket when it next writes, so a 10 s pg_sleep would otherwise outlive the session.
   */
  async function upstreamStopped(query: string): Promise<void> {
    await waitFor(
      `no upstream backend still running ${query}`,
      async () => (await activeBackends(h, query)) === 0,
      3000,
    );
  }

  /** Runs `fn` with `session` settings changed by a reload (new sessions only), then restores. */
  async function withSession(
    session: Partial<GatewayHarness['config']['session']>,
    fn: () => Promise<void>,
  ): Promise<void> {
    const original = h.config;
    await h.gateway.reload({ ...original, session: { ...original.session, ...session } });
    try {
      await fn();
    } finally {
      await h.gateway.reload(original);
    }
  }

  it('a token expiring during a statement lets it finish; psql’s next one gets the FATAL', async () => {
    const token = await h.token(['analytics'], {}, 3);
    const result = await h.psql(token, [
      '-At',
      '-c',
      'SELECT 1',
      '-c',
      'SELECT pg_sleep(4)',
      '-c',
      'SELECT 2',
    ]);
    assert.equal(result.code, 2);
    // pg_sleep(4) ran past the expiry (3 s) and returned its (empty) row.
    assert.equal(result.stdout, '1\n\n');
    assert.ok(
      result.stderr.startsWith(`FATAL:  ${EXPIRED}\nHINT:  ${EXPIRED_HINT}\n`),
      result.stderr,
    );
    const start = readAudit(h).findLast((e) => e.type === 'session.start');
    assert.ok(start?.session !== undefined);
    const end = await sessionEnd(h, start.session);
    assertEnded(end, 'token_expired');
    assert.ok((end.duration_ms as number) >= 4000, 'ended after the statement, not at expiry');
  });

  it('a pg client’s statement across the expiry completes, then the idle session ends', async () => {
    const client = await connectPg(h, await h.token(['analytics'], {}, 2));
    const id = await liveSessionId(h, 'analyst');
    try {
      const started = Date.now();
      const result = await client.query('SELECT pg_sleep(4), 42 AS answer');
      assert.equal((result.rows[0] as { answer: number }).answer, 42);
      assert.equal(client.errors.length, 0, 'the query was not cut');
      const error = await waitFor('the FATAL once idle', () => client.errors[0]);
      assert.ok(error instanceof pg.DatabaseError, String(error));
      assert.equal(error.code, '57P01');
      assert.equal(error.message, EXPIRED);
      assert.ok(Date.now() - started >= 4000);
      assertEnded(await sessionEnd(h, id), 'token_expired');
    } finally {
      await client.end();
    }
  });

  it('an open transaction is not cut at expiry: the session ends once it commits', async () => {
    const client = await connectPg(h, await h.token(['analytics'], {}, 2));
    const id = await liveSessionId(h, 'analyst');
    try {
      await client.query('BEGIN');
      await client.query('CREATE TEMP TABLE t (n int) ON COMMIT DROP');
      await new Promise((resolve) => setTimeout(resolve, 3000));
      // Past the token's expiry, still inside the transaction: the session goes on.
      await client.query('INSERT INTO t VALUES (1)');
      assert.equal(client.errors.length, 0);
      assert.equal(h.gateway.sessions.size, 1);
      await client.query('COMMIT');
      const error = await waitFor('the FATAL after COMMIT', () => client.errors[0]);
      assert.ok(error instanceof pg.DatabaseError, String(error));
      assert.equal(error.code, '57P01');
      assert.equal(error.message, EXPIRED);
      assertEnded(await sessionEnd(h, id), 'token_expired');
    } finally {
      await client.end();
    }
  });

  it('at session.expiry_grace a busy session ends anyway, and its statement is cancelled', async () => {
    await withSession({ expiry_grace: 2000 }, async () => {
      const token = await h.token(['analytics'], {}, 2);
      const client = await connectPg(h, token);
      const id = await liveSessionId(h, 'analyst');
      try {
        const error = await queryError(client.query('SELECT pg_sleep(10)'));
        assert.equal(error.code, '57P01');
        assert.equal(error.severity, 'FATAL');
        assert.equal(error.message, EXPIRED);
        // Measured from the token's own `exp` (whole seconds, so up to 1 s before issue + 2 s);
        // 100 ms of slack for timers against the wall clock.
        const afterExpiry = Date.now() - expiresAt(token);
        assert.ok(
          afterExpiry >= 1900 && afterExpiry < 8000,
          `ended ${afterExpiry} ms after expiry: expected expiry + grace (2 s)`,
        );
        assertEnded(await sessionEnd(h, id), 'token_expired');
        await upstreamStopped('SELECT pg_sleep(10)');
      } finally {
        await client.end();
      }
    });
  });

  it('ends an idle pg client when its token expires, and says why', async () => {
    const client = await connectPg(h, await h.token(['analytics'], {}, 3), { user: 'reporting' });
    const id = await liveSessionId(h, 'reporting');
    try {
      await client.query('SELECT 1');
      // Nothing is in flight: the FATAL arrives on its own, as an 'error' event.
      const error = await waitFor('the FATAL', () => client.errors[0]);
      assert.ok(error instanceof pg.DatabaseError, String(error));
      assert.equal(error.code, '57P01');
      assert.equal(error.severity, 'FATAL');
      assert.equal(error.message, EXPIRED);
      assert.equal(error.hint, EXPIRED_HINT);
      await assert.rejects(client.query('SELECT 1'), /not queryable/);
      assertEnded(await sessionEnd(h, id), 'token_expired');
      assert.equal(h.gateway.sessions.size, 0);
    } finally {
      await client.end();
    }
  });

  it('ends a session at the rule’s max_session with 57P01 (a statement at the grace cap)', async () => {
    await withSession({ expiry_grace: 1000 }, async () => {
      const client = await connectPg(h, await h.token(['contractors']), { user: 'reporting' });
      const id = await liveSessionId(h, 'reporting');
      try {
        const error = await queryError(client.query('SELECT pg_sleep(10)'));
        assert.equal(error.code, '57P01');
        assert.equal(error.severity, 'FATAL');
        assert.equal(
          error.message,
          'terminating connection: session reached its maximum length of 3s',
        );
        assertEnded(await sessionEnd(h, id), 'max_session');
        await upstreamStopped('SELECT pg_sleep(10)');
      } finally {
        await client.end();
      }
    });
  });

  it('ends an idle client after session.idle_timeout with 57P05', async () => {
    const original = h.config;
    await h.gateway.reload({ ...original, session: { ...original.session, idle_timeout: 2000 } });
    try {
      const client = await connectPg(h, await h.token(['analytics']));
      const id = await liveSessionId(h, 'analyst');
      try {
        await client.query('SELECT 1');
        const error = await waitFor('the idle FATAL', () => client.errors[0]);
        assert.ok(error instanceof pg.DatabaseError, String(error));
        assert.equal(error.code, '57P05');
        assert.equal(error.severity, 'FATAL');
        assert.equal(error.message, 'terminating connection due to idle timeout');
        assertEnded(await sessionEnd(h, id), 'idle_timeout');
      } finally {
        await client.end();
      }
    } finally {
      await h.gateway.reload(original);
    }
  });

  it('records session.start before session.end for every session, once each', () => {
    const records = readAudit(h).filter((e) => e.type.startsWith('session.'));
    const sessions = new Set(records.map((e) => e.session));
    assert.equal(sessions.size, 7);
    for (const session of sessions) {
      const types = records.filter((e) => e.session === session).map((e) => e.type);
      assert.deepEqual(types, ['session.start', 'session.end']);
    }
  });
});

/** The token's `exp`, in ms since the epoch. */
function expiresAt(token: string): number {
  const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as {
    exp: number;
  };
  return payload.exp * 1000;
}
