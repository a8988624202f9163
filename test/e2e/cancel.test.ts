import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import {
  activeBackends,
  backendKey,
  connectPg,
  pgConfig,
  psqlTerminal,
  sendCancel,
  spawnPsql,
  waitFor,
} from '../support/e2e-clients.ts';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';

const SLEEP = 'SELECT pg_sleep(30)';

/** How a canceled statement fails (PostgreSQL postgres.c ProcessInterrupts). */
function assertCanceled(error: unknown): void {
  assert.ok(error instanceof pg.DatabaseError, `expected a DatabaseError, got ${String(error)}`);
  assert.equal(error.code, '57014');
  assert.equal(error.message, 'canceling statement due to user request');
  assert.equal(error.severity, 'ERROR');
}

describe('query cancel through the gateway', () => {
  let h: GatewayHarness;
  let token: string;
  before(async () => {
    h = await startGatewayHarness();
    token = await h.token(['analytics']);
  });
  after(async () => {
    await h?.close();
  });

  /** Starts pg_sleep(30) on `client` and waits until the upstream backend is running it. */
  async function sleeping(client: pg.Client): Promise<{ outcome: Promise<unknown> }> {
    const running = client.query(SLEEP).then(
      () => assert.fail('pg_sleep(30) was not canceled'),
      (error: unknown) => error,
    );
    await waitFor('pg_sleep to start upstream', async () => (await activeBackends(h, SLEEP)) === 1);
    return { outcome: running };
  }

  it('SIGINT to psql running a statement cancels it with 57014 within seconds', async () => {
    const { child, done } = spawnPsql(h, token, ['-v', 'VERBOSITY=verbose', '-c', SLEEP]);
    await waitFor('pg_sleep to start upstream', async () => (await activeBackends(h, SLEEP)) === 1);
    const interrupted = Date.now();
    // libpq's PQcancel opens a new connection and sends the key pgkey handed out.
    child.kill('SIGINT');
    const result = await done;
    assert.ok(Date.now() - interrupted < 5000, 'canceled long before pg_sleep(30) ends');
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^Cancel request sent\nERROR: {2}57014: canceling statement due to user request\n/,
    );
    assert.equal(await activeBackends(h, SLEEP), 0);
  });

  it('Ctrl+C in an interactive psql cancels the statement and the session goes on', async () => {
    const terminal = psqlTerminal(h, token);
    try {
      await terminal.expect('warehouse=> ');
      terminal.type(`SELECT 'pid ' || pg_backend_pid();\n${SLEEP};\n`);
      await waitFor(
        'pg_sleep to start upstream',
        async () => (await activeBackends(h, `${SLEEP};`)) === 1,
      );
      const mark = terminal.output().length;
      terminal.type('\x03'); // Ctrl+C: the tty sends psql SIGINT
      await terminal.expect('ERROR:  canceling statement due to user request', mark);
      terminal.type("SELECT 'still here, pid ' || pg_backend_pid();\n\\q\n");
      const output = await terminal.closed;
      assert.match(
        output,
        /Cancel request sent\r\nERROR: {2}canceling statement due to user request\r\n/,
      );
      // The same upstream backend answers after the cancel: one session, still usable.
      const pid = /^pid (\d+)\r$/m.exec(output)?.[1];
      assert.ok(pid !== undefined, output);
      assert.match(output, new RegExp(`^still here, pid ${pid}\\r$`, 'm'));
      assert.equal(await activeBackends(h, `${SLEEP};`), 0);
    } finally {
      terminal.kill();
    }
  });

  it("cancels through pg's own cancel path and the client keeps working", async () => {
    const client = await connectPg(h, token);
    try {
      const { outcome } = await sleeping(client);
      // pg's undocumented Client#cancel(client, query): a second Client sends the CancelRequest.
      const canceler = new pg.Client(pgConfig(h, token)) as unknown as {
        cancel(target: pg.Client, query: unknown): void;
      };
      canceler.cancel(client, (client as unknown as { _activeQuery: unknown })._activeQuery);
      assertCanceled(await outcome);
      const again = await client.query<{ n: number }>('SELECT 1 AS n');
      assert.deepEqual(again.rows, [{ n: 1 }]);
      assert.deepEqual(client.errors, []);
    } finally {
      await client.end();
    }
  });

  it('cancels with a hand-rolled CancelRequest, plaintext or behind an SSLRequest', async () => {
    const client = await connectPg(h, token);
    try {
      const key = backendKey(client);
      for (const tls of [false, true]) {
        const { outcome } = await sleeping(client);
        await sendCancel(h, key.processId, key.secretKey, { tls });
        assertCanceled(await outcome);
      }
      const again = await client.query<{ who: string }>('SELECT current_user AS who');
      assert.deepEqual(again.rows, [{ who: 'analyst' }]);
    } finally {
      await client.end();
    }
  });

  it('ignores a cancel with a wrong secret or an unknown process id', async () => {
    const client = await connectPg(h, token);
    try {
      const key = backendKey(client);
      const { outcome } = await sleeping(client);
      let settled = false;
      void outcome.finally(() => (settled = true));
      await sendCancel(h, key.processId, key.secretKey ^ 1);
      await sendCancel(h, key.processId ^ 1, key.secretKey);
      await sendCancel(h, key.processId, Buffer.alloc(32, 7), { tls: true });
      // Proving that nothing happens needs a window: a forwarded cancel lands in milliseconds.
      await sleep(500);
      assert.equal(settled, false);
      assert.equal(await activeBackends(h, SLEEP), 1);
      // The right key still works afterwards.
      await sendCancel(h, key.processId, key.secretKey);
      assertCanceled(await outcome);
    } finally {
      await client.end();
    }
  });
});
