// A session whose time is up (token expiry, max_session) ends between statements: Relay.idle
// and onIdle say when that is, armDeadline waits for it up to session.expiry_grace.
import assert from 'node:assert/strict';
import { duplexPair } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { Relay } from '../../src/gateway/relay.ts';
import { armDeadline } from '../../src/gateway/session-deadline.ts';
import { readyForQuery } from '../../src/protocol/backend-serializer.ts';
import { ManualClock, type Clock } from '../../src/runtime/clock.ts';

/** One typed message: Byte1 type, Int32 length, body (protocol-message-formats). */
function message(type: string, body: string): Buffer {
  const payload = Buffer.from(body);
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeUInt32BE(payload.length + 4, 1);
  return Buffer.concat([header, payload]);
}

const query = (sql: string): Buffer => message('Q', `${sql}\0`);
const IDLE = 0x49; // 'I'
const IN_TRANSACTION = 0x54; // 'T'
const FATAL = { severity: 'FATAL' as const, code: '57P01', message: 'terminating connection' };

/** A relay between two in-memory pipes with an onIdle counter. */
function relayPair(onIdle: (relay: Relay) => void = () => undefined) {
  const [clientSide, client] = duplexPair();
  const [upstreamSide, server] = duplexPair();
  const clock = new ManualClock();
  let idles = 0;
  let cancels = 0;
  const relay: Relay = new Relay({
    client: clientSide,
    upstream: upstreamSide,
    clientLeftover: Buffer.alloc(0),
    upstreamLeftover: Buffer.alloc(0),
    clock,
    idleTimeoutMs: 0,
    cancelUpstream: () => cancels++,
    onIdle: () => {
      idles++;
      onIdle(relay);
    },
    onEnd: () => undefined,
  });
  relay.start();
  const received: Buffer[] = [];
  client.on('data', (chunk: Buffer) => received.push(chunk));
  server.resume();
  return { relay, client, server, clock, received, idles: () => idles, cancels: () => cancels };
}

describe('Relay.idle and onIdle', () => {
  it('is idle between statements, busy while one runs', async () => {
    const t = relayPair();
    assert.equal(t.relay.idle, true, 'after the greeting');
    t.client.write(query('SELECT pg_sleep(4)'));
    await tick();
    assert.equal(t.relay.idle, false);
    t.server.write(Buffer.concat([message('C', 'SELECT 1\0'), readyForQuery(IDLE)]));
    await tick();
    assert.equal(t.relay.idle, true);
    assert.equal(t.idles(), 1);
  });

  it('is not idle inside a transaction, until it ends', async () => {
    const t = relayPair();
    t.client.write(query('BEGIN'));
    await tick();
    t.server.write(readyForQuery(IN_TRANSACTION));
    await tick();
    assert.equal(t.relay.idle, false);
    assert.equal(t.idles(), 0, 'a ReadyForQuery with T is not idleness');
    t.client.write(query('COMMIT'));
    await tick();
    t.server.write(readyForQuery(IDLE));
    await tick();
    assert.equal(t.relay.idle, true);
    assert.equal(t.idles(), 1);
  });

  it('counts Parse/Bind/Execute before their Sync as work in flight', async () => {
    const t = relayPair();
    const extended = Buffer.concat([
      message('P', '\0SELECT pg_sleep(4)\0\0\0'),
      message('B', '\0\0\0\0\0\0\0\0'),
      message('E', '\0\0\0\0\0'),
    ]);
    t.client.write(extended);
    await tick();
    assert.equal(t.relay.idle, false, 'no Sync yet, but the server is executing');
    t.client.write(message('S', ''));
    await tick();
    t.server.write(readyForQuery(IDLE));
    await tick();
    assert.equal(t.relay.idle, true);
  });

  it('is not idle while a client message is half-way through', async () => {
    const t = relayPair();
    t.client.write(query('SELECT 1').subarray(0, 3));
    await tick();
    assert.equal(t.relay.idle, false);
  });

  it('calls onIdle after the ReadyForQuery went to the client: a FATAL then follows it', async () => {
    const t = relayPair((relay) => relay.terminate(FATAL));
    t.client.write(query('SELECT 1'));
    await tick();
    const answer = Buffer.concat([message('C', 'SELECT 1\0'), readyForQuery(IDLE)]);
    t.server.write(answer);
    await tick();
    const received = Buffer.concat(t.received);
    assert.deepEqual(received.subarray(0, answer.length), answer);
    assert.equal(received[answer.length], 0x45, "then 'E' ErrorResponse");
    assert.equal(t.cancels(), 0, 'nothing was running');
  });
});

