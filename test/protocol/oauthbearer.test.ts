/**
 * SASL OAUTHBEARER (RFC 7628) as PostgreSQL 18 speaks it, in bytes. Every vector is written
 * out by hand from RFC 7628 §3.1/§3.2.2, protocol-message-formats and the layouts libpq 18
 * builds (fe-auth-oauth.c client_initial_response: "n,," kvsep "auth=%s%s" kvsep kvsep); the
 * client's messages are also framed at every byte boundary before they are parsed, and every
 * refusal carries auth-oauth.c's SQLSTATE, message and detail.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';
import {
  authenticationSasl,
  authenticationSaslContinue,
} from '../../src/protocol/backend-serializer.ts';
import { MAX_AUTH_MESSAGE_LENGTH } from '../../src/protocol/constants.ts';
import { decodeSaslInitialResponse } from '../../src/protocol/frontend-decoder.ts';
import {
  KVSEP,
  OAUTHBEARER,
  discoveryUri,
  errorResult,
  parseClientResponse,
  parseDummyResponse,
  type ClientResponse,
} from '../../src/protocol/oauthbearer.ts';
import { bytes, hex } from '../support/bytes.ts';
import { frameEverySplit, typedReader } from './feed.ts';

/** The gateway's reader for the auth exchange: 'p' capped like the cleartext door. */
const authReader = () => typedReader(MAX_AUTH_MESSAGE_LENGTH);

/** Frames one whole 'p' message at every split; returns its body. */
function pBody(message: Buffer): Buffer {
  const { frames, buffered } = frameEverySplit(authReader, message);
  assert.equal(frames.length, 1);
  assert.equal(buffered, 0);
  assert.equal(frames[0]!.type, 0x70, "type 'p'");
  return frames[0]!.body;
}

const latin1 = (text: string): Buffer => Buffer.from(text, 'latin1');

/** A malformed-message refusal: 08P01 "malformed OAUTHBEARER message" with this DETAIL. */
function isMalformed(error: unknown, detail: string): boolean {
  assert.ok(isPgkeyError(error, 'ERR_PROTOCOL_VIOLATION'), `not a violation: ${String(error)}`);
  assert.equal(error.sqlstate, '08P01');
  assert.equal(error.message, 'malformed OAUTHBEARER message');
  assert.equal(error.detail, detail);
  assert.equal(error.reason, 'oauthbearer_malformed');
  return true;
}

describe('OAUTHBEARER: server → client', () => {
  it('AuthenticationSASL offers OAUTHBEARER alone (auth-oauth.c oauth_get_mechanisms)', () => {
    // 'R', Int32 21, Int32 10, "OAUTHBEARER\0", the list's terminating "\0".
    assert.deepEqual(
      authenticationSasl([OAUTHBEARER]),
      hex('52 00000015 0000000a 4f41555448424541524552 00 00'),
    );
  });

  it('an empty AuthenticationSASLContinue asks for the absent initial response', () => {
    assert.deepEqual(authenticationSaslContinue(Buffer.alloc(0)), hex('52 00000008 0000000b'));
  });

  it('the error result is auth-oauth.c generate_error_response, byte for byte', () => {
    const json =
      '{ "status": "invalid_token", "openid-configuration": ' +
      '"https://idp.test.pgkey/.well-known/openid-configuration", "scope": "openid email groups" }';
    const result = errorResult('https://idp.test.pgkey', 'openid email groups');
    assert.deepEqual(result, Buffer.from(json, 'latin1'));
    // 'R', Int32 length, Int32 11, the JSON (no terminator: the rest of the message).
    assert.deepEqual(
      authenticationSaslContinue(result),
      bytes()
        .byte('R')
        .int32(8 + json.length)
        .int32(11)
        .text(json)
        .build(),
    );
    // What libpq 18 reads from it (handle_oauth_sasl_error): three top-level strings.
    assert.deepEqual(JSON.parse(result.toString('utf8')), {
      status: 'invalid_token',
      'openid-configuration': 'https://idp.test.pgkey/.well-known/openid-configuration',
      scope: 'openid email groups',
    });
  });

  it('an empty scope is sent as "" (pg_hba allows scope="")', () => {
    assert.equal(
      errorResult('https://idp.example', '').toString('latin1'),
      '{ "status": "invalid_token", "openid-configuration": "https://idp.example/.well-known/openid-configuration", "scope": "" }',
    );
  });

  it('appends /.well-known/openid-configuration unless the issuer already has /.well-known/', () => {
    assert.equal(
      discoveryUri('https://idp.example/tenant'),
      'https://idp.example/tenant/.well-known/openid-configuration',
    );
    assert.equal(
      discoveryUri('https://idp.example/.well-known/oauth-authorization-server/tenant'),
      'https://idp.example/.well-known/oauth-authorization-server/tenant',
    );
    // A trailing slash is kept as given: libpq derives the issuer back byte for byte.
    assert.equal(
      discoveryUri('https://idp.example/'),
      'https://idp.example//.well-known/openid-configuration',
    );
  });

  it('escapes values as escape_json does', () => {
    assert.equal(
      errorResult('https://idp.example', 'a"b\\c\td\u0001').toString('latin1'),
      '{ "status": "invalid_token", "openid-configuration": "https://idp.example/.well-known/openid-configuration", "scope": "a\\"b\\\\c\\td\\u0001" }',
    );
  });
});

