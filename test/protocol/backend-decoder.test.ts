import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodeBackendMessage,
  decodeFields,
  decodeSaslMechanisms,
  SUPPORTED_AUTH,
  type BackendMessage,
} from '../../src/protocol/backend-decoder.ts';
import { bytes, hex, typedMessage } from '../support/bytes.ts';
import { frameEverySplit, isViolation, typedReader } from './feed.ts';

/** Frames every message of `input` at every split, then decodes each. */
function decodeAll(input: Buffer): BackendMessage[] {
  const { frames, buffered } = frameEverySplit(() => typedReader(256 * 1024), input);
  assert.equal(buffered, 0);
  return frames.map((frame) => decodeBackendMessage(frame));
}

function decodeOne(message: Buffer): BackendMessage {
  const [decoded, ...more] = decodeAll(message);
  assert.equal(more.length, 0);
  assert.ok(decoded !== undefined);
  return decoded;
}

function assertMalformed(message: Buffer, what: string): void {
  const { frames } = frameEverySplit(() => typedReader(256 * 1024), message);
  assert.equal(frames.length, 1);
  assert.throws(
    () => decodeBackendMessage(frames[0]!),
    (e) => isViolation(e, 'malformed_backend_message', `malformed ${what} message`),
  );
}

const SERVER_FIRST = 'r=abcdefghijklmnopqrstuvwxyzABCDEF,s=c2FsdHNhbHQ=,i=4096';

