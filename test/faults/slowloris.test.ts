/**
 * reliability.md §7 A7: connections that stall before logging in (right after connect, or
 * half-way through a TLS ClientHello) are capped per address, closed at the handshake
 * timeout, do not keep others out, and do not hold up shutdown (PostgreSQL
 * src/test/postmaster/t/003_start_stop.pl).
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';
import { connectRaw, eventually, login, query, TERMINATE, type Wire } from './wire.ts';

const LIMIT = 40;
const TIMEOUT_MS = 2000;

/** The first flight of a real TLS client (a whole ClientHello record), captured locally. */
async function captureClientHello(): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  try {
    const hello = new Promise<Buffer>((resolve) =>
      server.once('connection', (socket) => socket.once('data', resolve)),
    );
    const client = tls.connect({
      port,
      host: '127.0.0.1',
      servername: 'localhost',
      ALPNProtocols: ['postgresql'],
    });
    client.on('error', () => undefined);
    const record = await hello;
    client.destroy();
    return record;
  } finally {
    server.close();
  }
}

interface Stalled {
  readonly wire: Wire;
  readonly openedAt: number;
  closedAt: number | undefined;
}

async function openStalled(
  port: number,
  count: number,
  localAddress: string,
  firstBytes?: Buffer,
): Promise<Stalled[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const openedAt = Date.now();
      const wire = await connectRaw(port, { localAddress });
      const stalled: Stalled = { wire, openedAt, closedAt: undefined };
      wire.stream.once('close', () => (stalled.closedAt = Date.now()));
      if (firstBytes !== undefined) wire.write(firstBytes);
      return stalled;
    }),
  );
}

const closedCount = (all: readonly Stalled[]): number =>
  all.filter((s) => s.closedAt !== undefined).length;

describe('slowloris (A7)', () => {
  let h: GatewayHarness;
  let ca: string;
  let halfHello: Buffer;
  before(async () => {
    h = await startGatewayHarness({
      listen: { max_unauthenticated_per_address: LIMIT, handshake_timeout: '2s' },
    });
    ca = await readFile(h.clientCaFile, 'utf8');
    const hello = await captureClientHello();
    assert.equal(hello[0], 0x16, 'a TLS handshake record');
    halfHello = hello.subarray(0, hello.length >> 1);
  });
  after(async () => {
    await h?.close();
  });

  it('caps stalled handshakes per address, times them out, and still serves others', async () => {
    const port = h.gateway.port;
    // 50 that say nothing, from 127.0.0.1; 50 that stop half-way into a ClientHello, from
    // 127.0.0.3 (each address gets its own LIMIT, so both kinds reach the timeout).
    const silent = await openStalled(port, 50, '127.0.0.1');
    const midTls = await openStalled(port, 50, '127.0.0.3', halfHello);
    const all = [...silent, ...midTls];

    // The excess over LIMIT per address is closed at once.
    await eventually(
      () => closedCount(silent) === 50 - LIMIT && closedCount(midTls) === 50 - LIMIT,
      'the excess connections to be closed',
      1000,
    );
    for (const s of all.filter((s) => s.closedAt !== undefined)) {
      assert.ok(s.closedAt! - s.openedAt < 1000, 'excess closed without waiting');
      assert.equal(s.wire.totalReceived, 0);
    }

    // Meanwhile a legitimate client from another address logs in and works.
    const session = await login(port, {
      ca,
      token: await h.token(['analytics']),
      localAddress: '127.0.0.2',
    });
    assert.deepEqual((await query(session.wire, 'SELECT inet_client_addr() IS NOT NULL')).rows, [
      ['t'],
    ]);
    assert.equal(closedCount(all), 2 * (50 - LIMIT), 'the held ones are still open at login');
    session.wire.write(TERMINATE);
    await session.wire.closed();

    // The held ones are closed at the handshake timeout, not before and not much after.
    await eventually(() => closedCount(all) === 100, 'the stalled connections to time out', 5000);
    const held = all.filter((s) => s.closedAt! - s.openedAt >= 1000);
    assert.equal(held.length, 2 * LIMIT);
    for (const s of held) {
      const lifetime = s.closedAt! - s.openedAt;
      assert.ok(lifetime >= TIMEOUT_MS - 50, `closed after ${lifetime} ms, before the timeout`);
      assert.ok(lifetime < TIMEOUT_MS + 2500, `closed after ${lifetime} ms`);
      assert.equal(s.wire.totalReceived, 0, 'nothing is sent to a client that never spoke');
    }

    // Their slots are free again: the same address can connect and be served.
    const again = await login(port, { ca, token: await h.token(['analytics']) });
    again.wire.destroy();
  });

  it('shutdown is not held up by stalled handshakes', async () => {
    const port = h.gateway.port;
    const silent = await openStalled(port, 20, '127.0.0.1');
    const midTls = await openStalled(port, 20, '127.0.0.3', halfHello);
    const all = [...silent, ...midTls];
    // Wait until the gateway holds them (a successful login from the same address proves the
    // listener has accepted everything queued before it).
    const session = await login(port, { ca, token: await h.token(['analytics']) });
    session.wire.destroy();
    assert.equal(closedCount(all), 0);

    const started = Date.now();
    await h.gateway.close();
    const took = Date.now() - started;
    assert.ok(took < TIMEOUT_MS - 500, `close() took ${took} ms: it waited for stalled handshakes`);
    await eventually(
      () => closedCount(all) === all.length,
      'stalled connections closed by shutdown',
      1000,
    );
    await assert.rejects(connectRaw(port), /ECONNREFUSED/);
  });
});
