/**
 * reliability.md §7 A8: CancelRequest. Wrong keys, wrong key lengths and other sessions'
 * keys cancel nothing and get no reply; a flood from one address is rate-limited without
 * hurting other addresses; a right key cancels over plaintext, after SSLRequest and over
 * direct TLS. The gateway runs on a ManualClock so the rate limiter's refill is exact.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../../src/runtime/clock.ts';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';
import {
  CODES,
  cancelPacket,
  connectDirectTls,
  connectRaw,
  connectTls,
  login,
  query,
  type ConnectOptions,
  type QueryResult,
  type Session,
  type Wire,
} from './wire.ts';

type Via = 'plaintext' | 'ssl-request' | 'direct';

describe('CancelRequest (A8)', () => {
  let h: GatewayHarness;
  let ca: string;
  const clock = new ManualClock(Date.now());
  before(async () => {
    h = await startGatewayHarness({ clock });
  });
  after(async () => {
    await h?.close();
  });

  const open = async (version?: number): Promise<Session> => {
    ca ??= await readFile(h.clientCaFile, 'utf8');
    return login(h.gateway.port, {
      ca,
      token: await h.token(['analytics']),
      ...(version === undefined ? {} : { version }),
    });
  };

  /** Sends one CancelRequest and waits for the gateway to hang up; returns what it sent back. */
  async function sendCancel(
    processId: number,
    secret: Buffer,
    options: ConnectOptions & { via?: Via } = {},
  ): Promise<number> {
    const port = h.gateway.port;
    let wire: Wire;
    switch (options.via ?? 'plaintext') {
      case 'plaintext':
        wire = await connectRaw(port, options);
        break;
      case 'ssl-request':
        wire = await connectTls(port, { ...options, ca });
        break;
      case 'direct':
        wire = await connectDirectTls(port, { ...options, ca, alpn: ['postgresql'] });
        break;
    }
    wire.write(cancelPacket(processId, secret));
    await wire.closed();
    return wire.totalReceived;
  }

  const assertCompleted = (result: QueryResult): void => {
    assert.equal(
      result.error,
      undefined,
      `query failed: ${JSON.stringify(result.error && Object.fromEntries(result.error))}`,
    );
    const complete = result.messages.find((m) => m.type === 'C');
    assert.equal(complete?.body.toString('latin1'), 'SELECT 1\0');
  };

  const assertCancelled = (result: QueryResult): void => {
    assert.equal(result.error?.get('C'), '57014');
    assert.equal(result.error?.get('M'), 'canceling statement due to user request');
  };

  it('wrong keys, wrong key lengths and another session’s key cancel nothing, silently', async () => {
    const a = await open();
    const b = await open();
    const running = query(a.wire, 'SELECT pg_sleep(2)');
    const flipped = Buffer.from(a.key.secret.map((byte) => byte ^ 0xff));
    const attempts: Array<[string, number, Buffer]> = [
      ['right pid, wrong secret', a.key.processId, flipped],
      ['right pid, 3-byte secret', a.key.processId, a.key.secret.subarray(0, 3)],
      [
        'right pid, 257-byte secret',
        a.key.processId,
        Buffer.concat([a.key.secret, Buffer.alloc(253)]),
      ],
      [
        'right pid, its secret padded to 32 bytes',
        a.key.processId,
        Buffer.concat([a.key.secret, Buffer.alloc(28)]),
      ],
      ["another session's pid, a wrong secret", b.key.processId, flipped],
      ["this pid, another session's secret", a.key.processId, b.key.secret],
      ["another session's key for this pid", b.key.processId ^ 1, b.key.secret],
    ];
    for (const [what, pid, secret] of attempts) {
      const replied = await sendCancel(pid, secret, { localAddress: '127.0.0.5' });
      assert.equal(replied, 0, `${what}: no reply`);
    }
    assertCompleted(await running);
    // The other session was not touched either.
    assertCompleted(await query(b.wire, 'SELECT 1'));
    a.wire.destroy();
    b.wire.destroy();
  });

  for (const via of ['plaintext', 'ssl-request', 'direct'] as const) {
    it(`a correct CancelRequest (${via}) cancels the running query with 57014`, async () => {
      const session = await open();
      const running = query(session.wire, 'SELECT pg_sleep(20)');
      // Wait until the backend is really inside pg_sleep, so the cancel cannot arrive early.
      await waitForSleep(h);
      const started = Date.now();
      assert.equal(await sendCancel(session.key.processId, session.key.secret, { via }), 0);
      assertCancelled(await running);
      assert.ok(Date.now() - started < 5000);
      // The session lives on.
      assertCompleted(await query(session.wire, 'SELECT 1'));
      session.wire.destroy();
    });
  }

  it('a protocol 3.2 session is cancelled with its 32-byte key', async () => {
    const session = await open(CODES.Protocol32);
    assert.equal(session.key.secret.length, 32);
    const running = query(session.wire, 'SELECT pg_sleep(20)');
    await waitForSleep(h);
    await sendCancel(session.key.processId, session.key.secret.subarray(0, 4));
    await sendCancel(session.key.processId, session.key.secret);
    assertCancelled(await running);
    session.wire.destroy();
  });

  it('a flood of 200 cancels from one address is rate-limited; other addresses still cancel', async () => {
    const session = await open();
    const flood = '127.0.0.9';
    for (let batch = 0; batch < 20; batch++) {
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          sendCancel(0x7fff_0000 + batch * 10 + i, Buffer.alloc(4), { localAddress: flood }).then(
            (replied) => assert.equal(replied, 0),
          ),
        ),
      );
    }

    // The flooding address has spent its burst: even the right key is ignored now.
    const short = query(session.wire, 'SELECT pg_sleep(1)');
    await waitForSleep(h);
    await sendCancel(session.key.processId, session.key.secret, { localAddress: flood });
    assertCompleted(await short);

    // Another address is not affected.
    const long = query(session.wire, 'SELECT pg_sleep(20)');
    await waitForSleep(h);
    await sendCancel(session.key.processId, session.key.secret, { localAddress: '127.0.0.10' });
    assertCancelled(await long);

    // Tokens come back with time (5 per second).
    clock.advance(1000);
    const again = query(session.wire, 'SELECT pg_sleep(20)');
    await waitForSleep(h);
    await sendCancel(session.key.processId, session.key.secret, { localAddress: flood });
    assertCancelled(await again);

    // And the gateway still logs people in.
    const other = await open();
    assertCompleted(await query(other.wire, 'SELECT 1'));
    other.wire.destroy();
    session.wire.destroy();
  });
});

/** Until some backend is inside pg_sleep (seen from the superuser's own connection). */
async function waitForSleep(h: GatewayHarness): Promise<void> {
  // Generous: on a loaded 2-core CI box a backend can take seconds to be scheduled.
  const deadline = Date.now() + 15_000;
  for (;;) {
    const result = await h.pg.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event = 'PgSleep'",
    );
    if ((result.rows[0].n as number) > 0) return;
    if (Date.now() > deadline) {
      const seen = await h.pg.query(
        "SELECT usename, state, wait_event, left(query, 60) AS query FROM pg_stat_activity WHERE backend_type = 'client backend'",
      );
      throw new Error(`no backend reached pg_sleep; backends: ${JSON.stringify(seen.rows)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
