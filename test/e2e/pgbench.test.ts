import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pgbench, readAudit, waitFor, type PgbenchRun } from '../support/e2e-clients.ts';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';

/** A clean run: exit 0, transactions processed, none failed, nothing on stderr but progress. */
function assertClean(result: PgbenchRun): void {
  assert.equal(result.code, 0, result.stderr);
  assert.ok(result.processed > 0, result.stdout);
  assert.equal(result.failed, 0, result.stdout);
  assert.doesNotMatch(result.stderr, /error|FATAL|abort/i);
}

describe('pgbench through the gateway (cert upstream)', () => {
  let h: GatewayHarness;
  let dba: string;
  before(async () => {
    h = await startGatewayHarness();
    dba = await h.token(['dba']);
    const init = await pgbench(h, dba, ['-i', '-s', '1', '-q']);
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stderr, /done in/);
  });
  after(async () => {
    await h?.close();
  });

  it('initialized the tables as app_owner through the gateway', async () => {
    const result = await h.pg.query(
      `SELECT (SELECT count(*)::int FROM pgbench_accounts) AS accounts,
              (SELECT tableowner FROM pg_tables WHERE tablename = 'pgbench_accounts') AS owner`,
      [],
      { database: 'warehouse' },
    );
    assert.deepEqual(result.rows, [{ accounts: 100_000, owner: 'app_owner' }]);
  });

  it('runs TPC-B-like with 4 clients on 2 threads for 3 s and no failures', async () => {
    const result = await pgbench(h, dba, ['-n', '-c', '4', '-j', '2', '-T', '3']);
    assertClean(result);
    assert.match(result.stdout, /^number of clients: 4$/m);
    // Every transaction updated one branch row: the history table holds one row each.
    const history = await h.pg.query('SELECT count(*)::int AS n FROM pgbench_history', [], {
      database: 'warehouse',
    });
    assert.ok((history.rows[0] as { n: number }).n >= result.processed);
  });

  it('opens a new gateway connection per transaction (-C)', async () => {
    const logins = (): number => readAudit(h).filter((e) => e.type === 'auth.success').length;
    const before = logins();
    const result = await pgbench(h, dba, ['-n', '-C', '-c', '2', '-j', '2', '-t', '25']);
    assertClean(result);
    assert.equal(result.processed, 50);
    // One login per transaction, plus the connection pgbench opens first to check the tables.
    assert.equal(logins() - before, 51);
    await waitFor('every -C session to end', () => h.gateway.sessions.size === 0);
  });

  for (const mode of ['extended', 'prepared'] as const) {
    it(`runs with -M ${mode}`, async () => {
      const result = await pgbench(h, dba, ['-n', '-M', mode, '-c', '4', '-j', '2', '-t', '100']);
      assertClean(result);
      assert.equal(result.processed, 400);
      assert.match(result.stdout, new RegExp(`^query mode: ${mode}$`, 'm'));
    });
  }
});
