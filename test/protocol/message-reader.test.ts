import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_STARTUP_PACKET_LENGTH } from '../../src/protocol/constants.ts';
import { MessageReader, startupBodyCap } from '../../src/protocol/message-reader.ts';
import { bytes, describeSplit, hex, splits, typedMessage } from '../support/bytes.ts';
import {
  assertFramingFailsEverySplit,
  frameChunks,
  frameEverySplit,
  isViolation,
  startupReader,
  typedReader,
} from './feed.ts';

// protocol-message-formats: SSLRequest is Int32(8) Int32(80877103 = 0x04D2162F).
const SSL_REQUEST = hex('00000008 04d2162f');
// StartupMessage 3.0 with user=alice, then the terminating NUL: 8 + 11 + 1 = 20 bytes.
const STARTUP = hex('00000014 00030000 7573657200 616c69636500 00');

describe('MessageReader, untyped startup-phase packets', () => {
  it('frames an SSLRequest as type -1 with the code as body', () => {
    const { frames, buffered } = frameEverySplit(startupReader, SSL_REQUEST);
    assert.deepEqual(frames, [{ type: -1, body: hex('04d2162f') }]);
    assert.equal(buffered, 0);
  });

  it('frames pipelined packets from one chunk, in order, whatever the split', () => {
    const { frames, buffered } = frameEverySplit(
      startupReader,
      Buffer.concat([SSL_REQUEST, STARTUP]),
    );
    assert.deepEqual(frames, [
      { type: -1, body: hex('04d2162f') },
      { type: -1, body: hex('00030000 7573657200 616c69636500 00') },
    ]);
    assert.equal(buffered, 0);
  });

  it('leaves bytes sent behind an SSLRequest visible in `buffered` (CVE-2021-23214)', () => {
    // The session refuses to answer 'S' when the SSLRequest's chunk held more: that is
    // plaintext the client sent before the handshake (reliability.md A1).
    const reader = startupReader();
    reader.push(Buffer.concat([SSL_REQUEST, STARTUP]));
    assert.deepEqual(reader.next(), { type: -1, body: hex('04d2162f') });
    assert.equal(reader.buffered, STARTUP.length);
    assert.deepEqual(reader.drain(), STARTUP);
  });

  it('accepts the smallest packet (length 8) and the largest (length 10,000)', () => {
    const smallest = frameEverySplit(startupReader, hex('00000008 00030000'));
    assert.deepEqual(smallest.frames, [{ type: -1, body: hex('00030000') }]);
    const body = bytes().int32(0x0003_0000).fill(9_992, 0x61).build();
    const largest = bytes().int32(10_000).raw(body).build();
    assert.equal(largest.length, MAX_STARTUP_PACKET_LENGTH);
    const framed = frameChunks(startupReader(), [largest]);
    assert.equal(framed.frames.length, 1);
    assert.deepEqual(framed.frames[0]?.body, body);
    assert.equal(startupBodyCap(), 9_996);
  });

  // reliability.md A3: refused from the header alone, before any body byte is buffered.
  const refusedLengths = [
    { length: 0, reason: 'invalid_length', message: 'invalid message length 0' },
    { length: 4, reason: 'invalid_length', message: 'invalid message length 4' },
    { length: 7, reason: 'invalid_length', message: 'invalid message length 7' },
    {
      length: 10_001,
      reason: 'message_too_long',
      message: 'message of 10001 bytes is over the limit',
    },
    {
      length: 0x7fff_ffff,
      reason: 'message_too_long',
      message: 'message of 2147483647 bytes is over the limit',
    },
    {
      length: 0xffff_ffff,
      reason: 'message_too_long',
      message: 'message of 4294967295 bytes is over the limit',
    },
  ];
  for (const { length, reason, message } of refusedLengths) {
    it(`refuses length ${length} from the 4-byte header alone`, () => {
      const reader = startupReader();
      const header = bytes().int32(length).build();
      reader.push(header.subarray(0, 3));
      assert.equal(reader.next(), undefined, 'three bytes are not a header yet');
      reader.push(header.subarray(3));
      assert.throws(
        () => reader.next(),
        (e) => isViolation(e, reason, message),
      );
      assert.equal(reader.buffered, 4, 'nothing beyond the header was buffered');
      // The failure is sticky: a later call does not resynchronise on garbage.
      assert.throws(
        () => reader.next(),
        (e) => isViolation(e, reason),
      );
    });
  }

  it('waits for the body of an in-range length without failing', () => {
    const reader = startupReader();
    reader.push(bytes().int32(10_000).build());
    assert.equal(reader.next(), undefined);
    assert.equal(reader.buffered, 4);
  });
});

