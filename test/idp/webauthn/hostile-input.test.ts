// Huge, truncated and garbage input is refused before anything decodes it (reliability.md
// D26 "CBOR with a huge declared length → fast reject"; web-auth/webauthn-lib allocated a
// declared length before checking it). Every refusal also spends the challenge.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import { isoCBOR } from '@simplewebauthn/server/helpers';
import { readAuthenticatorData } from '../../../src/idp/webauthn/authenticator-data.ts';
import { cborItemEnd } from '../../../src/idp/webauthn/cbor-guard.ts';
import { WebAuthnRefusal, refusalOf, type Refusal } from '../../../src/idp/webauthn/refusal.ts';
import {
  MAX_RESPONSE_BYTES,
  parseAuthenticationResponse,
  parseRegistrationResponse,
} from '../../../src/idp/webauthn/response-shape.ts';
import { SoftAuthenticator } from '../../support/soft-authenticator.ts';
import type { Harness } from './fixtures.ts';
import { ORIGIN, RP_ID, harness, newUser, refused, register } from './fixtures.ts';

let h: Harness;
before(async () => {
  h = await harness();
});
after(async () => {
  await h.close();
});

const b64 = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64url');

function refusalIn(fn: () => unknown): Refusal | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof WebAuthnRefusal) return error.refusal;
    return refusalOf(error);
  }
  return undefined;
}

/** A registration response for the challenge in `options`, with our own attestation object. */
async function withAttestationObject(attestationObject: Uint8Array) {
  const user = await newUser(h.directory);
  const { challengeId, options } = await h.ceremonies.beginRegistration(user, {});
  const real = await new SoftAuthenticator().create(options, { origin: ORIGIN });
  const response: RegistrationResponseJSON = {
    ...real,
    response: { ...real.response, attestationObject: b64(attestationObject) },
  };
  return { challengeId, response, real };
}

describe('CBOR guard', () => {
  const cases: [string, number[]][] = [
    ['a byte string declaring 2^44 bytes', [0x5b, 0, 0, 0x10, 0, 0, 0, 0, 0, 1, 2, 3]],
    ['a byte string declaring 2^63 bytes', [0x5b, 0x80, 0, 0, 0, 0, 0, 0, 0]],
    ['an array declaring 2^32 items', [0x9b, 0, 0, 0, 1, 0, 0, 0, 0, 1]],
    ['a map declaring more pairs than bytes', [0xb9, 0xff, 0xff, 1, 2]],
    ['an indefinite-length string', [0x5f, 0x41, 0x00, 0xff]],
    ['a reserved head', [0x1c]],
    ['a truncated head', [0x19, 0x01]],
    ['nesting 100 deep', Array.from({ length: 100 }, () => 0x81)],
    ['nothing', []],
  ];
  for (const [name, bytes] of cases) {
    it(`refuses ${name}`, () => {
      assert.equal(
        refusalIn(() => cborItemEnd(Uint8Array.from(bytes), 0)),
        'response_malformed',
      );
    });
  }

  it('measures well-formed items', () => {
    const item = isoCBOR.encode(
      new Map<string, unknown>([['a', [1, 2, new Uint8Array(300)]]]) as never,
    );
    assert.equal(cborItemEnd(Uint8Array.from([...item, 0xff]), 0), item.length);
  });
});

describe('authenticator data', () => {
  const rpIdHash = createHash('sha256').update(RP_ID).digest();
  const head = (flags: number) => Buffer.concat([rpIdHash, Buffer.from([flags, 0, 0, 0, 1])]);

  it('refuses short, trailing and oversized parts', () => {
    assert.equal(
      refusalIn(() => readAuthenticatorData(new Uint8Array(36))),
      'response_malformed',
    );
    assert.equal(
      refusalIn(() => readAuthenticatorData(Buffer.concat([head(0x05), Buffer.from([0])]))),
      'response_malformed',
    );
    const longId = Buffer.concat([
      head(0x45),
      Buffer.alloc(16),
      Buffer.from([0x04, 0x00]),
      Buffer.alloc(1024),
    ]);
    assert.equal(
      refusalIn(() => readAuthenticatorData(longId)),
      'credential_id_too_long',
    );
    const idPastEnd = Buffer.concat([
      head(0x45),
      Buffer.alloc(16),
      Buffer.from([0x00, 0x40]),
      Buffer.alloc(8),
    ]);
    assert.equal(
      refusalIn(() => readAuthenticatorData(idPastEnd)),
      'response_malformed',
    );
    const hugeExtensions = Buffer.concat([head(0x85), Buffer.from([0xbb, 0, 0, 0, 1, 0, 0, 0, 0])]);
    assert.equal(
      refusalIn(() => readAuthenticatorData(hugeExtensions)),
      'response_malformed',
    );
  });

  it('reads the flags and the counter', () => {
    const data = readAuthenticatorData(head(0x1d));
    assert.deepEqual(data.flags, { up: true, uv: true, be: true, bs: true, at: false, ed: false });
    assert.equal(data.signCount, 1);
  });
});

