import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { connectPg, pgbench } from '../support/e2e-clients.ts';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';

describe('clients through the gateway with a SCRAM upstream', () => {
  let h: GatewayHarness;
  before(async () => {
    h = await startGatewayHarness({ auth: 'scram' });
  });
  after(async () => {
    await h?.close();
  });

  it('psql lands as the requested role, and the server authenticated it with SCRAM', async () => {
    const token = await h.token(['analytics']);
    const result = await h.psql(
      token,
      [
        '-At',
        '-c',
        'SELECT current_user, current_database(), ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
      ],
      { user: 'reporting' },
    );
    assert.equal(result.stderr, '');
    assert.equal(result.stdout, 'reporting|warehouse|t\n');
    // log_connections (PostgreSQL 14+) names the method that authenticated the backend.
    assert.match(
      readFileSync(h.pg.logFile, 'utf8'),
      /connection authenticated: identity="reporting" method=scram-sha-256/,
    );
  });

  it('psql runs a script with \\copy in and out', async () => {
    const dba = await h.token(['dba']);
    const data = Array.from({ length: 2000 }, (_, i) => `${i}\tröw ${i}\n`).join('');
    const result = await h.psql(
      dba,
      [
        '-q',
        '-c',
        'CREATE TABLE scram_rows (n int, t text)',
        '-c',
        '\\copy scram_rows FROM pstdin',
        '-c',
        '\\copy (SELECT * FROM scram_rows ORDER BY n) TO STDOUT',
      ],
      { user: 'app_owner', input: data },
    );
    assert.equal(result.stderr, '');
    assert.equal(result.stdout, data);
  });

  it('node-postgres runs extended-protocol queries', async () => {
    const client = await connectPg(h, await h.token(['analytics']));
    try {
      const result = await client.query<{ who: string; n: number }>(
        'SELECT current_user AS who, $1::int AS n',
        [5],
      );
      assert.deepEqual(result.rows, [{ who: 'analyst', n: 5 }]);
    } finally {
      await client.end();
    }
  });

  it('pgbench initializes and runs, also with a connection per transaction', async () => {
    const dba = await h.token(['dba']);
    const init = await pgbench(h, dba, ['-i', '-s', '1', '-q']);
    assert.equal(init.code, 0, init.stderr);
    const runs: Array<[string[], number]> = [
      [['-n', '-c', '4', '-j', '2', '-t', '100', '-M', 'prepared'], 400],
      [['-n', '-C', '-c', '2', '-j', '2', '-t', '20'], 40],
    ];
    for (const [args, transactions] of runs) {
      const result = await pgbench(h, dba, args);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.processed, transactions, result.stdout);
      assert.equal(result.failed, 0, result.stdout);
    }
  });
});
