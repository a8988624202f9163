import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';
import { renderUpstreamSetup } from '../../src/pki/upstream-setup.ts';

/** The effective (non-comment) lines of the output. */
const effective = (text: string): string[] =>
  text
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => line.replace(/\s+#.*$/, '').replace(/\s+/g, ' '));

void describe('renderUpstreamSetup', () => {
  void it('prints postgresql.conf and pg_hba.conf lines for the default gateway address', () => {
    const text = renderUpstreamSetup({ caBundlePath: '/etc/pgkey/upstream-ca-bundle.pem' });
    assert.deepEqual(effective(text), [
      'ssl = on',
      "ssl_cert_file = '/path/to/server.crt'",
      "ssl_key_file = '/path/to/server.key'",
      "ssl_ca_file = '/etc/pgkey/upstream-ca-bundle.pem'",
      "ssl_min_protocol_version = 'TLSv1.2'",
      'hostssl all all 127.0.0.1/32 cert',
      'hostnossl all all 127.0.0.1/32 reject',
    ]);
    assert.match(text, /FIRST line that matches/);
    assert.match(text, /no `host` line/);
    assert.match(text, /PostgreSQL 16 and later/);
    assert.match(text, /pg_reload_conf/);
  });

  void it('writes one line per gateway address, normalising bare addresses', () => {
    const text = renderUpstreamSetup({
      caBundlePath: '/b.pem',
      gatewayAddresses: ['10.0.0.5', '10.1.0.0/16', 'fd00::7', '::/0'],
    });
    assert.deepEqual(
      effective(text).filter((line) => line.startsWith('hostssl')),
      [
        'hostssl all all 10.0.0.5/32 cert',
        'hostssl all all 10.1.0.0/16 cert',
        'hostssl all all fd00::7/128 cert',
        'hostssl all all ::/0 cert',
      ],
    );
  });

  void it('quotes the bundle path for postgresql.conf', () => {
    const text = renderUpstreamSetup({ caBundlePath: "/srv/o'brien/ca\\bundle.pem" });
    assert.ok(text.includes("ssl_ca_file = '/srv/o''brien/ca\\\\bundle.pem'"));
  });

  void it('refuses addresses that are not IPs or CIDRs', () => {
    for (const bad of [
      'localhost',
      '10.0.0.1/33',
      '10.0.0.1/8/8',
      '::1/129',
      '10.0.0/8',
      '1.2.3.4/x',
      '',
    ]) {
      assert.throws(
        () => renderUpstreamSetup({ caBundlePath: '/b.pem', gatewayAddresses: [bad] }),
        (error: unknown) =>
          isPgkeyError(error, 'ERR_USAGE') && error.message.includes(JSON.stringify(bad)),
      );
    }
    assert.throws(
      () => renderUpstreamSetup({ caBundlePath: '/b.pem', gatewayAddresses: [] }),
      /at least one/,
    );
  });
});
