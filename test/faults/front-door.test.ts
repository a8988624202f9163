/**
 * reliability.md §7 A1, A2, A3, A6: the wire front door against raw bytes on real sockets.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { bytes, typedMessage } from '../support/bytes.ts';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';
import { auditEvents, pgConnectionsSeen, pgTcpBackends } from './observe.ts';
import {
  CODES,
  SSL_REQUEST,
  connectRaw,
  connectTls,
  errorFields,
  eventually,
  expectFatal,
  passwordPacket,
  pause,
  query,
  startupPacket,
  upgrade,
  type Wire,
} from './wire.ts';

const USER = [
  ['user', 'analyst'],
  ['database', 'warehouse'],
] as const;

describe('front door: bytes before and around TLS (A1, A2, A3, A6)', () => {
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

  /** A connection with TLS up and the StartupMessage answered by the token request. */
  async function awaitingPassword(): Promise<Wire> {
    const wire = await connectTls(port, { ca });
    wire.write(startupPacket(USER));
    const request = await wire.message();
    assert.equal(request.type, 'R');
    assert.equal(request.body.readInt32BE(0), 3, 'AuthenticationCleartextPassword');
    return wire;
  }

  it('the PostgreSQL connection log sees a gateway login (the probe the next tests rely on)', async () => {
    const seen = await pgConnectionsSeen(h);
    const wire = await connectTls(port, { ca });
    wire.write(startupPacket(USER));
    await wire.message();
    wire.write(passwordPacket(await h.token(['analytics'])));
    const greeting = await wire.messagesUntil('Z');
    assert.equal(greeting.at(-1)?.type, 'Z');
    assert.equal(await pgConnectionsSeen(h), seen + 1);
    wire.destroy();
    // Let the session's last record land, so the next test's audit count starts settled.
    await eventually(
      async () => (await auditEvents(h)).some((e) => e.type === 'session.end'),
      'session.end in the audit file',
    );
  });

  it('A1: SSLRequest and StartupMessage in one write → FATAL 08P01 in plaintext, nothing forwarded', async () => {
    const seen = await pgConnectionsSeen(h);
    const events = (await auditEvents(h)).length;
    const wire = await connectRaw(port);
    wire.write(Buffer.concat([SSL_REQUEST, startupPacket(USER)]));
    const fields = await expectFatal(wire, '08P01', 'received unencrypted data after SSL request');
    assert.match(fields.get('D') ?? '', /man-in-the-middle/);
    // No 'S' was sent: the reply started with the ErrorResponse itself (expectFatal read it
    // as the first message), so the client never believed TLS was coming.
    assert.equal(await pgConnectionsSeen(h), seen, 'nothing reached PostgreSQL');
    assert.equal(await pgTcpBackends(h), 0);
    assert.equal((await auditEvents(h)).length, events, 'no audit event');
  });

  it('A1: a Query smuggled behind the SSLRequest is refused the same way', async () => {
    const seen = await pgConnectionsSeen(h);
    const wire = await connectRaw(port);
    wire.write(
      Buffer.concat([SSL_REQUEST, typedMessage('Q', bytes().cstring('SELECT 1').build())]),
    );
    await expectFatal(wire, '08P01', 'received unencrypted data after SSL request');
    assert.equal(await pgConnectionsSeen(h), seen);
  });

  it('A2: plaintext StartupMessage → FATAL 28000 before any token is asked for', async () => {
    const seen = await pgConnectionsSeen(h);
    const wire = await connectRaw(port);
    wire.write(startupPacket(USER));
    // The first and only message is the FATAL: no AuthenticationCleartextPassword ('R' 3).
    await expectFatal(
      wire,
      '28000',
      'pgkey requires TLS: connect with sslmode=require or stricter',
    );
    assert.equal(await pgConnectionsSeen(h), seen);
  });

  it('A2: psql with sslmode=disable gets the same message', async () => {
    const token = await h.token(['analytics']);
    const result = await h.psql(token, ['-c', 'SELECT 1'], { env: { PGSSLMODE: 'disable' } });
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /FATAL: {2}pgkey requires TLS: connect with sslmode=require or stricter/,
    );
    assert.doesNotMatch(result.stderr, /password/i);
  });

  describe('A3: startup lengths outside 8..10000 are dropped without a reply', () => {
    const cases: Array<[string, Buffer]> = [
      ['length 4', bytes().int32(4).build()],
      ['length 7', bytes().int32(7).fill(3, 0).build()],
      ['length 10001', bytes().int32(10_001).int32(CODES.Protocol30).build()],
      ['length 0xFFFFFFFF', bytes().int32(0xffff_ffff).int32(CODES.Protocol30).build()],
      ['length 0x7FFFFFFF', bytes().int32(0x7fff_ffff).int32(CODES.Protocol30).build()],
    ];
    for (const [what, packet] of cases) {
      it(what, async () => {
        const wire = await connectRaw(port);
        wire.write(packet);
        const rest = await wire.closed();
        assert.equal(wire.totalReceived, 0, `reply: ${rest.toString('hex')}`);
      });
    }

    it('length exactly 10000 is read (and answered: plaintext is refused with 28000)', async () => {
      const filler = 'x'.repeat(10_000 - 8 - 'application_name'.length - 2 - 1);
      const packet = startupPacket([['application_name', filler]]);
      assert.equal(packet.length, 10_000);
      const wire = await connectRaw(port);
      wire.write(packet);
      await expectFatal(wire, '28000', /requires TLS/);
    });
  });

  describe('A3: typed messages after the StartupMessage are capped before buffering', () => {
    it('a length under 4 → 08P01', async () => {
      const wire = await awaitingPassword();
      wire.write(bytes().byte('p').int32(3).build());
      await expectFatal(wire, '08P01', 'invalid message length 3');
    });

    it("a 'p' declaring 100 MB → 08P01 at once, before the body", async () => {
      const wire = await awaitingPassword();
      wire.write(
        bytes()
          .byte('p')
          .int32(100 * 1024 * 1024)
          .build(),
      );
      await expectFatal(wire, '08P01', 'message of 104857600 bytes is over the limit');
    });

    it("a 'Q' over the 1 KiB pre-login cap → 08P01", async () => {
      const wire = await awaitingPassword();
      wire.write(bytes().byte('Q').int32(2000).build());
      await expectFatal(wire, '08P01', 'message of 2000 bytes is over the limit');
    });

    it("a small message other than 'p' while the token is awaited → 08P01", async () => {
      const wire = await awaitingPassword();
      wire.write(typedMessage('Q', bytes().cstring('SELECT 1').build()));
      await expectFatal(wire, '08P01', 'expected password response, got message type Q');
    });

    it('many 100 MB headers with data behind them do not grow the gateway', async () => {
      const junk = Buffer.alloc(256 * 1024, 0x61);
      const attempt = async (): Promise<void> => {
        const wire = await awaitingPassword();
        wire.write(
          Buffer.concat([
            bytes()
              .byte('p')
              .int32(100 * 1024 * 1024)
              .build(),
            junk,
          ]),
        );
        await expectFatal(wire, '08P01', 'message of 104857600 bytes is over the limit');
      };
      await attempt(); // warm up TLS and the code paths before measuring
      const before = process.memoryUsage().rss;
      for (let batch = 0; batch < 6; batch++) {
        await Promise.all(Array.from({ length: 10 }, attempt));
      }
      const grown = process.memoryUsage().rss - before;
      // 60 × 100 MB would be 6 GB if a declared length were allocated; 60 × 256 KiB of body
      // is 15 MB if bodies were buffered whole. Allow for TLS sessions and GC timing.
      assert.ok(grown < 96 * 1024 * 1024, `rss grew by ${(grown / 2 ** 20).toFixed(1)} MiB`);
    });
  });

  it('A6: every byte of the handshake sent on its own, with delays → login works', async () => {
    const token = await h.token(['analytics']);
    const dribble = async (wire: Wire, data: Buffer): Promise<void> => {
      for (const byte of data) {
        wire.write(Buffer.from([byte]));
        await pause(1);
      }
    };
    const raw = await connectRaw(port);
    await dribble(raw, SSL_REQUEST);
    assert.equal((await raw.bytes(1)).toString('latin1'), 'S');
    const wire = await upgrade(raw, { ca, alpn: ['postgresql'] });
    await dribble(wire, startupPacket(USER));
    const request = await wire.message();
    assert.equal(request.type, 'R');
    assert.equal(request.body.readInt32BE(0), 3);
    await dribble(wire, passwordPacket(token));
    const greeting = await wire.messagesUntil('Z', 10_000);
    assert.equal(greeting[0]?.type, 'R');
    assert.equal(greeting.at(-1)?.type, 'Z', `greeting ended with ${errorText(greeting.at(-1))}`);
    const result = await query(wire, 'SELECT current_user');
    assert.deepEqual(result.rows, [['analyst']]);
    wire.destroy();
  });
});

function errorText(message: { type: string; body: Buffer } | undefined): string {
  if (message?.type !== 'E') return message?.type ?? 'nothing';
  return JSON.stringify(Object.fromEntries(errorFields(message.body)));
}
