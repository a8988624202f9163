import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeStartupPacket, type StartupPacket } from '../../src/protocol/startup-packet.ts';
import { bytes, hex, untypedPacket } from '../support/bytes.ts';
import { frameEverySplit, isViolation, startupReader } from './feed.ts';

/**
 * Byte vectors from protocol-message-formats (protocol.md §1.1): each packet is written out
 * whole, framed by a MessageReader at every split, and its body decoded.
 */
function decodeFramed(packet: Buffer): StartupPacket {
  const { frames, buffered } = frameEverySplit(startupReader, packet);
  assert.equal(frames.length, 1);
  assert.equal(buffered, 0);
  return decodeStartupPacket(frames[0]!.body);
}

function assertRefused(packet: Buffer, reason: string, message: string): void {
  const { frames } = frameEverySplit(startupReader, packet);
  assert.equal(frames.length, 1, 'the framing itself is fine');
  assert.throws(
    () => decodeStartupPacket(frames[0]!.body),
    (e) => isViolation(e, reason, message),
  );
}

const key = (length: number): Buffer =>
  Buffer.from(Array.from({ length }, (_, i) => (i * 7 + 1) & 0xff));
const params = (...pairs: string[]): Buffer => {
  const b = bytes();
  for (const s of pairs) b.cstring(s);
  return b.byte(0).build();
};

describe('decodeStartupPacket: SSLRequest and GSSENCRequest', () => {
  it('decodes SSLRequest: Int32(8) Int32(80877103)', () => {
    assert.deepEqual(decodeFramed(hex('00000008 04d2162f')), { kind: 'ssl-request' });
  });

  it('decodes GSSENCRequest: Int32(8) Int32(80877104)', () => {
    assert.deepEqual(decodeFramed(hex('00000008 04d21630')), { kind: 'gssenc-request' });
  });

  for (const [name, code] of [
    ['SSLRequest', '04d2162f'],
    ['GSSENCRequest', '04d21630'],
  ] as const) {
    for (const extra of ['00', '00000000', '0000000000000000']) {
      it(`refuses ${name} with ${extra.length / 2} extra bytes (length is always 8)`, () => {
        const length = (8 + extra.length / 2).toString(16).padStart(8, '0');
        assertRefused(
          hex(`${length} ${code} ${extra}`),
          'invalid_startup_packet',
          'invalid length of startup packet',
        );
      });
    }
  }
});

describe('decodeStartupPacket: CancelRequest', () => {
  // Int32 length, Int32(80877102), Int32 pid, secret key: 4 bytes (3.0) or 4..256 (3.2).
  for (const keyLength of [4, 32, 256]) {
    it(`decodes a ${keyLength}-byte secret key`, () => {
      const packet = bytes()
        .int32(12 + keyLength)
        .int32(80877102)
        .int32(1234)
        .raw(key(keyLength))
        .build();
      assert.deepEqual(
        packet.subarray(0, 12),
        hex(`${(12 + keyLength).toString(16).padStart(8, '0')} 04d2162e 000004d2`),
      );
      assert.deepEqual(decodeFramed(packet), {
        kind: 'cancel-request',
        processId: 1234,
        secretKey: key(keyLength),
      });
    });
  }

  it('decodes the 3.0 layout byte for byte', () => {
    assert.deepEqual(decodeFramed(hex('00000010 04d2162e 7fffffff deadbeef')), {
      kind: 'cancel-request',
      processId: 0x7fff_ffff,
      secretKey: hex('deadbeef'),
    });
  });

  for (const keyLength of [-4, 0, 1, 3, 257, 1000]) {
    it(`refuses a ${keyLength}-byte secret key`, () => {
      const body =
        keyLength < 0 ? Buffer.alloc(0) : bytes().int32(1234).raw(key(keyLength)).build();
      assertRefused(
        untypedPacket(80877102, body),
        'invalid_cancel_request',
        'invalid length of cancel request',
      );
    });
  }

  it('copies the secret key out of the frame', () => {
    const body = hex('04d2162e 00000001 01020304');
    const packet = decodeStartupPacket(body);
    body.fill(0);
    assert.deepEqual(packet, { kind: 'cancel-request', processId: 1, secretKey: hex('01020304') });
  });
});

