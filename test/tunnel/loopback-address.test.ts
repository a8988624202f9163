import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';
import { connectHints } from '../../src/tunnel/connect-hints.ts';
import { formatAddress, loopbackAddress } from '../../src/tunnel/loopback-address.ts';

describe('loopbackAddress (--bind, --port)', () => {
  it('defaults to 127.0.0.1:15432', () => {
    assert.deepEqual(loopbackAddress(undefined, undefined), { host: '127.0.0.1', port: 15432 });
  });

  for (const [bind, host] of [
    ['127.0.0.1', '127.0.0.1'],
    ['127.1.2.3', '127.1.2.3'],
    ['::1', '::1'],
    ['[::1]', '::1'],
  ] as const) {
    it(`accepts ${bind}`, () => {
      assert.deepEqual(loopbackAddress(bind, '5433'), { host, port: 5433 });
    });
  }

  for (const bind of [
    '0.0.0.0',
    '::',
    '[::]',
    '192.0.2.10',
    '10.0.0.1',
    '::ffff:127.0.0.1',
    'localhost',
    'db.example.com',
    '',
  ]) {
    it(`refuses ${JSON.stringify(bind)}: not a loopback IP`, () => {
      assert.throws(
        () => loopbackAddress(bind, undefined),
        (error: unknown) =>
          isPgkeyError(error, 'ERR_USAGE') &&
          error.reason === 'tunnel_bind_refused' &&
          /loopback address only/.test(error.message),
      );
    });
  }

  for (const port of ['-1', '65536', '15432x', 'abc', '1.5', '']) {
    it(`refuses --port ${JSON.stringify(port)}`, () => {
      assert.throws(
        () => loopbackAddress(undefined, port),
        (e: unknown) => isPgkeyError(e, 'ERR_USAGE'),
      );
    });
  }

  it('accepts port 0 (the system picks one)', () => {
    assert.equal(loopbackAddress(undefined, '0').port, 0);
  });

  it('writes IPv6 in brackets', () => {
    assert.equal(formatAddress({ host: '::1', port: 15432 }), '[::1]:15432');
    assert.equal(formatAddress({ host: '127.0.0.1', port: 15432 }), '127.0.0.1:15432');
  });
});

describe('connectHints', () => {
  it('psql, JDBC and URI forms for the tunnel, without password or TLS settings', () => {
    assert.deepEqual(
      connectHints({ host: '127.0.0.1', port: 15432 }, { database: 'warehouse', role: 'analyst' }),
      {
        psql: "psql 'host=127.0.0.1 port=15432 dbname=warehouse user=analyst'",
        jdbc: 'jdbc:postgresql://127.0.0.1:15432/warehouse?user=analyst',
        uri: 'postgresql://analyst@127.0.0.1:15432/warehouse',
      },
    );
  });

  it('brackets IPv6 in URLs, not in conninfo', () => {
    const hints = connectHints({ host: '::1', port: 5 }, { database: 'd', role: 'r' });
    assert.equal(hints.psql, "psql 'host=::1 port=5 dbname=d user=r'");
    assert.equal(hints.jdbc, 'jdbc:postgresql://[::1]:5/d?user=r');
    assert.equal(hints.uri, 'postgresql://r@[::1]:5/d');
  });

  it('quotes what needs quoting and leaves placeholders for unknown names', () => {
    const hints = connectHints({ host: '127.0.0.1', port: 1 }, { database: "o'hare db" });
    // conninfo quoting inside a shell single-quoted word.
    assert.equal(
      hints.psql,
      `psql 'host=127.0.0.1 port=1 dbname='\\''o\\'\\''hare db'\\'' user=ROLE'`,
    );
    assert.equal(hints.jdbc, "jdbc:postgresql://127.0.0.1:1/o'hare%20db?user=ROLE");
  });
});
