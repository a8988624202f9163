/**
 * reliability.md §7 A4 (message order before login), protocol 3.0/3.2 negotiation and
 * PostgreSQL 17 direct TLS, byte by byte against a running gateway. Where PostgreSQL's own
 * answer is the specification, the same bytes are also sent to the harness's PostgreSQL.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { bytes, typedMessage } from '../support/bytes.ts';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';
import { pgConnectionsSeen } from './observe.ts';
import {
  CODES,
  GSSENC_REQUEST,
  SSL_REQUEST,
  connectDirectTls,
  connectRaw,
  connectTls,
  expectFatal,
  login,
  loginOn,
  passwordPacket,
  query,
  startupPacket,
  upgrade,
  type Wire,
} from './wire.ts';

const USER = [
  ['user', 'analyst'],
  ['database', 'warehouse'],
] as const;

describe('negotiation and message order (A4, protocol 3.2, direct TLS)', () => {
  let h: GatewayHarness;
  let ca: string;
  let port: number;
  before(async () => {
    h = await startGatewayHarness();
    ca = await readFile(h.clientCaFile, 'utf8');
    port = h.gateway.port;
  });
  after(async () => {
    await h?.close();
  });

  describe('A4: out-of-order messages', () => {
    it('PasswordMessage before any StartupMessage (plaintext) → closed without a reply', async () => {
      const wire = await connectRaw(port);
      wire.write(passwordPacket('not-a-token'));
      const rest = await wire.closed();
      assert.equal(wire.totalReceived, 0, rest.toString('hex'));
    });

    it('PasswordMessage as the first message inside TLS → closed without a reply', async () => {
      const wire = await connectTls(port, { ca });
      wire.write(passwordPacket('not-a-token'));
      const rest = await wire.closed();
      assert.equal(wire.totalReceived, 0, rest.toString('hex'));
    });

    it('a second StartupMessage while the token is awaited → FATAL 08P01, nothing forwarded', async () => {
      const seen = await pgConnectionsSeen(h);
      const wire = await connectTls(port, { ca });
      wire.write(startupPacket(USER));
      assert.equal((await wire.message()).type, 'R');
      wire.write(startupPacket([['user', 'app_owner']]));
      await expectFatal(wire, '08P01', /^message of \d+ bytes is over the limit$/);
      assert.equal(await pgConnectionsSeen(h), seen);
    });

    it('SSLRequest again after SSLRequest + TLS → FATAL 0A000 1234.5679, as PostgreSQL answers', async () => {
      const wire = await connectTls(port, { ca });
      wire.write(SSL_REQUEST);
      await expectFatal(
        wire,
        '0A000',
        'unsupported frontend protocol 1234.5679: server supports 3.0 to 3.2',
      );

      // The specification: PostgreSQL itself, same bytes (ProcessStartupPacket with ssl_done).
      const pg = await connectTls(h.pg.port, { ca: h.pg.serverCaPem });
      pg.write(SSL_REQUEST);
      await expectFatal(
        pg,
        '0A000',
        /^unsupported frontend protocol 1234\.5679: server supports 3\.0 to 3\.\d$/,
      );
    });

    it('SSLRequest inside direct TLS → N, and a valid login still follows', async () => {
      const wire = await connectDirectTls(port, { ca, alpn: ['postgresql'] });
      wire.write(SSL_REQUEST);
      assert.equal((await wire.bytes(1)).toString('latin1'), 'N');
      const session = await loginOn(wire, { token: await h.token(['analytics']) });
      assert.deepEqual((await query(session.wire, 'SELECT current_user')).rows, [['analyst']]);
      session.wire.destroy();
    });

    it('a second SSLRequest inside direct TLS → FATAL 0A000 1234.5679', async () => {
      const wire = await connectDirectTls(port, { ca, alpn: ['postgresql'] });
      wire.write(SSL_REQUEST);
      assert.equal((await wire.bytes(1)).toString('latin1'), 'N');
      wire.write(SSL_REQUEST);
      await expectFatal(
        wire,
        '0A000',
        'unsupported frontend protocol 1234.5679: server supports 3.0 to 3.2',
      );
    });

    it('GSSENCRequest → N, then SSLRequest → S, TLS and a login (libpq with a Kerberos cache)', async () => {
      const raw = await connectRaw(port);
      raw.write(GSSENC_REQUEST);
      assert.equal((await raw.bytes(1)).toString('latin1'), 'N');
      raw.write(SSL_REQUEST);
      assert.equal((await raw.bytes(1)).toString('latin1'), 'S');
      const wire = await upgrade(raw, { ca, alpn: ['postgresql'] });
      const session = await loginOn(wire, { token: await h.token(['analytics']) });
      assert.deepEqual((await query(session.wire, 'SELECT 1')).rows, [['1']]);
      session.wire.destroy();
    });

    it('a second GSSENCRequest → FATAL 0A000 1234.5680', async () => {
      const wire = await connectRaw(port);
      wire.write(GSSENC_REQUEST);
      assert.equal((await wire.bytes(1)).toString('latin1'), 'N');
      wire.write(GSSENC_REQUEST);
      await expectFatal(
        wire,
        '0A000',
        'unsupported frontend protocol 1234.5680: server supports 3.0 to 3.2',
      );
    });

    it('GSSENCRequest after SSL was accepted → FATAL 0A000 1234.5680, as PostgreSQL answers', async () => {
      const wire = await connectTls(port, { ca });
      wire.write(GSSENC_REQUEST);
      await expectFatal(
        wire,
        '0A000',
        'unsupported frontend protocol 1234.5680: server supports 3.0 to 3.2',
      );
      const pg = await connectTls(h.pg.port, { ca: h.pg.serverCaPem });
      pg.write(GSSENC_REQUEST);
      await expectFatal(
        pg,
        '0A000',
        /^unsupported frontend protocol 1234\.5680: server supports 3\.0 to 3\.\d$/,
      );
    });

    it('GSSENCRequest with a StartupMessage in the same write → FATAL 08P01 unencrypted data', async () => {
      const wire = await connectRaw(port);
      wire.write(Buffer.concat([GSSENC_REQUEST, startupPacket(USER)]));
      await expectFatal(wire, '08P01', 'received unencrypted data after SSL request');
    });
  });

  describe('protocol versions', () => {
    it('3.2 gets a BackendKeyData with a 32-byte secret', async () => {
      const session = await login(port, {
        ca,
        token: await h.token(['analytics']),
        version: CODES.Protocol32,
      });
      assert.deepEqual(
        session.beforePassword.map((m) => m.type),
        ['R'],
        'no NegotiateProtocolVersion for 3.2',
      );
      assert.equal(session.key.secret.length, 32);
      session.wire.destroy();
    });

    it('3.0 gets exactly 4 bytes', async () => {
      const session = await login(port, { ca, token: await h.token(['analytics']) });
      assert.equal(session.key.secret.length, 4);
      const keyData = session.greeting.find((m) => m.type === 'K');
      assert.equal(keyData?.body.length, 8);
      session.wire.destroy();
    });

    it('3.5 with _pq_. options gets NegotiateProtocolVersion (3.2, the options) before the auth request', async () => {
      const session = await login(port, {
        ca,
        token: await h.token(['analytics']),
        version: 0x0003_0005,
        parameters: [
          ['_pq_.compression', 'on'],
          ['_pq_.future', 'x'],
        ],
      });
      const [negotiate, request] = session.beforePassword;
      assert.equal(negotiate?.type, 'v');
      assert.deepEqual(
        negotiate.body,
        bytes()
          .int32(0x0003_0002)
          .int32(2)
          .cstring('_pq_.compression')
          .cstring('_pq_.future')
          .build(),
      );
      assert.equal(request?.type, 'R');
      assert.equal(request.body.readInt32BE(0), 3);
      // The session speaks 3.2 from then on.
      assert.equal(session.key.secret.length, 32);
      assert.deepEqual((await query(session.wire, 'SELECT 1')).rows, [['1']]);
      session.wire.destroy();
    });

    it('3.0 with a _pq_. option gets NegotiateProtocolVersion 3.0, never a higher version', async () => {
      // libpq 18 refuses a NegotiateProtocolVersion above the version it asked for.
      const session = await login(port, {
        ca,
        token: await h.token(['analytics']),
        version: 0x0003_0000,
        parameters: [['_pq_.compression', 'on']],
      });
      const [negotiate] = session.beforePassword;
      assert.equal(negotiate?.type, 'v');
      assert.deepEqual(
        negotiate.body,
        bytes().int32(0x0003_0000).int32(1).cstring('_pq_.compression').build(),
      );
      assert.equal(session.key.secret.length, 4);
      session.wire.destroy();
    });

    it('major version 4 → FATAL 0A000 before any auth request', async () => {
      const wire = await connectTls(port, { ca });
      wire.write(startupPacket(USER, 0x0004_0000));
      await expectFatal(
        wire,
        '0A000',
        'unsupported frontend protocol 4.0: server supports 3.0 to 3.2',
      );
    });
  });

  describe('PostgreSQL 17 direct TLS', () => {
    it("ALPN 'postgresql' → login works", async () => {
      const session = await login(port, {
        ca,
        token: await h.token(['analytics']),
        via: 'direct',
      });
      assert.deepEqual((await query(session.wire, 'SELECT current_user')).rows, [['analyst']]);
      session.wire.destroy();
    });

    // No ALPN: TLS completes, then pgkey hangs up (PostgreSQL 17 ProcessSSLStartup). Only
    // other protocols offered: TLS itself fails (no_application_protocol alert).
    for (const [what, alpn, handshake] of [
      ['no ALPN', undefined, 'completed'],
      ["ALPN 'http/1.1' only", ['http/1.1'], 'failed'],
    ] as const) {
      it(`${what} → dropped without a protocol byte, nothing forwarded`, async () => {
        const seen = await pgConnectionsSeen(h);
        assert.deepEqual(await directTlsRefusal(port, ca, alpn), { handshake, received: 0 });
        assert.equal(await pgConnectionsSeen(h), seen);
      });
    }

    it('a typed message as the first thing inside direct TLS → closed silently', async () => {
      const wire = await connectDirectTls(port, { ca, alpn: ['postgresql'] });
      wire.write(typedMessage('Q', bytes().cstring('SELECT 1').build()));
      const rest = await wire.closed();
      assert.equal(wire.totalReceived, 0, rest.toString('hex'));
    });
  });
});

/**
 * Direct TLS that pgkey must refuse: whether the TLS handshake itself fails or pgkey hangs up
 * right after it, the client gets no PostgreSQL byte, even when it goes on to send a startup.
 */
async function directTlsRefusal(
  port: number,
  ca: string,
  alpn: readonly string[] | undefined,
): Promise<{ handshake: 'completed' | 'failed'; received: number }> {
  let wire: Wire;
  try {
    wire = await connectDirectTls(port, { ca, alpn });
  } catch {
    return { handshake: 'failed', received: 0 };
  }
  wire.write(startupPacket(USER));
  await wire.closed();
  return { handshake: 'completed', received: wire.totalReceived };
}
