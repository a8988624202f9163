import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import pg from 'pg';
import { connectPg } from '../support/e2e-clients.ts';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';

type Client = Awaited<ReturnType<typeof connectPg>>;

/** The SQLSTATE a rejected query carries (fails the test for anything but a server error). */
async function sqlstate(query: Promise<unknown>): Promise<string | undefined> {
  try {
    await query;
  } catch (error) {
    assert.ok(error instanceof pg.DatabaseError, `expected a DatabaseError, got ${String(error)}`);
    return error.code;
  }
  assert.fail('expected the query to fail');
}

describe('node-postgres through the gateway', () => {
  let h: GatewayHarness;
  let token: string;
  const open: Client[] = [];
  const connect = async (options: { pipeline?: boolean } = {}): Promise<Client> => {
    const client = await connectPg(h, token, options);
    open.push(client);
    return client;
  };

  before(async () => {
    h = await startGatewayHarness();
    token = await h.token(['analytics']);
  });
  afterEach(async () => {
    for (const client of open.splice(0)) {
      assert.deepEqual(client.errors, [], 'no asynchronous client errors');
      await client.end();
    }
  });
  after(async () => {
    await h?.close();
  });

  it('binds parameters with the extended protocol', async () => {
    const client = await connect();
    const result = await client.query<{ sum: number; t: string; n: null; arr: number[] }>(
      'SELECT $1::int + $2::int AS sum, $3::text AS t, $4::text AS n, $5::int[] AS arr',
      [40, 2, 'Grüße 🐘', null, [1, 2, 3]],
    );
    assert.deepEqual(result.rows, [{ sum: 42, t: 'Grüße 🐘', n: null, arr: [1, 2, 3] }]);
    assert.deepEqual(
      result.fields.map((f) => f.name),
      ['sum', 't', 'n', 'arr'],
    );
  });

  it('reuses a named prepared statement (parsed once, executed many times)', async () => {
    const client = await connect();
    const values: number[] = [];
    for (let i = 1; i <= 5; i++) {
      const r = await client.query<{ v: number }>({
        name: 'double_it',
        text: 'SELECT $1::int * 2 AS v',
        values: [i],
      });
      values.push(r.rows[0]!.v);
    }
    assert.deepEqual(values, [2, 4, 6, 8, 10]);
    const prepared = await client.query<{ name: string; statement: string }>(
      'SELECT name, statement FROM pg_prepared_statements',
    );
    assert.deepEqual(prepared.rows, [{ name: 'double_it', statement: 'SELECT $1::int * 2 AS v' }]);
  });

  it('returns binary-format results', async () => {
    const client = await connect();
    // `binary` is a pg query option @types/pg does not declare.
    const query: pg.QueryConfig & { binary: boolean } = {
      text: "SELECT $1::int4 AS i, 9007199254740993::int8 AS big, true AS ok, 'Grüße 🐘'::text AS t",
      values: [42],
      binary: true,
    };
    const result = await client.query<{ i: number; big: string; ok: boolean; t: string }>(query);
    assert.deepEqual(result.rows, [{ i: 42, big: '9007199254740993', ok: true, t: 'Grüße 🐘' }]);
    assert.deepEqual(
      result.fields.map((f) => f.format),
      ['binary', 'binary', 'binary', 'binary'],
    );
  });

  it('answers pipelined queries in order, an error in the middle failing only its own', async () => {
    const client = await connect({ pipeline: true });
    const queries = [
      client.query<{ n: number }>('SELECT $1::int AS n', [1]),
      client.query<{ n: number }>('SELECT $1::int AS n', [2]),
      client.query('SELECT 1/0'),
      client.query<{ n: number }>('SELECT $1::int AS n', [4]),
      client.query<{ n: number }>({ text: 'SELECT n FROM generate_series(5, 7) n' }),
    ];
    const settled = await Promise.allSettled(queries);
    assert.deepEqual(
      settled.map((s) => s.status),
      ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
    );
    const rows = settled.map((s): unknown => (s.status === 'fulfilled' ? s.value.rows : s.reason));
    assert.deepEqual(rows[0], [{ n: 1 }]);
    assert.deepEqual(rows[1], [{ n: 2 }]);
    assert.equal((rows[2] as pg.DatabaseError).code, '22012');
    assert.deepEqual(rows[3], [{ n: 4 }]);
    assert.deepEqual(rows[4], [{ n: 5 }, { n: 6 }, { n: 7 }]);
  });

  it('fails the rest of a transaction after an error until ROLLBACK, with the right status', async () => {
    const client = await connect();
    // ReadyForQuery's status byte as the client receives it through the gateway. (A query's
    // promise settles on CommandComplete/ErrorResponse, before its ReadyForQuery arrives.)
    const statuses: string[] = [];
    client.connection.on('readyForQuery', (msg: { status: string }) => statuses.push(msg.status));
    assert.equal(client.getTransactionStatus(), 'I');
    await client.query('CREATE TEMP TABLE ledger (n int)');
    await client.query('BEGIN');
    await client.query('INSERT INTO ledger VALUES ($1)', [1]);
    assert.equal(await sqlstate(client.query('SELECT 1/0')), '22012');
    assert.equal(await sqlstate(client.query('SELECT 1')), '25P02');
    await client.query('ROLLBACK');
    const count = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM ledger');
    assert.deepEqual(count.rows, [{ n: 0 }]);
    assert.deepEqual(statuses, ['I', 'T', 'T', 'E', 'E', 'I', 'I']);

    await client.query('BEGIN');
    await client.query('INSERT INTO ledger VALUES ($1), ($2)', [1, 2]);
    await client.query('COMMIT');
    const committed = await client.query<{ s: number }>('SELECT sum(n)::int AS s FROM ledger');
    assert.deepEqual(committed.rows, [{ s: 3 }]);
    assert.equal(client.getTransactionStatus(), 'I');
  });

  it('keeps the session usable after a syntax error and a bad parameter', async () => {
    const client = await connect();
    assert.equal(await sqlstate(client.query('SELEC 1')), '42601');
    assert.equal(await sqlstate(client.query('SELECT $1::int AS n', ['not a number'])), '22P02');
    assert.equal(await sqlstate(client.query('SELECT * FROM no_such_table')), '42P01');
    const after = await client.query<{ n: number; who: string }>(
      'SELECT $1::int AS n, current_user AS who',
      [7],
    );
    assert.deepEqual(after.rows, [{ n: 7, who: 'analyst' }]);
    assert.equal(client.getTransactionStatus(), 'I');
  });

  it('carries startup parameters in and ParameterStatus out', async () => {
    const client = await connect();
    const result = await client.query<{ app: string; enc: string }>(
      "SELECT current_setting('application_name') AS app, current_setting('client_encoding') AS enc",
    );
    assert.deepEqual(result.rows, [{ app: 'pgkey-e2e', enc: 'UTF8' }]);

    const statuses: Array<[string, string]> = [];
    client.connection.on(
      'parameterStatus',
      (msg: { parameterName: string; parameterValue: string }) =>
        statuses.push([msg.parameterName, msg.parameterValue]),
    );
    await client.query("SET application_name = 'renamed'");
    assert.deepEqual(statuses, [['application_name', 'renamed']]);
  });
});