describe('OAUTHBEARER: client → server, as libpq 18 sends it', () => {
  it('SASLInitialResponse with a discovery request (empty auth value)', () => {
    // 'p', Int32 31, "OAUTHBEARER\0", Int32 11, "n,," 01 "auth=" 01 01.
    const message = hex(
      '70 0000001f 4f41555448424541524552 00 0000000b 6e2c2c 01 617574683d 01 01',
    );
    const initial = decodeSaslInitialResponse(pBody(message));
    assert.equal(initial.mechanism, OAUTHBEARER);
    assert.deepEqual(initial.data, hex('6e2c2c 01 617574683d 01 01'));
    assert.deepEqual(parseClientResponse(initial.data), { kind: 'discovery' });
  });

  it('SASLInitialResponse with a bearer token', () => {
    // 'p', Int32 41, "OAUTHBEARER\0", Int32 21, "n,," 01 "auth=Bearer abc" 01 01.
    const message = hex(
      '70 00000029 4f41555448424541524552 00 00000015 6e2c2c 01 617574683d42656172657220616263 01 01',
    );
    const initial = decodeSaslInitialResponse(pBody(message));
    assert.deepEqual(parseClientResponse(initial.data!), { kind: 'bearer', token: 'abc' });
  });

  it('a JWT-shaped token of every b64token character', () => {
    const token = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.AZaz09-._~+/==';
    const icr = bytes()
      .text('n,,')
      .byte(KVSEP)
      .text(`auth=Bearer ${token}`)
      .byte(KVSEP)
      .byte(KVSEP)
      .build();
    const message = bytes()
      .byte('p')
      .int32(4 + 12 + 4 + icr.length)
      .cstring('OAUTHBEARER')
      .int32(icr.length)
      .raw(icr)
      .build();
    const initial = decodeSaslInitialResponse(pBody(message));
    assert.deepEqual(parseClientResponse(initial.data!), { kind: 'bearer', token });
  });

  it('SASLInitialResponse without an initial response (length -1), then the SASLResponse', () => {
    const first = hex('70 00000014 4f41555448424541524552 00 ffffffff');
    assert.deepEqual(decodeSaslInitialResponse(pBody(first)), {
      mechanism: OAUTHBEARER,
      data: undefined,
    });
    // 'p', Int32 25, "n,," 01 "auth=Bearer abc" 01 01: the same bytes, now the whole body.
    const second = hex('70 00000019 6e2c2c 01 617574683d42656172657220616263 01 01');
    assert.deepEqual(parseClientResponse(pBody(second)), { kind: 'bearer', token: 'abc' });
  });

  it('the RFC 7628 §3.2.3 dummy response: SASLResponse of one 0x01', () => {
    assert.doesNotThrow(() => parseDummyResponse(pBody(hex('70 00000005 01'))));
  });

  it('a 64 KiB token fits (the cleartext door takes the same)', () => {
    const token = 'e'.repeat(65_536);
    const icr = latin1(`n,,\x01auth=Bearer ${token}\x01\x01`);
    const body = bytes().cstring('OAUTHBEARER').int32(icr.length).raw(icr).build();
    const message = bytes()
      .byte('p')
      .int32(body.length + 4)
      .raw(body)
      .build();
    const initial = decodeSaslInitialResponse(pBody(message));
    assert.deepEqual(parseClientResponse(initial.data!), { kind: 'bearer', token });
  });

  it('a message over the cap is refused by its length word, before its body arrives', () => {
    const header = bytes()
      .byte('p')
      .int32(MAX_AUTH_MESSAGE_LENGTH + 5)
      .build();
    const reader = authReader();
    reader.push(header);
    assert.throws(
      () => reader.next(),
      (e) => isPgkeyError(e, 'ERR_PROTOCOL_VIOLATION') && e.reason === 'message_too_long',
    );
    const data = latin1(`n,,\x01auth=Bearer ${'e'.repeat(MAX_AUTH_MESSAGE_LENGTH)}\x01\x01`);
    assert.throws(
      () => parseClientResponse(data),
      (e) => isPgkeyError(e, 'ERR_PROTOCOL_VIOLATION') && e.reason === 'oauthbearer_too_long',
    );
  });
});

