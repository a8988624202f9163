import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FrameTracker, type FrameTrackerOptions } from '../../src/protocol/frame-tracker.ts';
import {
  bytes,
  describeSplit,
  hex,
  splits,
  threeWaySplits,
  typedMessage,
} from '../support/bytes.ts';
import { isViolation } from './feed.ts';

// A server stream after login, written out by hand (protocol-message-formats).
const MESSAGES = [
  hex('52 00000008 00000000'), // AuthenticationOk
  hex('53 00000019 636c69656e745f656e636f64696e6700 5554463800'), // client_encoding=UTF8
  hex('5a 00000005 54'), // ReadyForQuery 'T'
  hex('44 00000010 0001 00000006 616263646566'), // DataRow, one column "abcdef"
  hex('6e 00000004'), // NoData: empty body
  hex('43 0000000d 53454c4543542031 00'), // CommandComplete "SELECT 1"
  hex('5a 00000005 49'), // ReadyForQuery 'I'
];
const STREAM = Buffer.concat(MESSAGES);
/** Offsets where a message ends (0 is the start). */
const BOUNDARIES = MESSAGES.reduce<number[]>((acc, m) => [...acc, acc.at(-1)! + m.length], [0]);

interface Seen {
  type: string;
  bodyLength: number;
  captured: string | undefined;
}

/** Captures up to 1 byte of 'Z' (the relay's rule), 3 of 'D' and all of 'S'. */
function tracker(seen: Seen[] = []): FrameTracker {
  const options: FrameTrackerOptions = {
    capture: (type) => ({ Z: 1, D: 3, S: 100 })[String.fromCharCode(type)] ?? 0,
    onMessage: (type, bodyLength, captured) =>
      seen.push({
        type: String.fromCharCode(type),
        bodyLength,
        captured: captured?.toString('hex'),
      }),
  };
  return new FrameTracker(options);
}

const EXPECTED: Seen[] = [
  { type: 'R', bodyLength: 4, captured: undefined },
  { type: 'S', bodyLength: 21, captured: '636c69656e745f656e636f64696e67005554463800' },
  { type: 'Z', bodyLength: 1, captured: '54' },
  { type: 'D', bodyLength: 12, captured: '000100' },
  { type: 'n', bodyLength: 0, captured: undefined },
  { type: 'C', bodyLength: 9, captured: undefined },
  { type: 'Z', bodyLength: 1, captured: '49' },
];

const nextBoundary = (offset: number): number => BOUNDARIES.find((b) => b >= offset)!;
const completedBy = (offset: number): number =>
  BOUNDARIES.filter((b) => b > 0 && b <= offset).length;

describe('FrameTracker.feed', () => {
  it('reports boundaries, counts and captures identically for every split', () => {
    assert.equal(STREAM.length, 83);
    for (const chunks of [...splits(STREAM), ...threeWaySplits(STREAM)]) {
      const seen: Seen[] = [];
      const t = tracker(seen);
      let offset = 0;
      for (const chunk of chunks) {
        t.feed(chunk);
        offset += chunk.length;
        const label = `${describeSplit(chunks)} at ${offset}`;
        assert.equal(t.atBoundary, BOUNDARIES.includes(offset), label);
        assert.equal(t.messages, completedBy(offset), label);
        assert.equal(seen.length, completedBy(offset), label);
      }
      assert.deepEqual(seen, EXPECTED, describeSplit(chunks));
    }
  });

  it("keeps ReadyForQuery's status byte as the relay reads it", () => {
    let status = -1;
    const statuses: string[] = [];
    const t = new FrameTracker({
      capture: (type) => (type === 0x5a ? 1 : 0),
      onMessage: (type, _length, captured) => {
        if (type === 0x5a && captured !== undefined) {
          status = captured[0]!;
          statuses.push(String.fromCharCode(status));
        }
      },
    });
    for (const byte of STREAM) t.feed(Buffer.from([byte]));
    assert.deepEqual(statuses, ['T', 'I']);
    assert.equal(status, 0x49);
  });

  it('copies captured bytes: the relayed chunk may be reused after feed', () => {
    const seen: Seen[] = [];
    const t = tracker(seen);
    const dataRow = Buffer.from(MESSAGES[3]!);
    const first = dataRow.subarray(0, 6); // header and the first body byte
    t.feed(first);
    first.fill(0xee);
    t.feed(dataRow.subarray(6));
    assert.deepEqual(seen, [{ type: 'D', bodyLength: 12, captured: '000100' }]);
  });

  it('counts without capturing when no options are given', () => {
    const t = new FrameTracker();
    t.feed(STREAM);
    assert.equal(t.messages, MESSAGES.length);
    assert.ok(t.atBoundary);
  });

  it('walks a huge declared body by count, without waiting to buffer it', () => {
    const seen: Seen[] = [];
    const t = tracker(seen);
    // CopyData declaring 2 GiB - 1: only the header is examined, the body is skipped.
    t.feed(hex('64 7fffffff'));
    t.feed(Buffer.alloc(1 << 20));
    assert.equal(t.atBoundary, false);
    assert.equal(t.messages, 0);
    assert.equal(t.consumeToBoundary(Buffer.alloc(1 << 20)), 1 << 20);
    assert.equal(seen.length, 0);
  });

  for (const length of [0, 1, 2, 3]) {
    it(`throws on a message length of ${length}, at every split`, () => {
      const bad = bytes().byte('Q').int32(length).build();
      const input = Buffer.concat([MESSAGES[0]!, bad, typedMessage('S')]);
      for (const chunks of splits(input)) {
        const t = tracker();
        assert.throws(
          () => {
            for (const chunk of chunks) t.feed(chunk);
          },
          (e) => isViolation(e, 'invalid_length', `invalid message length ${length}`),
          describeSplit(chunks),
        );
        assert.equal(t.messages, 1);
      }
    });
  }
});

