import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeBackendMessage, decodeSaslMechanisms } from '../../src/protocol/backend-decoder.ts';
import {
  authenticationCleartextPassword,
  authenticationOk,
  authenticationSasl,
  authenticationSaslContinue,
  authenticationSaslFinal,
  backendKeyData,
  errorResponse,
  negotiateProtocolVersion,
  noticeResponse,
  parameterStatus,
  readyForQuery,
} from '../../src/protocol/backend-serializer.ts';
import { PROTOCOL_3_2, TRANSACTION_STATUS } from '../../src/protocol/constants.ts';
import { bytes, hex, typedMessage } from '../support/bytes.ts';
import { frameEverySplit, typedReader } from './feed.ts';

const DISCOVERY =
  '{"status":"invalid_token","openid-configuration":"https://idp/.well-known/openid-configuration","scope":"openid"}';
const KEY32 = Buffer.from(Array.from({ length: 32 }, (_, i) => 255 - i));

/**
 * Each serializer's output against bytes written out from protocol-message-formats. Every
 * vector is then framed at every split and decoded by pgkey's own backend decoder, which
 * must agree (a second, independent reading of the same bytes).
 */
const vectors: Array<{ name: string; actual: () => Buffer; expected: Buffer }> = [
  { name: 'AuthenticationOk', actual: authenticationOk, expected: hex('52 00000008 00000000') },
  {
    name: 'AuthenticationCleartextPassword',
    actual: authenticationCleartextPassword,
    expected: hex('52 00000008 00000003'),
  },
  {
    name: 'AuthenticationSASL [OAUTHBEARER]',
    actual: () => authenticationSasl(['OAUTHBEARER']),
    expected: hex('52 00000015 0000000a 4f41555448424541524552 00 00'),
  },
  {
    name: 'AuthenticationSASL [SCRAM-SHA-256-PLUS, SCRAM-SHA-256]',
    actual: () => authenticationSasl(['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256']),
    expected: hex(
      '52 0000002a 0000000a 534352414d2d5348412d3235362d504c555300 534352414d2d5348412d32353600 00',
    ),
  },
  {
    name: 'AuthenticationSASL []',
    actual: () => authenticationSasl([]),
    expected: hex('52 00000009 0000000a 00'),
  },
  {
    name: 'AuthenticationSASLContinue with the RFC 7628 discovery document',
    actual: () => authenticationSaslContinue(Buffer.from(DISCOVERY)),
    expected: bytes()
      .byte(0x52)
      .int32(8 + 113)
      .int32(11)
      .text(DISCOVERY)
      .build(),
  },
  {
    name: 'AuthenticationSASLContinue, empty (OAUTHBEARER with no initial response)',
    actual: () => authenticationSaslContinue(Buffer.alloc(0)),
    expected: hex('52 00000008 0000000b'),
  },
  {
    name: 'AuthenticationSASLFinal',
    actual: () => authenticationSaslFinal(Buffer.from('v=xyz')),
    expected: hex('52 0000000d 0000000c 763d78797a'),
  },
  {
    name: 'ParameterStatus server_version=18.1',
    actual: () => parameterStatus('server_version', '18.1'),
    expected: hex('53 00000018 7365727665725f76657273696f6e00 31382e3100'),
  },
  {
    name: 'ParameterStatus with a UTF-8 value',
    actual: () => parameterStatus('application_name', 'é'),
    expected: hex('53 00000018 6170706c69636174696f6e5f6e616d6500 c3a900'),
  },
  {
    name: 'BackendKeyData, 4-byte key (3.0)',
    actual: () => backendKeyData(12345, hex('a1b2c3d4')),
    expected: hex('4b 0000000c 00003039 a1b2c3d4'),
  },
  {
    name: 'BackendKeyData, 32-byte key (3.2)',
    actual: () => backendKeyData(0x7fff_ffff, KEY32),
    expected: Buffer.concat([hex('4b 00000028 7fffffff'), KEY32]),
  },
  {
    name: "ReadyForQuery 'I'",
    actual: () => readyForQuery(TRANSACTION_STATUS.Idle),
    expected: hex('5a 00000005 49'),
  },
  {
    name: "ReadyForQuery 'T'",
    actual: () => readyForQuery(TRANSACTION_STATUS.InTransaction),
    expected: hex('5a 00000005 54'),
  },
  {
    name: "ReadyForQuery 'E'",
    actual: () => readyForQuery(TRANSACTION_STATUS.Failed),
    expected: hex('5a 00000005 45'),
  },
  {
    name: 'NegotiateProtocolVersion 3.2 with one option',
    actual: () => negotiateProtocolVersion(PROTOCOL_3_2, ['_pq_.a']),
    expected: hex('76 00000013 00030002 00000001 5f70715f2e6100'),
  },
  {
    name: 'NegotiateProtocolVersion 3.2 with none',
    actual: () => negotiateProtocolVersion(PROTOCOL_3_2, []),
    expected: hex('76 0000000c 00030002 00000000'),
  },
  {
    name: 'ErrorResponse FATAL 28P01, no detail or hint',
    actual: () => errorResponse({ severity: 'FATAL', code: '28P01', message: 'token expired' }),
    expected: hex(
      '45 00000029 53 464154414c00 56 464154414c00 43 3238503031 00 4d 746f6b656e2065787069726564 00 00',
    ),
  },
  {
    name: 'ErrorResponse with detail and hint, in the order S V C M D H',
    actual: () =>
      errorResponse({ severity: 'ERROR', code: '0A000', message: 'm', detail: 'd', hint: 'h' }),
    expected: hex(
      '45 00000023 53 4552524f5200 56 4552524f5200 43 304130303000 4d 6d00 44 6400 48 6800 00',
    ),
  },
  {
    name: 'NoticeResponse',
    actual: () =>
      noticeResponse({ severity: 'NOTICE', code: '00000', message: 'hi', hint: undefined }),
    expected: hex('4e 00000020 53 4e4f5449434500 56 4e4f5449434500 43 303030303000 4d 686900 00'),
  },
];

