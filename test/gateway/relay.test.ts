import assert from 'node:assert/strict';
import { duplexPair } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import { describe, it } from 'node:test';
import type { QueryExecution } from '../../src/audit/events.ts';
import { QueryTap } from '../../src/audit/query-tap.ts';
import { Relay } from '../../src/gateway/relay.ts';
import { readyForQuery } from '../../src/protocol/backend-serializer.ts';
import { ManualClock } from '../../src/runtime/clock.ts';

/** One typed message: Byte1 type, Int32 length, body (protocol-message-formats). */
function message(type: string, body: string): Buffer {
  const payload = Buffer.from(body);
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeUInt32BE(payload.length + 4, 1);
  return Buffer.concat([header, payload]);
}

const query = (sql: string): Buffer => message('Q', `${sql}\0`);
const sync = (): Buffer => message('S', '');
const FATAL = { severity: 'FATAL' as const, code: '57P01', message: 'terminating connection' };

/** A relay between two in-memory pipes; the test plays the client and the server. */
function relayPair(idleTimeoutMs = 0, queryTap?: QueryTap) {
  const [clientSide, client] = duplexPair();
  const [upstreamSide, server] = duplexPair();
  const clock = new ManualClock();
  let cancels = 0;
  const relay = new Relay({
    client: clientSide,
    upstream: upstreamSide,
    clientLeftover: Buffer.alloc(0),
    upstreamLeftover: Buffer.alloc(0),
    clock,
    idleTimeoutMs,
    cancelUpstream: () => cancels++,
    ...(queryTap === undefined ? {} : { queryTap }),
    onEnd: () => undefined,
  });
  relay.start();
  const received: Buffer[] = [];
  client.on('data', (chunk: Buffer) => received.push(chunk));
  server.resume();
  return { relay, client, server, clock, cancels: () => cancels, received };
}

describe('Relay: ending a session while the server is busy', () => {
  it('cancels the upstream statement when a Query has no ReadyForQuery yet', async () => {
    const t = relayPair();
    t.client.write(query('SELECT pg_sleep(30)'));
    await tick();
    t.relay.terminate(FATAL);
    assert.equal(t.cancels(), 1);
    await tick();
    // The FATAL still reaches the client ('E' ErrorResponse).
    assert.equal(Buffer.concat(t.received)[0], 0x45);
  });

  it('does not cancel once every request has been answered', async () => {
    const t = relayPair();
    t.client.write(query('SELECT 1'));
    await tick();
    t.server.write(readyForQuery(0x49));
    await tick();
    t.relay.terminate(FATAL);
    assert.equal(t.cancels(), 0);
  });

  it('counts pipelined Syncs: one answer of two still owes one', async () => {
    const t = relayPair();
    t.client.write(Buffer.concat([sync(), sync()]));
    await tick();
    t.server.write(readyForQuery(0x49));
    await tick();
    t.relay.terminate(FATAL);
    assert.equal(t.cancels(), 1);
  });

  it('a silent running statement is not idleness; the idle timeout counts from ReadyForQuery', async () => {
    const t = relayPair(1000);
    t.client.write(query('SELECT pg_sleep(3600)'));
    await tick();
    t.clock.advance(5000);
    assert.equal(t.cancels(), 0);
    assert.equal(t.received.length, 0, 'no FATAL while the statement runs');
    t.server.write(readyForQuery(0x49));
    await tick();
    const answered = Buffer.concat(t.received).length;
    t.clock.advance(750);
    await tick();
    assert.equal(Buffer.concat(t.received).length, answered, 'not yet: 750 ms of 1000');
    // Idleness is sampled each quarter of the timeout: it ends by 1.25 × the timeout.
    t.clock.advance(500);
    await tick();
    const after = Buffer.concat(t.received);
    assert.equal(after[answered], 0x45, 'the idle FATAL follows once the session is idle');
    assert.equal(t.cancels(), 0, 'nothing to cancel when idle');
  });
});

describe('Relay: query audit', () => {
  const complete = (tag: string): Buffer => message('C', `${tag}\0`);

  it('reads no statement without a tap', () => {
    assert.equal(relayPair().relay.queryAudited, false);
  });

  it('with a tap, records what passes and forwards the very same bytes', async () => {
    const records: QueryExecution[] = [];
    const config = { queries: true, parameters: 'redact', statement_max_bytes: 4096 } as const;
    const tap = new QueryTap(config, new ManualClock(), (r) => records.push(r));
    const t = relayPair(0, tap);
    assert.equal(t.relay.queryAudited, true);
    const upstream: Buffer[] = [];
    t.server.on('data', (chunk: Buffer) => upstream.push(chunk));
    const sent = query('SELECT 1');
    t.client.write(sent);
    await tick();
    const answer = Buffer.concat([complete('SELECT 1'), readyForQuery(0x49)]);
    t.server.write(answer);
    await tick();
    assert.deepEqual(Buffer.concat(upstream), sent);
    assert.deepEqual(Buffer.concat(t.received), answer);
    assert.deepEqual(
      records.map((r) => [r.statement, r.outcome, r.rows]),
      [['SELECT 1', 'ok', 1]],
    );
  });
});
