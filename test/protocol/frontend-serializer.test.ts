import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';
import { PROTOCOL_3_2 } from '../../src/protocol/constants.ts';
import {
  decodePasswordMessage,
  decodeSaslInitialResponse,
} from '../../src/protocol/frontend-decoder.ts';
import {
  cancelRequest,
  passwordMessage,
  saslInitialResponse,
  saslResponse,
  sslRequest,
  startupMessage,
  terminate,
} from '../../src/protocol/frontend-serializer.ts';
import { decodeStartupPacket } from '../../src/protocol/startup-packet.ts';
import { hex } from '../support/bytes.ts';
import { frameEverySplit, startupReader, typedReader } from './feed.ts';

const KEY32 = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const CLIENT_FIRST = 'n,,n=,r=rOprNGfwEbeRWgbNEkqO';

const untyped: Array<{ name: string; actual: () => Buffer; expected: Buffer }> = [
  {
    name: 'StartupMessage 3.0 with user and database',
    actual: () =>
      startupMessage([
        ['user', 'alice'],
        ['database', 'shop'],
      ]),
    expected: hex('00000022 00030000 7573657200 616c69636500 646174616261736500 73686f7000 00'),
  },
  {
    name: 'StartupMessage 3.2 with no parameters',
    actual: () => startupMessage([], PROTOCOL_3_2),
    expected: hex('00000009 00030002 00'),
  },
  {
    name: 'StartupMessage with an empty value and UTF-8',
    actual: () =>
      startupMessage([
        ['user', 'zoë'],
        ['application_name', ''],
      ]),
    expected: hex(
      '00000025 00030000 7573657200 7a6fc3ab00 6170706c69636174696f6e5f6e616d6500 00 00',
    ),
  },
  { name: 'SSLRequest', actual: sslRequest, expected: hex('00000008 04d2162f') },
  {
    name: 'CancelRequest, 4-byte key',
    actual: () => cancelRequest(1234, hex('deadbeef')),
    expected: hex('00000010 04d2162e 000004d2 deadbeef'),
  },
  {
    name: 'CancelRequest, 32-byte key',
    actual: () => cancelRequest(-2, KEY32),
    expected: Buffer.concat([hex('0000002c 04d2162e fffffffe'), KEY32]),
  },
];

const typed: Array<{ name: string; actual: () => Buffer; expected: Buffer }> = [
  {
    name: 'PasswordMessage',
    actual: () => passwordMessage('secret'),
    expected: hex('70 0000000b 73656372657400'),
  },
  {
    name: 'SASLInitialResponse with data',
    actual: () => saslInitialResponse('SCRAM-SHA-256', Buffer.from(CLIENT_FIRST)),
    expected: hex(
      '70 00000032 534352414d2d5348412d32353600 0000001c 6e2c2c6e3d2c723d724f70724e47667745626552576762' +
        '4e456b714f',
    ),
  },
  {
    name: 'SASLInitialResponse with no data (length -1)',
    actual: () => saslInitialResponse('OAUTHBEARER', undefined),
    expected: hex('70 00000014 4f41555448424541524552 00 ffffffff'),
  },
  {
    name: 'SASLInitialResponse with empty data (length 0)',
    actual: () => saslInitialResponse('X', Buffer.alloc(0)),
    expected: hex('70 0000000a 5800 00000000'),
  },
  {
    name: 'SASLResponse',
    actual: () => saslResponse(Buffer.from('c=biws,r=x,p=y')),
    expected: hex('70 00000012 633d626977732c723d782c703d79'),
  },
  {
    name: 'SASLResponse, empty',
    actual: () => saslResponse(Buffer.alloc(0)),
    expected: hex('70 00000004'),
  },
  { name: 'Terminate', actual: terminate, expected: hex('58 00000004') },
];

describe('frontend serializers', () => {
  for (const { name, actual, expected } of [...untyped, ...typed]) {
    it(`writes ${name} byte for byte`, () => {
      assert.equal(actual().toString('hex'), expected.toString('hex'));
    });
  }

  it('writes startup-phase packets pgkey itself decodes the same, at every split', () => {
    const { frames } = frameEverySplit(
      startupReader,
      Buffer.concat(untyped.map((v) => v.actual())),
    );
    assert.deepEqual(
      frames.map((f) => decodeStartupPacket(f.body)),
      [
        {
          kind: 'startup',
          major: 3,
          minor: 0,
          parameters: new Map([
            ['user', 'alice'],
            ['database', 'shop'],
          ]),
          protocolOptions: [],
        },
        { kind: 'startup', major: 3, minor: 2, parameters: new Map(), protocolOptions: [] },
        {
          kind: 'startup',
          major: 3,
          minor: 0,
          parameters: new Map([
            ['user', 'zoë'],
            ['application_name', ''],
          ]),
          protocolOptions: [],
        },
        { kind: 'ssl-request' },
        { kind: 'cancel-request', processId: 1234, secretKey: hex('deadbeef') },
        { kind: 'cancel-request', processId: -2, secretKey: KEY32 },
      ],
    );
  });

  it("writes 'p' messages pgkey itself decodes the same, at every split", () => {
    const { frames } = frameEverySplit(typedReader, Buffer.concat(typed.map((v) => v.actual())));
    assert.deepEqual(
      frames.map((f) => String.fromCharCode(f.type)),
      ['p', 'p', 'p', 'p', 'p', 'p', 'X'],
    );
    assert.equal(decodePasswordMessage(frames[0]!.body), 'secret');
    assert.deepEqual(decodeSaslInitialResponse(frames[1]!.body), {
      mechanism: 'SCRAM-SHA-256',
      data: Buffer.from(CLIENT_FIRST),
    });
    assert.deepEqual(decodeSaslInitialResponse(frames[2]!.body), {
      mechanism: 'OAUTHBEARER',
      data: undefined,
    });
    assert.deepEqual(decodeSaslInitialResponse(frames[3]!.body), {
      mechanism: 'X',
      data: Buffer.alloc(0),
    });
  });

  // A role "x\0options\0-c role=admin" would otherwise add a startup parameter upstream.
  const refusals: Array<[string, () => Buffer, string]> = [
    [
      'a NUL in a parameter value',
      () => startupMessage([['user', 'x\0options\0-c role=admin']]),
      'nul_in_string',
    ],
    ['a NUL in a parameter name', () => startupMessage([['a\0b', 'c']]), 'nul_in_string'],
    [
      'an empty parameter name (it is the terminator)',
      () =>
        startupMessage([
          ['', 'x'],
          ['user', 'y'],
        ]),
      'empty_parameter_name',
    ],
    ['a NUL in a password', () => passwordMessage('a\0b'), 'nul_in_string'],
    ['a NUL in a SASL mechanism', () => saslInitialResponse('SCRAM\0', undefined), 'nul_in_string'],
  ];
  for (const [what, write, reason] of refusals) {
    it(`refuses ${what}`, () => {
      assert.throws(write, (e) => {
        assert.ok(isPgkeyError(e, 'ERR_INTERNAL'));
        assert.equal(e.reason, reason);
        return true;
      });
    });
  }

  it('does not alias its inputs', () => {
    const key = hex('01020304');
    const data = Buffer.from('abc');
    const cancel = cancelRequest(1, key);
    const response = saslResponse(data);
    key.fill(0);
    data.fill(0);
    assert.equal(cancel.toString('hex'), '0000001004d2162e0000000101020304');
    assert.equal(response.toString('hex'), '7000000007616263');
  });
});
