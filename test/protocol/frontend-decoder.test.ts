import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decodePasswordMessage,
  decodeSaslInitialResponse,
} from '../../src/protocol/frontend-decoder.ts';
import { bytes, hex, typedMessage } from '../support/bytes.ts';
import { frameEverySplit, isViolation, typedReader } from './feed.ts';

/** Frames a whole 'p' message at every split and returns its body. */
function passwordBody(message: Buffer): Buffer {
  const { frames, buffered } = frameEverySplit(() => typedReader(70_000), message);
  assert.equal(frames.length, 1);
  assert.equal(buffered, 0);
  assert.equal(frames[0]!.type, 0x70, "type 'p'");
  return frames[0]!.body;
}

describe('decodePasswordMessage', () => {
  // 'p' Int32 len, String password: the NUL must be the last byte (auth.c recv_password_packet).
  it('decodes a token sent as the password', () => {
    assert.equal(decodePasswordMessage(passwordBody(hex('70 0000000a 746f6b656e00'))), 'token');
  });

  it('decodes an empty password (just the NUL)', () => {
    assert.equal(decodePasswordMessage(passwordBody(hex('70 00000005 00'))), '');
  });

  it('decodes a 64 KiB token and UTF-8 text', () => {
    const token = 'e'.repeat(65_535);
    const body = passwordBody(typedMessage('p', bytes().cstring(token).build()));
    assert.equal(decodePasswordMessage(body), token);
    assert.equal(decodePasswordMessage(bytes().cstring('pässwörd').build()), 'pässwörd');
  });

  const refused: Array<[string, string]> = [
    ['an empty body (no NUL at all)', '70 00000004'],
    ['no terminating NUL', '70 00000007 616263'],
    ['trailing bytes after the NUL', '70 00000009 61626300 78'],
    ['a second NUL', '70 00000009 61626300 00'],
    ['an embedded NUL', '70 00000009 610062 6300'],
  ];
  for (const [what, vector] of refused) {
    it(`refuses ${what}`, () => {
      assert.throws(
        () => decodePasswordMessage(passwordBody(hex(vector))),
        (e) => isViolation(e, 'invalid_password_packet', 'invalid password packet size'),
      );
    });
  }

  it('refuses invalid UTF-8', () => {
    assert.throws(
      () => decodePasswordMessage(passwordBody(hex('70 00000008 61ff6200'))),
      (e) => isViolation(e, 'invalid_utf8', 'invalid UTF-8 in password packet'),
    );
  });
});

describe('decodeSaslInitialResponse', () => {
  // 'p' String mechanism, Int32 length of the initial response (-1 = none), then the bytes.
  const initial = Buffer.from('n,,\x01auth=Bearer abc\x01\x01', 'latin1');

  it('decodes an OAUTHBEARER initial response', () => {
    const message = hex(
      '70 00000029 4f41555448424541524552 00 00000015 6e2c2c 01 617574683d42656172657220616263 01 01',
    );
    assert.deepEqual(decodeSaslInitialResponse(passwordBody(message)), {
      mechanism: 'OAUTHBEARER',
      data: initial,
    });
  });

  it('decodes length -1 as no initial response', () => {
    const message = hex('70 00000014 4f41555448424541524552 00 ffffffff');
    assert.deepEqual(decodeSaslInitialResponse(passwordBody(message)), {
      mechanism: 'OAUTHBEARER',
      data: undefined,
    });
  });

  it('decodes length 0 as an empty initial response, not an absent one', () => {
    const decoded = decodeSaslInitialResponse(passwordBody(hex('70 0000000d 5343524100 00000000')));
    assert.deepEqual(decoded, { mechanism: 'SCRA', data: Buffer.alloc(0) });
  });

  it('keeps an embedded NUL in the data verbatim (the mechanism judges it)', () => {
    const data = hex('6e2c2c 01 61 00 62 01 01');
    const body = bytes().cstring('OAUTHBEARER').int32(data.length).raw(data).build();
    const framed = passwordBody(typedMessage('p', body));
    assert.deepEqual(decodeSaslInitialResponse(framed), { mechanism: 'OAUTHBEARER', data });
  });

  it('copies the data out of the frame', () => {
    const body = bytes().cstring('M').int32(2).raw([1, 2]).build();
    const decoded = decodeSaslInitialResponse(body);
    body.fill(0);
    assert.deepEqual(decoded.data, hex('0102'));
  });

  const refused: Array<[string, Buffer]> = [
    ['an empty body', Buffer.alloc(0)],
    ['an empty mechanism name', hex('00 00000000')],
    ['no NUL after the mechanism', hex('4f4155544842454152455200'.slice(0, -2))],
    ['a length word cut short', hex('4d00 000000')],
    ['length -1 followed by data', hex('4d00 ffffffff 61')],
    ['a length above the data', hex('4d00 00000005 61626364')],
    ['a length below the data', hex('4d00 00000003 61626364')],
    ['length -2', hex('4d00 fffffffe')],
    ['length 0x7fffffff', hex('4d00 7fffffff 61')],
    [
      'an embedded NUL in the mechanism name (the rest misparses)',
      bytes().cstring('OAUTH').cstring('BEARER').int32(1).raw([0x61]).build(),
    ],
  ];
  for (const [what, body] of refused) {
    it(`refuses ${what}`, () => {
      assert.throws(
        () => decodeSaslInitialResponse(body),
        (e) => isViolation(e, 'invalid_sasl_message', 'malformed SASL initial response'),
      );
    });
  }
});