describe('MessageReader, typed messages', () => {
  // 'p' may be large (a token); everything else is tiny, as in the client session.
  const perType = (): MessageReader =>
    new MessageReader({ typed: true, maxBodyLength: (type) => (type === 0x70 ? 100 : 10) });

  it('frames a message with an empty body (length 4)', () => {
    const { frames } = frameEverySplit(typedReader, hex('58 00000004'));
    assert.deepEqual(frames, [{ type: 0x58, body: Buffer.alloc(0) }]);
  });

  it('frames pipelined messages in one chunk, whatever the split', () => {
    // Parse/Bind/Execute/Sync as a client pipelines them (protocol.md §7).
    const input = Buffer.concat([
      typedMessage('P', bytes().cstring('').cstring('select 1').int16(0).build()),
      typedMessage('B', bytes().cstring('').cstring('').int16(0).int16(0).int16(0).build()),
      typedMessage('E', bytes().cstring('').int32(0).build()),
      typedMessage('S'),
    ]);
    const { frames, buffered } = frameEverySplit(typedReader, input);
    assert.deepEqual(
      frames.map((f) => [String.fromCharCode(f.type), f.body.toString('hex')]),
      [
        ['P', '0073656c6563742031000000'],
        ['B', '0000000000000000'],
        ['E', '0000000000'],
        ['S', ''],
      ],
    );
    assert.equal(buffered, 0);
  });

  for (const length of [0, 1, 3]) {
    it(`refuses length ${length} (< 4) from the 5-byte header alone`, () => {
      const reader = typedReader();
      reader.push(bytes().byte('Q').int32(length).build());
      assert.throws(
        () => reader.next(),
        (e) => isViolation(e, 'invalid_length', `invalid message length ${length}`),
      );
      assert.equal(reader.buffered, 5);
    });
  }

  it('applies the cap of the message type, before buffering the body', () => {
    const atCap = typedMessage('p', Buffer.alloc(100, 0x41));
    assert.equal(frameChunks(perType(), [atCap]).frames[0]?.body.length, 100);
    const smallAtCap = typedMessage('Q', Buffer.alloc(10, 0x41));
    assert.equal(frameChunks(perType(), [smallAtCap]).frames[0]?.body.length, 10);

    for (const [type, length] of [
      ['p', 105],
      ['Q', 15],
      ['Q', 0xffff_ffff],
    ] as const) {
      const reader = perType();
      reader.push(bytes().byte(type).int32(length).build());
      assert.throws(
        () => reader.next(),
        (e) => isViolation(e, 'message_too_long', `message of ${length} bytes is over the limit`),
      );
      assert.equal(reader.buffered, 5);
    }
  });

  it('fails the same way for an over-cap header at every split', () => {
    const input = Buffer.concat([
      typedMessage('Q', Buffer.alloc(3)),
      typedMessage('Q', Buffer.alloc(11)),
    ]);
    assertFramingFailsEverySplit(perType, input, 'message_too_long');
    assertFramingFailsEverySplit(typedReader, hex('53 00000004 51 00000002'), 'invalid_length');
  });

  it('switches from untyped to typed with buffered bytes carried over', () => {
    // A StartupMessage and the PasswordMessage that follows it, in one chunk.
    const password = typedMessage('p', bytes().cstring('token').build());
    for (const chunks of splits(Buffer.concat([STARTUP, password]))) {
      const reader = startupReader();
      let startup: Buffer | undefined;
      let reply: { type: number; body: Buffer } | undefined;
      for (const chunk of chunks) {
        reader.push(chunk);
        if (startup === undefined) {
          const frame = reader.next();
          if (frame === undefined) continue;
          startup = Buffer.from(frame.body);
          reader.setTyped(true);
        }
        reply ??= reader.next();
      }
      assert.deepEqual(startup, STARTUP.subarray(4), describeSplit(chunks));
      assert.deepEqual(reply, { type: 0x70, body: hex('746f6b656e00') }, describeSplit(chunks));
      assert.equal(reader.buffered, 0);
    }
  });
});

describe('MessageReader.drain', () => {
  it('returns exactly the unframed remainder, at every split', () => {
    const partial = hex('70 00000010 6162'); // a 'p' message of which 2 of 12 body bytes came
    const input = Buffer.concat([typedMessage('p', bytes().cstring('x').build()), partial]);
    for (const chunks of splits(input)) {
      const reader = typedReader();
      const { frames, buffered } = frameChunks(reader, chunks);
      assert.equal(frames.length, 1, describeSplit(chunks));
      assert.equal(buffered, partial.length);
      assert.deepEqual(reader.drain(), partial, describeSplit(chunks));
      assert.equal(reader.buffered, 0);
      assert.equal(reader.next(), undefined);
      assert.deepEqual(reader.drain(), Buffer.alloc(0));
    }
  });

  it('returns a partial header untouched', () => {
    const reader = typedReader();
    reader.push(hex('70 00'));
    reader.push(hex('00'));
    assert.equal(reader.next(), undefined);
    assert.deepEqual(reader.drain(), hex('70 0000'));
  });

  it('returns an empty buffer when nothing was received, and ignores empty chunks', () => {
    const reader = startupReader();
    reader.push(Buffer.alloc(0));
    assert.equal(reader.buffered, 0);
    assert.equal(reader.next(), undefined);
    assert.deepEqual(reader.drain(), Buffer.alloc(0));
  });
});

describe('MessageReader cost', () => {
  it('frames a 64 KiB message fed one byte at a time in linear time', () => {
    // A peer dribbling single bytes must not make every next() re-copy what is buffered
    // (quadratic: about 2 GB of copying for one PG_MAX_AUTH_TOKEN_LENGTH message).
    const message = typedMessage('p', Buffer.alloc(65_536, 0x61));
    const reader = typedReader(70_000);
    const started = performance.now();
    let frames = 0;
    for (let i = 0; i < message.length; i++) {
      reader.push(message.subarray(i, i + 1));
      if (reader.next() !== undefined) frames++;
    }
    const elapsed = performance.now() - started;
    assert.equal(frames, 1);
    assert.ok(elapsed < 1_500, `took ${Math.round(elapsed)} ms`);
  });
});