describe('parseClientResponse accepts what auth-oauth.c accepts', () => {
  const accepted: Array<[string, string, ClientResponse]> = [
    ['gs2 flag y (forward compatibility)', 'y,,\x01auth=Bearer abc\x01\x01', bearer('abc')],
    [
      'host and port before auth (RFC 7628 §3.1 keys pgkey ignores)',
      'n,,\x01host=db.example\x01port=5432\x01auth=Bearer abc\x01\x01',
      bearer('abc'),
    ],
    [
      'unknown keys after auth, values with SP, HTAB, CR, LF and "="',
      'n,,\x01auth=Bearer abc\x01xtra=a b\tc\r\nd=e\x01\x01',
      bearer('abc'),
    ],
    ['the scheme in any case', 'n,,\x01auth=bEARER abc\x01\x01', bearer('abc')],
    ['extra spaces after the scheme', 'n,,\x01auth=Bearer    abc\x01\x01', bearer('abc')],
    ['trailing "=" padding', 'n,,\x01auth=Bearer abc==\x01\x01', bearer('abc==')],
    ['"=" alone (strspn, then any "=")', 'n,,\x01auth=Bearer ==\x01\x01', bearer('==')],
    ['discovery: an empty auth value', 'n,,\x01auth=\x01\x01', { kind: 'discovery' }],
    ['another scheme', 'n,,\x01auth=Basic YWJj\x01\x01', malformedToken('not-bearer')],
    ['"Bearer" without its space', 'n,,\x01auth=Bearer\x01\x01', malformedToken('not-bearer')],
    ['a token of spaces', 'n,,\x01auth=Bearer   \x01\x01', malformedToken('empty')],
    [
      'a space inside the token',
      'n,,\x01auth=Bearer a b\x01\x01',
      malformedToken('invalid-characters'),
    ],
    [
      '"=" inside the token',
      'n,,\x01auth=Bearer a=b\x01\x01',
      malformedToken('invalid-characters'),
    ],
    [
      'a character outside b64token',
      'n,,\x01auth=Bearer a%b\x01\x01',
      malformedToken('invalid-characters'),
    ],
  ];
  for (const [what, input, expected] of accepted) {
    it(what, () => assert.deepEqual(parseClientResponse(latin1(input)), expected));
  }
});