describe('decodeStartupPacket: StartupMessage', () => {
  it('decodes protocol 3.0 with parameters in the order sent', () => {
    const packet = hex(
      '00000038 00030000' +
        '7573657200 616c69636500' + // user alice
        '646174616261736500 73686f7000' + // database shop
        '6170706c69636174696f6e5f6e616d6500 7073716c00' + // application_name psql
        '00',
    );
    const decoded = decodeFramed(packet);
    assert.deepEqual(decoded, {
      kind: 'startup',
      major: 3,
      minor: 0,
      parameters: new Map([
        ['user', 'alice'],
        ['database', 'shop'],
        ['application_name', 'psql'],
      ]),
      protocolOptions: [],
    });
    assert.ok(decoded.kind === 'startup');
    assert.deepEqual([...decoded.parameters.keys()], ['user', 'database', 'application_name']);
  });

  it('decodes protocol 3.2 (196610)', () => {
    assert.deepEqual(decodeFramed(hex('00000014 00030002 7573657200 616c69636500 00')), {
      kind: 'startup',
      major: 3,
      minor: 2,
      parameters: new Map([['user', 'alice']]),
      protocolOptions: [],
    });
  });

  it('decodes a newer minor (3.99) for the session to negotiate down', () => {
    const decoded = decodeFramed(untypedPacket(0x0003_0063, params('user', 'a')));
    assert.ok(decoded.kind === 'startup');
    assert.deepEqual([decoded.major, decoded.minor], [3, 99]);
  });

  for (const [version, major, minor] of [
    [0x0002_0000, 2, 0],
    [0x0004_0000, 4, 0],
    [0x0000_0000, 0, 0],
    [(1234 << 16) | 5681, 1234, 5681], // an unassigned request code
    [0xffff_ffff, 0xffff, 0xffff],
  ] as const) {
    it(`returns major ${major}.${minor} without reading a layout it does not know`, () => {
      // The body is garbage (no terminator): only the version matters, the session answers 0A000.
      const packet = untypedPacket(version, hex('ff fe 01'));
      assert.deepEqual(decodeFramed(packet), {
        kind: 'startup',
        major,
        minor,
        parameters: new Map(),
        protocolOptions: [],
      });
    });
  }

  it('lists _pq_. protocol options apart from the parameters, in order', () => {
    const decoded = decodeFramed(
      untypedPacket(0x0003_0002, params('_pq_.compression', 'on', 'user', 'bob', '_pq_.x', '')),
    );
    assert.deepEqual(decoded, {
      kind: 'startup',
      major: 3,
      minor: 2,
      parameters: new Map([['user', 'bob']]),
      protocolOptions: ['_pq_.compression', '_pq_.x'],
    });
  });

  it('takes `_pq_` without the dot as an ordinary parameter', () => {
    const decoded = decodeFramed(untypedPacket(0x0003_0000, params('_pq_x', '1')));
    assert.ok(decoded.kind === 'startup');
    assert.deepEqual([...decoded.parameters], [['_pq_x', '1']]);
    assert.deepEqual(decoded.protocolOptions, []);
  });

  it('decodes an empty parameter list (just the terminator) and empty values', () => {
    assert.deepEqual(decodeFramed(hex('00000009 00030000 00')), {
      kind: 'startup',
      major: 3,
      minor: 0,
      parameters: new Map(),
      protocolOptions: [],
    });
    const decoded = decodeFramed(hex('0000000f 00030000 7573657200 00 00'));
    assert.ok(decoded.kind === 'startup');
    assert.deepEqual([...decoded.parameters], [['user', '']]);
  });

  it('decodes UTF-8 names and values', () => {
    const decoded = decodeFramed(
      untypedPacket(0x0003_0000, params('user', 'zoë', 'application_name', '日本')),
    );
    assert.ok(decoded.kind === 'startup');
    assert.deepEqual(
      [...decoded.parameters],
      [
        ['user', 'zoë'],
        ['application_name', '日本'],
      ],
    );
  });

  const LAYOUT = 'invalid startup packet layout: expected terminator as last byte';
  const refusals: Array<[string, string, string, string]> = [
    ['no parameters and no terminator', '00000008 00030000', 'invalid_startup_packet', LAYOUT],
    [
      'a missing final terminator',
      '00000012 00030000 7573657200 616c69636500',
      'invalid_startup_packet',
      LAYOUT,
    ],
    [
      'a value without its NUL',
      '00000011 00030000 7573657200 616c696365',
      'invalid_startup_packet',
      LAYOUT,
    ],
    ['a name without a value', '0000000e 00030000 7573657200 00', 'invalid_startup_packet', LAYOUT],
    ['a name without its NUL', '0000000c 00030000 75736572', 'invalid_startup_packet', LAYOUT],
    [
      'an extra NUL after the terminator',
      '00000015 00030000 7573657200 616c69636500 00 00',
      'invalid_startup_packet',
      LAYOUT,
    ],
    [
      'extra bytes after the terminator',
      '00000017 00030000 7573657200 616c69636500 00 787800',
      'invalid_startup_packet',
      LAYOUT,
    ],
    [
      'a duplicate key',
      '0000001d 00030000 7573657200 616c69636500 7573657200 626f6200 00',
      'duplicate_startup_parameter',
      'duplicate startup parameter "user"',
    ],
    [
      'invalid UTF-8 in a value',
      '00000013 00030000 7573657200 616cff636500 00',
      'invalid_utf8',
      'invalid UTF-8 in the value of startup parameter "user"',
    ],
    [
      'invalid UTF-8 in a name',
      '00000012 00030000 75ff657200 61626300 00',
      'invalid_utf8',
      'invalid UTF-8 in startup packet',
    ],
    [
      'an overlong encoding of "/"',
      '00000011 00030000 7573657200 c0af00 00',
      'invalid_utf8',
      'invalid UTF-8 in the value of startup parameter "user"',
    ],
    [
      'an encoded surrogate',
      '00000012 00030000 7573657200 eda08000 00',
      'invalid_utf8',
      'invalid UTF-8 in the value of startup parameter "user"',
    ],
    [
      'a truncated sequence',
      '00000011 00030000 7573657200 61e200 00',
      'invalid_utf8',
      'invalid UTF-8 in the value of startup parameter "user"',
    ],
  ];
  for (const [what, vector, reason, message] of refusals) {
    it(`refuses ${what}`, () => {
      assertRefused(hex(vector), reason, message);
    });
  }

  it('lists a repeated _pq_. option each time, as PostgreSQL does', () => {
    const decoded = decodeFramed(untypedPacket(0x0003_0000, params('_pq_.a', '1', '_pq_.a', '2')));
    assert.ok(decoded.kind === 'startup');
    assert.deepEqual(decoded.protocolOptions, ['_pq_.a', '_pq_.a']);
  });

  it('refuses a body shorter than the code (an empty packet)', () => {
    for (const body of [Buffer.alloc(0), hex('000300')]) {
      assert.throws(
        () => decodeStartupPacket(body),
        (e) => isViolation(e, 'invalid_startup_packet', 'invalid startup packet'),
      );
    }
  });
});
