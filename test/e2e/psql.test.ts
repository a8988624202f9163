import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type pg from 'pg';
import { connectPg, psqlDigest, waitFor } from '../support/e2e-clients.ts';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');

describe('psql through the gateway (cert upstream)', () => {
  let h: GatewayHarness;
  let analyst: string;
  let dba: string;
  before(async () => {
    h = await startGatewayHarness();
    analyst = await h.token(['analytics']);
    dba = await h.token(['dba']);
  });
  after(async () => {
    await h?.close();
  });

  it('lands as the requested role with the token as the password', async () => {
    const result = await h.psql(analyst, [
      '-At',
      '-c',
      'SELECT current_user, current_database(), ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
    ]);
    assert.equal(result.stderr, '');
    assert.equal(result.stdout.trim(), 'analyst|warehouse|t');
  });

  it('runs several statements in one simple Query and a script with a transaction', async () => {
    const one = await h.psql(analyst, ['-At', '-c', "SELECT 1 AS a; SELECT 'two' AS b"]);
    assert.equal(one.stderr, '');
    assert.equal(one.stdout, '1\ntwo\n');

    const script = [
      'CREATE TEMP TABLE t (n int);',
      'BEGIN;',
      'INSERT INTO t SELECT generate_series(1, 10);',
      'SAVEPOINT s;',
      'DELETE FROM t;',
      'ROLLBACK TO SAVEPOINT s;',
      'COMMIT;',
      'SELECT count(*), sum(n) FROM t;',
    ].join('\n');
    const run = await h.psql(analyst, ['-At', '-q', '-f', '-'], { input: script });
    assert.equal(run.stderr, '');
    assert.equal(run.code, 0);
    assert.equal(run.stdout, '10|55\n');
  });

  it('reports a statement error with its SQLSTATE and exits non-zero', async () => {
    const result = await h.psql(analyst, ['-v', 'VERBOSITY=verbose', '-c', 'SELECT 1/0']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^ERROR: {2}22012: division by zero$/m);
  });

  it('copies a few thousand rows in with \\copy FROM STDIN and out with TO STDOUT, intact', async () => {
    const rows = Array.from(
      { length: 5000 },
      (_, i) =>
        `${i + 1}\titem-${i + 1}${i % 7 === 0 ? '-Grüße-東京-🐘' : ''}\t${((i + 1) * 1.25).toFixed(2)}`,
    );
    const data = `${rows.join('\n')}\n`;
    const asOwner = { user: 'app_owner' };
    const create = await h.psql(
      dba,
      [
        '-q',
        '-c',
        'CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, amount numeric(10,2))',
      ],
      asOwner,
    );
    assert.equal(create.stderr, '');

    const copyIn = await h.psql(dba, ['-c', '\\copy items FROM pstdin'], {
      ...asOwner,
      input: data,
    });
    assert.equal(copyIn.stderr, '');
    assert.equal(copyIn.stdout, 'COPY 5000\n');

    // Checked on the server over its own socket, not through the gateway.
    const check = await h.pg.query(
      `SELECT count(*)::int AS n, sum(id)::int AS ids,
              md5(string_agg(id || E'\\t' || name || E'\\t' || amount, E'\\n' ORDER BY id)) AS digest
         FROM items`,
      [],
      { database: 'warehouse' },
    );
    assert.deepEqual(check.rows[0], { n: 5000, ids: 12_502_500, digest: md5(rows.join('\n')) });

    const copyOut = await h.psql(
      dba,
      ['-c', '\\copy (SELECT * FROM items ORDER BY id) TO STDOUT'],
      asOwner,
    );
    assert.equal(copyOut.stderr, '');
    assert.equal(copyOut.stdout.length, data.length);
    assert.equal(copyOut.stdout, data);
  });

  it('streams a 200,000-row result byte for byte (md5 on both sides)', async () => {
    // Rows differ from each other, so a dropped, duplicated or reordered chunk changes the digest.
    const select =
      'SELECT g, repeat(md5(g::text), 31) FROM generate_series(1, 200000) g ORDER BY g';
    const expected = await h.pg.query(
      `SELECT md5(string_agg(g || '|' || repeat(md5(g::text), 31), E'\\n' ORDER BY g) || E'\\n') AS digest,
              sum(length(g::text) + 1 + 992 + 1)::bigint AS bytes
         FROM generate_series(1, 200000) g`,
    );
    const result = await psqlDigest(h, analyst, ['-At', '-c', select]);
    assert.equal(result.stderr, '');
    assert.equal(result.code, 0);
    assert.equal(result.lines, 200_000);
    const row = expected.rows[0] as { digest: string; bytes: string };
    assert.equal(result.bytes, Number(row.bytes));
    assert.equal(result.md5, row.digest);
  });

  it('round-trips non-ASCII text in UTF-8 and in a converted client encoding', async () => {
    const text = 'Grüße aus Köln, 東京, Ελλάδα, emoji 🐘, combining e\u0301';
    // The same text spelled in ASCII only, so the comparison does not depend on the wire.
    const escaped = [...text]
      .map((c) => {
        const cp = c.codePointAt(0) ?? 0;
        if (cp < 0x80) return c;
        return cp > 0xffff
          ? `\\+${cp.toString(16).padStart(6, '0')}`
          : `\\${cp.toString(16).padStart(4, '0')}`;
      })
      .join('');
    const script = [
      'CREATE TEMP TABLE words (w text);',
      `INSERT INTO words VALUES ('${text}');`,
      'SELECT w, length(w), octet_length(w) FROM words;',
      `SELECT w = U&'${escaped}' FROM words;`,
    ].join('\n');
    const utf8 = await h.psql(analyst, ['-At', '-q', '-f', '-'], { input: script });
    assert.equal(utf8.stderr, '');
    assert.equal(utf8.stdout, `${text}|${[...text].length}|${Buffer.byteLength(text)}\nt\n`);

    // With client_encoding LATIN1 the server converts on output: the bytes psql prints change.
    const latin = await psqlDigest(
      h,
      analyst,
      ['-At', '-c', "SELECT convert_from('\\x4772c3bcc39f65', 'UTF8')"],
      { env: { PGCLIENTENCODING: 'LATIN1' } },
    );
    assert.equal(latin.stderr, '');
    assert.equal(
      latin.md5,
      createHash('md5').update(Buffer.from('Grüße\n', 'latin1')).digest('hex'),
    );
    assert.equal(latin.bytes, 6);
  });

  it('delivers NOTIFY from a psql session to a pg client LISTENing through the gateway', async () => {
    let listener: (pg.Client & { errors: Error[] }) | undefined;
    try {
      listener = await connectPg(h, analyst);
      const received: pg.Notification[] = [];
      listener.on('notification', (n) => received.push(n));
      await listener.query('LISTEN pgkey_e2e');

      const payload = 'payload with ünïcode ✓ and spaces';
      const notify = await h.psql(analyst, ['-c', `NOTIFY pgkey_e2e, '${payload}'`], {
        user: 'reporting',
      });
      assert.equal(notify.stderr, '');
      assert.equal(notify.stdout, 'NOTIFY\n');

      const got = await waitFor('the notification', () => received[0]);
      assert.equal(got.channel, 'pgkey_e2e');
      assert.equal(got.payload, payload);
      // A NOTIFY sent while idle is delivered without the listener asking for anything.
      await h.psql(analyst, ['-c', "SELECT pg_notify('pgkey_e2e', 'second')"]);
      await waitFor('the second notification', () => received.length === 2);
      assert.equal(received[1]?.payload, 'second');
      assert.deepEqual(listener.errors, []);
    } finally {
      await listener?.end();
    }
  });
});