describe("decodeBackendMessage: 'R' Authentication", () => {
  it('decodes AuthenticationOk: 52 00000008 00000000', () => {
    assert.deepEqual(decodeOne(hex('52 00000008 00000000')), {
      name: 'authentication',
      subtype: 0,
      data: Buffer.alloc(0),
    });
  });

  it('decodes AuthenticationSASL (R/10) and its mechanism list', () => {
    // Int32(10), "SCRAM-SHA-256-PLUS\0", "SCRAM-SHA-256\0", then the list's own NUL.
    const message = hex(
      '52 0000002a 0000000a' +
        '534352414d2d5348412d3235362d504c555300' +
        '534352414d2d5348412d32353600' +
        '00',
    );
    const decoded = decodeOne(message);
    assert.deepEqual(decoded, {
      name: 'authentication',
      subtype: 10,
      data: Buffer.from('SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0', 'latin1'),
    });
    assert.ok(decoded.name === 'authentication');
    assert.deepEqual(decodeSaslMechanisms(decoded.data), ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256']);
  });

  it('decodes AuthenticationSASLContinue (R/11) with the data verbatim', () => {
    const message = typedMessage('R', bytes().int32(11).text(SERVER_FIRST).build());
    assert.deepEqual(message.subarray(0, 9), hex('52 00000040 0000000b'));
    assert.deepEqual(decodeOne(message), {
      name: 'authentication',
      subtype: 11,
      data: Buffer.from(SERVER_FIRST),
    });
  });

  it('decodes AuthenticationSASLFinal (R/12) and an empty SASLContinue', () => {
    const signature = 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=';
    assert.deepEqual(decodeOne(typedMessage('R', bytes().int32(12).text(signature).build())), {
      name: 'authentication',
      subtype: 12,
      data: Buffer.from(signature),
    });
    assert.deepEqual(decodeOne(hex('52 00000008 0000000b')), {
      name: 'authentication',
      subtype: 11,
      data: Buffer.alloc(0),
    });
  });

  it('reports subtypes pgkey refuses (cleartext, MD5, GSS) for the connector to refuse', () => {
    assert.deepEqual(decodeOne(hex('52 00000008 00000003')), {
      name: 'authentication',
      subtype: 3,
      data: Buffer.alloc(0),
    });
    assert.deepEqual(decodeOne(hex('52 0000000c 00000005 01020304')), {
      name: 'authentication',
      subtype: 5,
      data: hex('01020304'),
    });
    assert.deepEqual(
      [...SUPPORTED_AUTH].sort((a, b) => a - b),
      [0, 10, 11, 12],
    );
  });

  for (const vector of ['52 00000004', '52 00000007 000000']) {
    it(`refuses an 'R' too short for its subtype: ${vector}`, () => {
      assertMalformed(hex(vector), 'authentication');
    });
  }

  it('refuses AuthenticationOk with bytes after the subtype', () => {
    assertMalformed(hex('52 00000009 00000000 5a'), 'AuthenticationOk');
  });
});

describe('decodeSaslMechanisms', () => {
  it('decodes one mechanism and an empty list', () => {
    assert.deepEqual(decodeSaslMechanisms(Buffer.from('OAUTHBEARER\0\0', 'latin1')), [
      'OAUTHBEARER',
    ]);
    assert.deepEqual(decodeSaslMechanisms(hex('00')), []);
  });

  for (const [what, data] of [
    ['an empty payload', ''],
    ['no list terminator', 'SCRAM-SHA-256\0'],
    ['an unterminated name', 'SCRAM-SHA-256'],
    ['bytes after the terminator', 'SCRAM-SHA-256\0\0X'],
    ['a second terminator', 'SCRAM-SHA-256\0\0\0'],
  ] as const) {
    it(`refuses ${what}`, () => {
      assert.throws(
        () => decodeSaslMechanisms(Buffer.from(data, 'latin1')),
        (e) => isViolation(e, 'malformed_backend_message', 'malformed AuthenticationSASL message'),
      );
    });
  }
});

describe("decodeBackendMessage: 'S' 'K' 'Z'", () => {
  it('decodes ParameterStatus: String name, String value', () => {
    // 53 len "server_version\0" "18.1\0": 4 + 15 + 5 = 24.
    assert.deepEqual(decodeOne(hex('53 00000018 7365727665725f76657273696f6e00 31382e3100')), {
      name: 'parameterStatus',
      parameter: 'server_version',
      value: '18.1',
    });
    assert.deepEqual(decodeOne(hex('53 00000006 00 00')), {
      name: 'parameterStatus',
      parameter: '',
      value: '',
    });
  });

  for (const [what, vector] of [
    ['an empty body', '53 00000004'],
    ['a missing value', '53 00000006 6100'],
    ['an unterminated value', '53 00000007 6100 62'],
    ['bytes after the value (CVE-2021-23222 class)', '53 00000009 6100 6200 63'],
  ] as const) {
    it(`refuses ParameterStatus with ${what}`, () => {
      assertMalformed(hex(vector), 'ParameterStatus');
    });
  }

  it('decodes BackendKeyData with a 4-byte (3.0) and a 32-byte (3.2) key', () => {
    assert.deepEqual(decodeOne(hex('4b 0000000c 00003039 a1b2c3d4')), {
      name: 'backendKeyData',
      processId: 12345,
      secretKey: hex('a1b2c3d4'),
    });
    const key32 = Buffer.from(Array.from({ length: 32 }, (_, i) => 0xe0 + (i % 16)));
    const message = bytes().byte('K').int32(40).int32(77).raw(key32).build();
    assert.deepEqual(message.subarray(0, 9), hex('4b 00000028 0000004d'));
    assert.deepEqual(decodeOne(message), {
      name: 'backendKeyData',
      processId: 77,
      secretKey: key32,
    });
  });

  it('decodes a 256-byte key and copies it out of the frame', () => {
    const body = bytes().int32(1).fill(256, 0x5a).build();
    const decoded = decodeBackendMessage({ type: 0x4b, body });
    body.fill(0);
    assert.deepEqual(decoded, {
      name: 'backendKeyData',
      processId: 1,
      secretKey: Buffer.alloc(256, 0x5a),
    });
  });

  for (const keyLength of [-4, -1, 0, 3, 257]) {
    it(`refuses BackendKeyData with a ${keyLength}-byte key`, () => {
      const body =
        keyLength < 0 ? Buffer.alloc(4 + keyLength) : bytes().int32(1).fill(keyLength, 7).build();
      assertMalformed(typedMessage('K', body), 'BackendKeyData');
    });
  }

  for (const [status, letter] of [
    [0x49, 'I'],
    [0x54, 'T'],
    [0x45, 'E'],
  ] as const) {
    it(`decodes ReadyForQuery '${letter}': 5a 00000005 ${status.toString(16)}`, () => {
      assert.deepEqual(decodeOne(hex(`5a 00000005 ${status.toString(16)}`)), {
        name: 'readyForQuery',
        status,
      });
    });
  }

  for (const vector of ['5a 00000004', '5a 00000006 4949', '5a 00000005 58', '5a 00000005 00']) {
    it(`refuses ReadyForQuery ${vector}`, () => {
      assertMalformed(hex(vector), 'ReadyForQuery');
    });
  }
});

describe("decodeBackendMessage: 'E' 'N' fields", () => {
  it('decodes a FATAL 28P01 as PostgreSQL sends it', () => {
    const body = bytes()
      .byte('S')
      .cstring('FATAL')
      .byte('V')
      .cstring('FATAL')
      .byte('C')
      .cstring('28P01')
      .byte('M')
      .cstring('password authentication failed for user "app"')
      .byte('F')
      .cstring('auth.c')
      .byte('L')
      .cstring('326')
      .byte('R')
      .cstring('auth_failed')
      .byte(0)
      .build();
    const message = typedMessage('E', body);
    assert.deepEqual(
      message.subarray(0, 20),
      hex('45 00000063 53 464154414c00 56 464154414c00 43'),
    );
    assert.deepEqual(decodeOne(message), {
      name: 'errorResponse',
      fields: new Map([
        ['S', 'FATAL'],
        ['V', 'FATAL'],
        ['C', '28P01'],
        ['M', 'password authentication failed for user "app"'],
        ['F', 'auth.c'],
        ['L', '326'],
        ['R', 'auth_failed'],
      ]),
    });
  });

  it('leaves optional fields absent: no SQLSTATE, no severity, or no fields at all', () => {
    const decoded = decodeOne(hex('45 0000000b 4d 626f6f6d00 00'));
    assert.ok(decoded.name === 'errorResponse');
    assert.deepEqual([...decoded.fields], [['M', 'boom']]);
    assert.equal(decoded.fields.get('C'), undefined);
    assert.deepEqual(decodeOne(hex('45 00000005 00')), {
      name: 'errorResponse',
      fields: new Map(),
    });
  });

  it('keeps unknown field codes (clients must ignore them, not fail)', () => {
    const decoded = decodeOne(hex('45 0000000c 7a 7a7a00 4d 6d00 00'));
    assert.ok(decoded.name === 'errorResponse');
    assert.deepEqual(
      [...decoded.fields],
      [
        ['z', 'zz'],
        ['M', 'm'],
      ],
    );
  });

  it('decodes a NoticeResponse the same way', () => {
    assert.deepEqual(decodeOne(hex('4e 00000011 53 4e4f5449434500 4d 686900 00')), {
      name: 'noticeResponse',
      fields: new Map([
        ['S', 'NOTICE'],
        ['M', 'hi'],
      ]),
    });
  });

  for (const [what, body] of [
    ['an empty body', ''],
    ['no terminator', '4d 6d00'],
    ['an unterminated value', '4d 6d'],
    ['a code without a value', '4d'],
    ['bytes after the terminator', '4d 6d00 00 43'],
  ] as const) {
    it(`refuses ErrorResponse and NoticeResponse with ${what}`, () => {
      assertMalformed(typedMessage('E', hex(body)), 'ErrorResponse');
      assertMalformed(typedMessage('N', hex(body)), 'ErrorResponse');
      assert.throws(
        () => decodeFields(hex(body)),
        (e) => isViolation(e, 'malformed_backend_message'),
      );
    });
  }
});

describe("decodeBackendMessage: 'v' NegotiateProtocolVersion and others", () => {
  it('decodes the newest minor and the unrecognised options', () => {
    // Int32 0x00030000, Int32 2, "_pq_.a\0", "_pq_.bb\0": 4 + 8 + 7 + 8 = 27.
    assert.deepEqual(
      decodeOne(hex('76 0000001b 00030000 00000002 5f70715f2e6100 5f70715f2e626200')),
      {
        name: 'negotiateProtocolVersion',
        newestMinor: 0,
        unrecognized: ['_pq_.a', '_pq_.bb'],
      },
    );
    assert.deepEqual(decodeOne(hex('76 0000000c 00030002 00000000')), {
      name: 'negotiateProtocolVersion',
      newestMinor: 2,
      unrecognized: [],
    });
  });

  for (const [what, vector] of [
    ['a short body', '76 0000000b 00030000 000000'],
    ['a negative count', '76 0000000c 00030000 ffffffff'],
    ['a count over 64', '76 0000000c 00030000 00000041'],
    ['fewer options than counted', '76 00000013 00030000 00000002 5f70715f2e6100'],
    ['bytes after the options', '76 00000014 00030000 00000001 5f70715f2e6100 00'],
  ] as const) {
    it(`refuses NegotiateProtocolVersion with ${what}`, () => {
      assertMalformed(hex(vector), 'NegotiateProtocolVersion');
    });
  }

  it('names other message types without reading them', () => {
    assert.deepEqual(decodeOne(hex('44 00000006 0000')), { name: 'other', type: 0x44 });
    assert.deepEqual(decodeOne(hex('43 00000004')), { name: 'other', type: 0x43 });
  });

  it('decodes a whole upstream login burst, pipelined, at every split', () => {
    const burst = Buffer.concat([
      hex('52 00000008 00000000'),
      hex('53 00000019 636c69656e745f656e636f64696e6700 5554463800'),
      hex('4b 0000000c 00003039 a1b2c3d4'),
      hex('4e 0000000b 4d 6e6f746500 00'),
      hex('5a 00000005 49'),
    ]);
    assert.deepEqual(decodeAll(burst), [
      { name: 'authentication', subtype: 0, data: Buffer.alloc(0) },
      { name: 'parameterStatus', parameter: 'client_encoding', value: 'UTF8' },
      { name: 'backendKeyData', processId: 12345, secretKey: hex('a1b2c3d4') },
      { name: 'noticeResponse', fields: new Map([['M', 'note']]) },
      { name: 'readyForQuery', status: 0x49 },
    ]);
  });
});