describe('parseClientResponse refuses what auth-oauth.c refuses', () => {
  const refused: Array<[string, Buffer, string]> = [
    ['an empty message', Buffer.alloc(0), 'The message is empty.'],
    [
      'an embedded NUL',
      latin1('n,,\x01auth=Bearer a\x00b\x01\x01'),
      'Message length does not match input length.',
    ],
    [
      'channel binding (gs2 flag p)',
      latin1('p=tls-server-end-point,,\x01auth=Bearer abc\x01\x01'),
      'The server does not support channel binding for OAuth, but the client message includes channel binding data.',
    ],
    [
      'an unknown gs2 flag',
      latin1('x,,\x01auth=Bearer abc\x01\x01'),
      'Unexpected channel-binding flag "\'x\'".',
    ],
    [
      'a lone kvsep (the other client-resp form)',
      hex('01'),
      'Unexpected channel-binding flag "0x01".',
    ],
    ['a flag and nothing else', latin1('n'), 'Comma expected, but found character "0x00".'],
    [
      'no comma after the flag',
      latin1('n;,\x01auth=\x01\x01'),
      'Comma expected, but found character "\';\'".',
    ],
    [
      'a gs2 attribute other than a=',
      latin1('n,b,\x01auth=\x01\x01'),
      'Unexpected attribute "\'b\'" in client-first-message.',
    ],
    [
      'no kvsep after the gs2 header',
      latin1('n,,auth=\x01\x01'),
      'Key-value separator expected, but found character "\'a\'".',
    ],
    [
      'the gs2 header alone',
      latin1('n,,'),
      'Key-value separator expected, but found character "0x00".',
    ],
    ['no key/value list at all', latin1('n,,\x01'), 'Message did not contain a final terminator.'],
    [
      'an unterminated pair',
      latin1('n,,\x01auth=Bearer abc'),
      'Message contains an unterminated key/value pair.',
    ],
    [
      'no final terminator',
      latin1('n,,\x01auth=Bearer abc\x01'),
      'Message did not contain a final terminator.',
    ],
    ['a key without "="', latin1('n,,\x01auth\x01\x01'), 'Message contains a key without a value.'],
    [
      '"=" only in a later pair',
      latin1('n,,\x01auth\x01x=y\x01\x01'),
      'Message contains a key without a value.',
    ],
    ['an empty key', latin1('n,,\x01=abc\x01\x01'), 'Message contains an empty key name.'],
    [
      'a key with a digit',
      latin1('n,,\x01auth2=Bearer abc\x01\x01'),
      'Message contains an invalid key name.',
    ],
    [
      'a key with a space',
      latin1('n,,\x01au th=Bearer abc\x01\x01'),
      'Message contains an invalid key name.',
    ],
    [
      'a value byte above 0x7e',
      latin1('n,,\x01auth=Bearer \xe9\x01\x01'),
      'Message contains an invalid value.',
    ],
    ['DEL in a value', latin1('n,,\x01host=a\x7f\x01\x01'), 'Message contains an invalid value.'],
    [
      'a control character in a value',
      latin1('n,,\x01host=a\x02b\x01\x01'),
      'Message contains an invalid value.',
    ],
    [
      'two auth keys',
      latin1('n,,\x01auth=Bearer a\x01auth=Bearer b\x01\x01'),
      'Message contains multiple auth values.',
    ],
    [
      'two auth keys, the first empty',
      latin1('n,,\x01auth=\x01auth=Bearer b\x01\x01'),
      'Message contains multiple auth values.',
    ],
    ['no auth key', latin1('n,,\x01host=db\x01\x01'), 'Message does not contain an auth value.'],
    [
      'an "Auth" key (keys are case-sensitive)',
      latin1('n,,\x01Auth=Bearer abc\x01\x01'),
      'Message does not contain an auth value.',
    ],
    [
      'trailing garbage',
      latin1('n,,\x01auth=Bearer abc\x01\x01garbage'),
      'Message contains additional data after the final terminator.',
    ],
    [
      'a third kvsep',
      latin1('n,,\x01auth=Bearer abc\x01\x01\x01'),
      'Message contains additional data after the final terminator.',
    ],
  ];
  for (const [what, input, detail] of refused) {
    it(`refuses ${what}`, () => {
      assert.throws(
        () => parseClientResponse(input),
        (e) => isMalformed(e, detail),
      );
    });
  }

  it('refuses an authorization identity with 0A000, before looking further', () => {
    for (const input of ['n,a=alice,\x01auth=Bearer abc\x01\x01', 'y,a=,garbage']) {
      assert.throws(
        () => parseClientResponse(latin1(input)),
        (e: unknown) => {
          assert.ok(isPgkeyError(e, 'ERR_FEATURE_NOT_SUPPORTED'));
          assert.equal(e.sqlstate, '0A000');
          assert.equal(e.message, 'client uses authorization identity, but it is not supported');
          return true;
        },
      );
    }
  });

  it('never puts token bytes in what it throws', () => {
    const secret = 'c2VjcmV0LXRva2Vu';
    for (const input of [
      `n,,\x01auth=Bearer ${secret}\x01\x01trailing`,
      `n,,\x01auth=Bearer ${secret}\x01auth=Bearer ${secret}\x01\x01`,
      `n,,\x01auth=Bearer ${secret}\x80\x01\x01`,
    ]) {
      assert.throws(
        () => parseClientResponse(latin1(input)),
        (e: unknown) =>
          isPgkeyError(e) && !`${e.message} ${e.detail ?? ''}`.includes(secret.slice(0, 6)),
      );
    }
  });
});

describe('parseDummyResponse', () => {
  const refused: Array<[string, Buffer, string]> = [
    ['an empty SASLResponse', Buffer.alloc(0), 'The message is empty.'],
    ['a NUL', hex('00'), 'Message length does not match input length.'],
    ['two kvseps', hex('0101'), 'Client did not send a kvsep response.'],
    ['another byte', hex('02'), 'Client did not send a kvsep response.'],
    [
      'a second initial response',
      latin1('n,,\x01auth=Bearer abc\x01\x01'),
      'Client did not send a kvsep response.',
    ],
  ];
  for (const [what, input, detail] of refused) {
    it(`refuses ${what}`, () => {
      assert.throws(
        () => parseDummyResponse(input),
        (e) => isMalformed(e, detail),
      );
    });
  }
});

function bearer(token: string): ClientResponse {
  return { kind: 'bearer', token };
}

function malformedToken(
  problem: Extract<ClientResponse, { kind: 'malformed-token' }>['problem'],
): ClientResponse {
  return { kind: 'malformed-token', problem };
}