describe('registration with a hostile attestation object', () => {
  const fmtNone = (authData: Uint8Array | number[]) => [
    0xa3,
    ...[0x63, ...Buffer.from('fmt'), 0x64, ...Buffer.from('none')],
    ...[0x67, ...Buffer.from('attStmt'), 0xa0],
    ...[0x68, ...Buffer.from('authData')],
    ...authData,
  ];

  it('refuses authData declaring a huge length, before decoding, and spends the challenge', async () => {
    const hostile = Uint8Array.from(fmtNone([0x5b, 0, 0, 0x10, 0, 0, 0, 0, 0, 1, 2, 3]));
    const { challengeId, response, real } = await withAttestationObject(hostile);
    await refused(
      h.ceremonies.finishRegistration(challengeId, response),
      'ERR_WEBAUTHN_REGISTRATION',
      'response_malformed',
    );
    await refused(
      h.ceremonies.finishRegistration(challengeId, real),
      'ERR_WEBAUTHN_CHALLENGE',
      'challenge_unknown',
    );
  });

  it('refuses trailing bytes after the attestation object', async () => {
    const user = await newUser(h.directory);
    const { challengeId, options } = await h.ceremonies.beginRegistration(user, {});
    const real = await new SoftAuthenticator().create(options, { origin: ORIGIN });
    const padded = Buffer.concat([
      Buffer.from(real.response.attestationObject, 'base64url'),
      Buffer.from([0]),
    ]);
    await refused(
      h.ceremonies.finishRegistration(challengeId, {
        ...real,
        response: { ...real.response, attestationObject: b64(padded) },
      }),
      'ERR_WEBAUTHN_REGISTRATION',
      'response_malformed',
    );
  });

  it('refuses an attestation object that is not a map of the expected fields', async () => {
    for (const junk of [[0x01], [0xa1, 0x61, 0x78, 0x01], fmtNone([0x01])]) {
      const { challengeId, response } = await withAttestationObject(Uint8Array.from(junk));
      await refused(
        h.ceremonies.finishRegistration(challengeId, response),
        'ERR_WEBAUTHN_REGISTRATION',
        'response_malformed',
      );
    }
  });

  it('refuses client data that is not UTF-8 JSON', async () => {
    for (const clientData of [
      Buffer.from([0xff, 0xfe, 0x7b]),
      Buffer.from('[1,2]'),
      Buffer.from('{"type":'),
    ]) {
      const { challengeId, real } = await withAttestationObject(new Uint8Array());
      await refused(
        h.ceremonies.finishRegistration(challengeId, {
          ...real,
          response: { ...real.response, clientDataJSON: b64(clientData) },
        }),
        'ERR_WEBAUTHN_REGISTRATION',
        'response_malformed',
      );
    }
  });
});

describe('response size and shape', () => {
  it('caps a request body before parsing it', () => {
    const oversized = `{"id":"${'A'.repeat(MAX_RESPONSE_BYTES)}"`; // not even valid JSON
    assert.equal(
      refusalOf(catching(() => parseRegistrationResponse(oversized))),
      'response_too_large',
    );
    assert.equal(
      refusalOf(catching(() => parseAuthenticationResponse(Buffer.from(oversized)))),
      'response_too_large',
    );
    assert.equal(
      refusalOf(catching(() => parseAuthenticationResponse('{"id":'))),
      'response_malformed',
    );
  });

  it('round-trips a real response through the body parser', async () => {
    const user = await newUser(h.directory);
    const key = new SoftAuthenticator();
    await register(h.ceremonies, user, key);
    const { challengeId, options } = await h.ceremonies.beginAuthentication({});
    const response = await key.get(options, { origin: ORIGIN });
    const parsed = parseAuthenticationResponse(JSON.stringify({ ...response, extra: 'dropped' }));
    assert.equal('extra' in parsed, false);
    const result = await h.ceremonies.finishAuthentication(challengeId, parsed);
    assert.equal(result.user.id, user.id);
  });

  it('refuses oversized and malformed fields in objects handed to the ceremony', async () => {
    const user = await newUser(h.directory);
    const key = new SoftAuthenticator();
    await register(h.ceremonies, user, key);
    const variants: [
      string,
      (r: Awaited<ReturnType<SoftAuthenticator['get']>>) => unknown,
      Refusal,
    ][] = [
      [
        'a 10 KB signature',
        (r) => ({ ...r, response: { ...r.response, signature: 'A'.repeat(10_000) } }),
        'response_too_large',
      ],
      [
        'a 100 KB response',
        (r) => ({ ...r, clientExtensionResults: { junk: 'A'.repeat(100_000) } }),
        'response_too_large',
      ],
      [
        'a non-base64url field',
        (r) => ({ ...r, response: { ...r.response, signature: 'a+b/c' } }),
        'response_malformed',
      ],
      ['id ≠ rawId', (r) => ({ ...r, rawId: 'AAAA' }), 'response_malformed'],
      ['a wrong type', (r) => ({ ...r, type: 'password' }), 'response_malformed'],
      ['no response', (r) => ({ ...r, response: null }), 'response_malformed'],
      [
        'a 65-byte user handle',
        (r) => ({ ...r, response: { ...r.response, userHandle: b64(Buffer.alloc(65)) } }),
        'response_too_large',
      ],
    ];
    for (const [name, mutate, reason] of variants) {
      const { challengeId, options } = await h.ceremonies.beginAuthentication({});
      const response = await key.get(options, { origin: ORIGIN });
      await refused(
        h.ceremonies.finishAuthentication(challengeId, mutate(response) as never),
        'ERR_WEBAUTHN_AUTHENTICATION',
        reason,
      ).catch((error: unknown) => assert.fail(`${name}: ${String(error)}`));
    }
  });
});

function catching(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return assert.fail('expected a throw');
}
