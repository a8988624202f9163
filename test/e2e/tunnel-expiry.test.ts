// `pgkey tunnel` against a provider whose access tokens live 6 s: the gateway's end of a
// session at token expiry (session.expiry_grace) never cuts a statement that runs across it,
// an idle connection is closed between statements with a clean FATAL, and the reconnect
// goes through the tunnel with a new token — what a GUI tool sees over a working day.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { EnrolledUser } from '../support/builtin-idp.ts';
import { sessionEnd, waitFor } from '../support/e2e-clients.ts';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';
import { liveTokens, startTunnelFixture, type TunnelFixture } from '../support/tunnel-fixture.ts';

const TTL_SECONDS = 6;
const EXPIRED = 'terminating connection because the token it was opened with expired';

describe('pgkey tunnel across token expiry', { timeout: 180_000 }, () => {
  let h: GatewayHarness;
  let person: EnrolledUser;
  let f: TunnelFixture;

  before(async () => {
    h = await startGatewayHarness({ idp: { access_token_ttl: `${TTL_SECONDS}s` } });
    person = await h.idp!.enroll('ada@example.com', ['analytics']);
    f = await startTunnelFixture(h, person);
  });
  after(async () => {
    await f?.close();
    await h?.close();
  });

  function connect(): Promise<pg.Client & { readonly errors: Error[] }> {
    const client = Object.assign(
      new pg.Client({
        host: '127.0.0.1',
        port: f.tunnel.address.port,
        user: 'analyst',
        database: 'warehouse',
      }),
      { errors: [] as Error[] },
    );
    client.on('error', (error) => client.errors.push(error));
    return client.connect().then(() => client);
  }

  it('a statement running across the token’s expiry returns its result', async () => {
    const result = await f.psql(['-At', '-c', `SELECT pg_sleep(${TTL_SECONDS + 2}), 42`]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, '|42\n');
  });

  it('an idle connection ends between statements; the reconnect gets a new token', async () => {
    const first = await connect();
    const [opened] = liveTokens(h, 'analyst');
    assert.ok(opened?.jti !== undefined);
    const session = await waitFor('the live session', () => h.gateway.sessions.list()[0]?.id);
    try {
      assert.deepEqual((await first.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
      // The gateway's FATAL, passed through the tunnel as it came.
      const error = await waitFor('the expiry FATAL', () => first.errors[0], 15_000);
      assert.ok(error instanceof pg.DatabaseError, String(error));
      assert.equal(error.code, '57P01');
      assert.equal(error.message, EXPIRED);
      assert.equal((await sessionEnd(h, session)).reason, 'token_expired');
    } finally {
      await first.end().catch(() => undefined);
    }

    // What a GUI does next: connect again. The tunnel refreshes the token on its own.
    const second = await connect();
    try {
      const [reopened] = liveTokens(h, 'analyst');
      assert.ok(reopened?.jti !== undefined);
      assert.notEqual(reopened.jti, opened.jti, 'a new token');
      assert.ok(reopened.expiresAt > opened.expiresAt);
      assert.deepEqual((await second.query('SELECT current_user AS who')).rows, [
        { who: 'analyst' },
      ]);
      assert.ok(f.events.some((e) => e.kind === 'token'));
      assert.ok(!f.events.some((e) => e.kind === 'refused'), 'no connection was refused');
    } finally {
      await second.end();
    }
  });
});