describe('backend serializers', () => {
  for (const { name, actual, expected } of vectors) {
    it(`writes ${name} byte for byte`, () => {
      assert.equal(actual().toString('hex'), expected.toString('hex'));
    });
  }

  it('writes each vector so the decoder reads it back, at every split', () => {
    const all = Buffer.concat(vectors.map((v) => v.actual()));
    const { frames, buffered } = frameEverySplit(typedReader, all);
    assert.equal(buffered, 0);
    assert.equal(frames.length, vectors.length);
    const decoded = frames.map((f) => decodeBackendMessage(f));
    assert.deepEqual(decoded[3], {
      name: 'authentication',
      subtype: 10,
      data: Buffer.from('SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0'),
    });
    assert.ok(decoded[3]?.name === 'authentication');
    assert.deepEqual(decodeSaslMechanisms(decoded[3].data), [
      'SCRAM-SHA-256-PLUS',
      'SCRAM-SHA-256',
    ]);
    assert.deepEqual(decoded[11], {
      name: 'backendKeyData',
      processId: 0x7fff_ffff,
      secretKey: KEY32,
    });
    assert.deepEqual(decoded[17], {
      name: 'errorResponse',
      fields: new Map([
        ['S', 'FATAL'],
        ['V', 'FATAL'],
        ['C', '28P01'],
        ['M', 'token expired'],
      ]),
    });
  });

  it('cannot be made to end a String early by a NUL in the text', () => {
    // Error text may quote a token claim; "\u0000" is valid JSON inside one.
    const written = errorResponse({
      severity: 'FATAL',
      code: '28000',
      message: 'role "a\0C\u0030"',
    });
    const expected = typedMessage(
      'E',
      bytes()
        .byte('S')
        .cstring('FATAL')
        .byte('V')
        .cstring('FATAL')
        .byte('C')
        .cstring('28000')
        .byte('M')
        .cstring('role "a\uFFFDC0"')
        .byte(0)
        .build(),
    );
    assert.equal(written.toString('hex'), expected.toString('hex'));
    const decoded = decodeBackendMessage({ type: 0x45, body: written.subarray(5) });
    assert.ok(decoded.name === 'errorResponse');
    assert.deepEqual([...decoded.fields.keys()], ['S', 'V', 'C', 'M']);
    assert.equal(
      parameterStatus('a\0b', '').toString('hex'),
      hex('53 0000000b 61efbfbd6200 00').toString('hex'),
    );
  });

  it('does not alias its inputs', () => {
    const key = hex('01020304');
    const message = backendKeyData(1, key);
    key.fill(0);
    assert.equal(message.toString('hex'), '4b0000000c0000000101020304');
  });
});