describe('FrameTracker.consumeToBoundary', () => {
  // For a prefix ending anywhere (inside a header, a body, or on a boundary) and a chunk
  // ending anywhere after it: exactly the bytes that finish the current message are used.
  for (const prefixStyle of ['one chunk', 'one byte at a time'] as const) {
    it(`stops exactly at the end of the current message (prefix fed as ${prefixStyle})`, () => {
      for (let p = 0; p <= STREAM.length; p++) {
        for (let q = p; q <= STREAM.length; q++) {
          const seen: Seen[] = [];
          const t = tracker(seen);
          if (prefixStyle === 'one chunk') t.feed(STREAM.subarray(0, p));
          else for (let i = 0; i < p; i++) t.feed(STREAM.subarray(i, i + 1));
          const used = t.consumeToBoundary(STREAM.subarray(p, q));
          const expected = Math.min(q, nextBoundary(p)) - p;
          const label = `prefix ${p}, chunk to ${q}`;
          assert.equal(used, expected, label);
          assert.equal(t.atBoundary, BOUNDARIES.includes(p + used), label);
          assert.equal(t.messages, completedBy(p + used), label);
          // The rest of the stream still frames as if nothing special happened.
          t.feed(STREAM.subarray(p + used));
          assert.deepEqual(seen, EXPECTED, label);
        }
      }
    });
  }

  it('uses nothing at a boundary or from an empty chunk', () => {
    const t = tracker();
    assert.equal(t.consumeToBoundary(STREAM), 0);
    t.feed(STREAM.subarray(0, 3));
    assert.equal(t.consumeToBoundary(Buffer.alloc(0)), 0);
    assert.equal(t.atBoundary, false);
  });

  it('finishes a message whose header is split, then one with an empty body', () => {
    const t = tracker();
    t.feed(hex('6e 0000'));
    assert.equal(t.consumeToBoundary(hex('0004 5a 00000005 49')), 2);
    assert.ok(t.atBoundary);
    assert.equal(t.messages, 1);
  });

  it('throws an invalid length completed inside consumeToBoundary', () => {
    const t = tracker();
    t.feed(hex('51 00'));
    assert.throws(
      () => t.consumeToBoundary(hex('000003 51 00000004')),
      (e) => isViolation(e, 'invalid_length', 'invalid message length 3'),
    );
  });
});

describe('FrameTracker: streaming bodies to onBody', () => {
  /** Streams 'S' and 'D' bodies; records each message's streamed bytes and its end. */
  function streaming(chunks: readonly Buffer[]): { events: string[]; views: boolean } {
    const events: string[] = [];
    let body: Buffer[] = [];
    let views = true;
    let fed: Buffer | undefined;
    const t = new FrameTracker({
      streamBody: (type) => type === 0x53 || type === 0x44,
      onBody: (type, chunk, start, end) => {
        // A view into the very chunk being fed, never a copy.
        if (chunk !== fed || start < 0 || end > chunk.length || start >= end) views = false;
        body.push(Buffer.from(chunk.subarray(start, end)));
        events.push(`body ${String.fromCharCode(type)}`);
      },
      onMessage: (type, bodyLength) => {
        const streamed = Buffer.concat(body);
        body = [];
        events.push(`end ${String.fromCharCode(type)} ${bodyLength} ${streamed.toString('hex')}`);
      },
    });
    for (const chunk of chunks) {
      fed = chunk;
      t.feed(chunk);
    }
    // Bodies arrive in pieces; collapse consecutive pieces of one message for comparison.
    return {
      events: events.filter((e, i) => !(e.startsWith('body') && events[i + 1] === e)),
      views,
    };
  }

  it('hands every byte of the chosen bodies over in place, before their end, for every split', () => {
    const whole = streaming([STREAM]);
    assert.deepEqual(whole.events, [
      'end R 4 ',
      'body S',
      'end S 21 636c69656e745f656e636f64696e67005554463800',
      'end Z 1 ',
      'body D',
      'end D 12 000100000006616263646566',
      'end n 0 ',
      'end C 9 ',
      'end Z 1 ',
    ]);
    for (const chunks of [...splits(STREAM), ...threeWaySplits(STREAM)]) {
      const got = streaming(chunks);
      assert.ok(got.views, describeSplit(chunks));
      assert.deepEqual(got.events, whole.events, describeSplit(chunks));
    }
  });

  it('streams nothing unless both streamBody and onBody are given', () => {
    assert.equal(new FrameTracker({ capture: () => 1 }).streamsBodies, false);
    assert.equal(new FrameTracker({ streamBody: () => true }).streamsBodies, false);
    assert.equal(
      new FrameTracker({ streamBody: () => true, onBody: () => undefined }).streamsBodies,
      true,
    );
  });

  it('streams and captures the same message side by side', () => {
    const seen: string[] = [];
    const streamed: Buffer[] = [];
    const t = new FrameTracker({
      capture: (type) => (type === 0x44 ? 3 : 0),
      streamBody: (type) => type === 0x44,
      onBody: (_type, chunk, start, end) => streamed.push(Buffer.from(chunk.subarray(start, end))),
      onMessage: (type, _length, captured) => {
        if (type === 0x44) seen.push(captured?.toString('hex') ?? '');
      },
    });
    for (const byte of STREAM) t.feed(Buffer.from([byte]));
    assert.deepEqual(seen, ['000100']);
    assert.equal(Buffer.concat(streamed).toString('hex'), '000100000006616263646566');
  });
});