describe('armDeadline', () => {
  function deadline(graceMs: number, idle: () => boolean) {
    const clock = new ManualClock();
    let ended: number | undefined;
    const d = armDeadline({
      clock,
      at: clock.now() + 10_000,
      graceMs,
      isIdle: idle,
      end: () => {
        assert.equal(ended, undefined, 'ended twice');
        ended = clock.now();
      },
    });
    const start = clock.now();
    return { clock, d, ended: () => (ended === undefined ? undefined : ended - start) };
  }

  it('ends an idle session at the deadline', () => {
    const t = deadline(60_000, () => true);
    t.clock.advance(9_999);
    assert.equal(t.ended(), undefined);
    t.clock.advance(1);
    assert.equal(t.ended(), 10_000);
  });

  it('lets a busy session finish, then ends it when it is idle', () => {
    let idle = false;
    const t = deadline(60_000, () => idle);
    t.clock.advance(10_000);
    assert.equal(t.ended(), undefined, 'a statement is running');
    t.clock.advance(4_000);
    idle = true;
    t.d.idle();
    assert.equal(t.ended(), 14_000);
    t.clock.advance(120_000);
  });

  it('ends a session busy past the grace anyway', () => {
    const t = deadline(60_000, () => false);
    t.clock.advance(69_999);
    assert.equal(t.ended(), undefined);
    t.clock.advance(1);
    assert.equal(t.ended(), 70_000);
  });

  it('idleness before the deadline changes nothing', () => {
    const t = deadline(60_000, () => false);
    t.clock.advance(5_000);
    t.d.idle();
    assert.equal(t.ended(), undefined);
  });

  it('with no grace, ends a busy session at the deadline', () => {
    const t = deadline(0, () => false);
    t.clock.advance(10_000);
    assert.equal(t.ended(), 10_000);
  });

  it('cancel() disarms both timers', () => {
    const t = deadline(60_000, () => false);
    t.d.cancel();
    t.clock.advance(100_000);
    t.d.idle();
    assert.equal(t.ended(), undefined);
  });

  it('holds one timer at a time, and cancel() disarms the grace timer too', () => {
    const manual = new ManualClock();
    let live = 0;
    let most = 0;
    const clock: Clock = {
      now: () => manual.now(),
      setTimer(ms, fn) {
        live++;
        most = Math.max(most, live);
        let armed = true;
        const disarm = (): void => {
          if (armed) live--;
          armed = false;
        };
        const cancel = manual.setTimer(ms, () => {
          disarm();
          fn();
        });
        return () => {
          disarm();
          cancel();
        };
      },
    };
    let ended = false;
    const d = armDeadline({
      clock,
      at: manual.now() + 10_000,
      graceMs: 60_000,
      isIdle: () => false,
      end: () => (ended = true),
    });
    manual.advance(10_000);
    assert.equal(live, 1, 'past the deadline, busy: the grace timer');
    d.cancel();
    assert.equal(live, 0);
    manual.advance(100_000);
    assert.equal(ended, false, 'the grace timer did not fire');
    assert.equal(most, 1);
  });

  it('with a relay: a statement across the deadline is not cancelled, the session ends after it', async () => {
    const t = relayPair(() => d.idle());
    const d = armDeadline({
      clock: t.clock,
      at: t.clock.now() + 1_000,
      graceMs: 3_600_000,
      isIdle: () => t.relay.idle,
      end: () => t.relay.terminate(FATAL),
    });
    t.client.write(query('SELECT pg_sleep(4)'));
    await tick();
    t.clock.advance(2_000);
    await tick();
    assert.equal(t.cancels(), 0, 'the running statement was left alone');
    assert.equal(t.received.length, 0, 'no FATAL yet');
    const answer = Buffer.concat([message('C', 'SELECT 1\0'), readyForQuery(IDLE)]);
    t.server.write(answer);
    await tick();
    const received = Buffer.concat(t.received);
    assert.deepEqual(received.subarray(0, answer.length), answer, 'the result arrived whole');
    assert.equal(received[answer.length], 0x45, 'then the FATAL');
  });
});
