// The token attack matrix, reliability.md §7 B10–B18, against a jwks_file issuer and a fake
// clock. Every rejection asserts the exact code and reason, and that the client-visible text
// echoes no token bytes.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ErrorCode } from '../../src/errors/codes.ts';
import { PgkeyError } from '../../src/errors/pgkey-error.ts';
import { createTokenVerifier, type TokenVerifier } from '../../src/identity/token-verifier.ts';
import { ManualClock } from '../../src/runtime/clock.ts';
import { segment, TestIssuer, type IssuerInput } from '../support/token-issuer.ts';

const clock = new ManualClock(Date.UTC(2026, 0, 1));
const nowSec = (): number => Math.floor(clock.now() / 1000);
let dir: string;
let idp: TestIssuer;
let jwksFile: string;
let verifier: TokenVerifier;

async function verifierFor(overrides: Partial<IssuerInput> = {}): Promise<TokenVerifier> {
  return createTokenVerifier({
    issuers: [idp.issuerConfig({ jwks_file: jwksFile, ...overrides })],
    clock,
  });
}

async function rejects(
  token: string,
  code: ErrorCode,
  reason: string,
  v = verifier,
): Promise<PgkeyError> {
  let caught: unknown;
  await assert.rejects(v.verify(token), (error) => ((caught = error), true));
  assert.ok(caught instanceof PgkeyError, `expected PgkeyError, got ${String(caught)}`);
  assert.deepEqual({ code: caught.code, reason: caught.reason }, { code, reason });
  const [h = '', p = '', s = ''] = token.split('.');
  for (const part of [h, p, s].filter((x) => x.length >= 8)) {
    assert.ok(!caught.message.includes(part.slice(0, 8)), 'message must not echo token bytes');
  }
  // jose's own texts stay in `cause`.
  assert.doesNotMatch(
    caught.message,
    /Invalid Compact|JWS Protected|claim timestamp|verification failed|applicable key/,
  );
  return caught;
}

/** `rejects` for one-line tests (node:test wants a void result). */
async function refused(...args: Parameters<typeof rejects>): Promise<void> {
  await rejects(...args);
}

/** Hand-built compact JWS (the signer would refuse most of these headers). */
function forge(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  sig = 'c2lnbmF0dXJl',
): string {
  return `${segment(header)}.${segment(claims)}.${sig}`;
}

function claims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const iat = nowSec();
  return {
    iss: idp.issuer,
    sub: 'alice',
    aud: 'pgkey',
    iat,
    exp: iat + 300,
    acr: 'phrh',
    ...extra,
  };
}

function hs256(header: Record<string, unknown>, secret: string | Buffer): string {
  const input = `${segment({ alg: 'HS256', ...header })}.${segment(claims())}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pgkey-verifier-'));
  idp = await TestIssuer.create({ clock });
  jwksFile = await idp.writeJwksFile(dir);
  verifier = await verifierFor();
});
after(() => rm(dir, { recursive: true, force: true }));

void describe('accepted tokens', () => {
  void it('a builtin FIDO2 access token becomes an Identity', async () => {
    const id = await verifier.verify(await idp.humanToken({ groups: ['dba'], jti: 'j1' }));
    assert.equal(id.subject, 'alice');
    assert.equal(id.issuerName, 'test');
    assert.equal(id.issuer, idp.issuer);
    assert.equal(id.fido2, true);
    assert.deepEqual(id.groups, ['dba']);
    assert.equal(id.expiresAt, (nowSec() + 300) * 1000);
  });

  for (const alg of ['RS256', 'EdDSA'] as const) {
    void it(`verifies ${alg} issuers too`, async () => {
      const other = await TestIssuer.create({ alg, clock, issuer: `https://${alg}.test` });
      const file = await other.writeJwksFile(await mkdtemp(join(dir, alg)));
      const v = await createTokenVerifier({
        issuers: [other.issuerConfig({ jwks_file: file, algorithms: [alg] })],
        clock,
      });
      assert.equal((await v.verify(await other.humanToken())).fido2, true);
    });
  }
});

void describe('B10 algorithm: none, empty signature, missing alg', () => {
  void it('alg none with an empty signature', () =>
    refused(forge({ alg: 'none' }, claims(), ''), 'ERR_TOKEN_INVALID', 'token_alg_forbidden'));
  void it('alg NoNe with a signature', () =>
    refused(
      forge({ alg: 'NoNe', kid: idp.kid }, claims()),
      'ERR_TOKEN_INVALID',
      'token_alg_forbidden',
    ));
  void it('no alg at all', () =>
    refused(
      forge({ kid: idp.kid, typ: 'at+jwt' }, claims()),
      'ERR_TOKEN_INVALID',
      'token_alg_forbidden',
    ));
  void it('a real token with its signature removed', async () => {
    const [h, p] = (await idp.humanToken()).split('.');
    await rejects(`${h}.${p}.`, 'ERR_TOKEN_INVALID', 'token_signature_invalid');
  });
  void it('a real token with its payload altered', async () => {
    const [h, , s] = (await idp.humanToken()).split('.');
    await rejects(
      `${h}.${segment(claims({ sub: 'root' }))}.${s}`,
      'ERR_TOKEN_INVALID',
      'token_signature_invalid',
    );
  });
  void it('an algorithm the issuer does not allow', async () => {
    const v = await verifierFor({ algorithms: ['RS256'] });
    await rejects(await idp.humanToken(), 'ERR_TOKEN_INVALID', 'token_alg_forbidden', v);
  });
});

void describe('B11 HS256 keyed with our published key bytes', () => {
  void it('keyed with the SPKI PEM', () =>
    refused(hs256({ kid: idp.kid }, idp.publicKeyPem), 'ERR_TOKEN_INVALID', 'token_alg_forbidden'));
  void it('keyed with the exact JWK JSON', () =>
    refused(
      hs256({ kid: idp.kid }, JSON.stringify(idp.publicJwks.keys[0])),
      'ERR_TOKEN_INVALID',
      'token_alg_forbidden',
    ));
  void it('keyed with the exact jwks_file bytes', async () => {
    await rejects(
      hs256({ kid: idp.kid }, await readFile(jwksFile)),
      'ERR_TOKEN_INVALID',
      'token_alg_forbidden',
    );
  });
  void it('HS384/HS512 the same', () =>
    refused(
      forge({ alg: 'HS512', kid: idp.kid }, claims()),
      'ERR_TOKEN_INVALID',
      'token_alg_forbidden',
    ));
});

void describe('B13 hostile kid values are only map keys', () => {
  for (const kid of ['../../dev/null', "' OR 1=1--", '/etc/passwd', 'key-1\u0000']) {
    void it(`kid ${JSON.stringify(kid)} → unknown key`, async () => {
      await rejects(
        await idp.humanToken({}, { header: { kid } }),
        'ERR_TOKEN_INVALID',
        'token_key_unknown',
      );
    });
  }
  for (const [label, kid] of [
    ['10 KB', 'k'.repeat(10_240)],
    ['a number', 1],
    ['an object', { $ne: null }],
    ['an array', ['key-1']],
    ['empty', ''],
  ] as const) {
    void it(`kid ${label} → invalid kid`, async () => {
      await rejects(
        await idp.humanToken({}, { header: { kid } }),
        'ERR_TOKEN_INVALID',
        'token_kid_invalid',
      );
    });
  }
  void it('a key from another issuer under our kid does not verify', async () => {
    const impostor = await TestIssuer.create({ clock, issuer: idp.issuer, kid: idp.kid });
    await rejects(await impostor.humanToken(), 'ERR_TOKEN_INVALID', 'token_signature_invalid');
  });
});

void describe('B14 time claims with a fake clock (skew 60 s)', () => {
  void it('exp missing', async () => {
    const error = await rejects(
      await idp.humanToken({ exp: undefined }),
      'ERR_TOKEN_INVALID',
      'token_claims_invalid',
    );
    assert.equal(error.message, 'token rejected: missing exp claim');
  });
  void it('exp not a number', async () =>
    refused(
      await idp.humanToken({ exp: 'tomorrow' }),
      'ERR_TOKEN_INVALID',
      'token_claims_invalid',
    ));
  void it('exp within the skew is accepted; at and beyond the boundary rejected', async () => {
    const at = (exp: number) => idp.humanToken({ iat: nowSec() - 600, exp });
    assert.equal((await verifier.verify(await at(nowSec() - 59))).subject, 'alice');
    await rejects(await at(nowSec() - 60), 'ERR_TOKEN_EXPIRED', 'token_expired');
    await rejects(await at(nowSec() - 61), 'ERR_TOKEN_EXPIRED', 'token_expired');
  });
  void it('with zero skew, exp = now − 1 is expired', async () => {
    const v = await verifierFor({ clock_skew: '0s' });
    await rejects(
      await idp.humanToken({ exp: nowSec() - 1 }),
      'ERR_TOKEN_EXPIRED',
      'token_expired',
      v,
    );
  });
  void it('expiry follows the injected clock, not the wall clock', async () => {
    const token = await idp.humanToken();
    assert.ok(await verifier.verify(token));
    clock.advance(361_000);
    try {
      const error = await rejects(token, 'ERR_TOKEN_EXPIRED', 'token_expired');
      assert.equal(error.message, 'token rejected: expired');
    } finally {
      clock.advance(-361_000);
    }
  });
  void it('nbf beyond the skew is rejected, within it accepted', async () => {
    await rejects(
      await idp.humanToken({ nbf: nowSec() + 61 }),
      'ERR_TOKEN_INVALID',
      'token_not_yet_valid',
    );
    assert.ok(await verifier.verify(await idp.humanToken({ nbf: nowSec() + 60 })));
  });
  void it('iat in the future beyond the skew is rejected without max_token_age', async () => {
    await rejects(
      await idp.humanToken({ iat: nowSec() + 61 }),
      'ERR_TOKEN_INVALID',
      'token_not_yet_valid',
    );
    assert.ok(await verifier.verify(await idp.humanToken({ iat: nowSec() + 60 })));
  });
  void it('max_token_age: old iat rejected, iat required, future iat rejected', async () => {
    const v = await verifierFor({ max_token_age: '5m' });
    const issuedAgo = (s: number) => idp.humanToken({ iat: nowSec() - s, exp: nowSec() + 60 });
    assert.ok(await v.verify(await issuedAgo(300)));
    await rejects(await issuedAgo(400), 'ERR_TOKEN_INVALID', 'token_too_old', v);
    await rejects(
      await idp.humanToken({ iat: undefined }),
      'ERR_TOKEN_INVALID',
      'token_claims_invalid',
      v,
    );
    await rejects(
      await idp.humanToken({ iat: nowSec() + 120 }),
      'ERR_TOKEN_INVALID',
      'token_not_yet_valid',
      v,
    );
  });
});

void describe('B15 issuer, audience, subject, typ', () => {
  void it('an unknown iss', async () => {
    const stranger = await TestIssuer.create({ issuer: 'https://evil.example', clock });
    await rejects(await stranger.humanToken(), 'ERR_ISSUER_UNKNOWN', 'issuer_unknown');
  });
  void it('iss compared byte for byte (trailing slash)', async () => {
    await rejects(
      await idp.humanToken({ iss: `${idp.issuer}/` }),
      'ERR_ISSUER_UNKNOWN',
      'issuer_unknown',
    );
  });
  void it('iss missing or not a string', async () => {
    await rejects(
      await idp.humanToken({ iss: undefined }),
      'ERR_TOKEN_INVALID',
      'token_claims_invalid',
    );
    await rejects(
      await idp.humanToken({ iss: [idp.issuer] }),
      'ERR_TOKEN_INVALID',
      'token_claims_invalid',
    );
  });
  void it('aud missing', async () =>
    refused(await idp.humanToken({ aud: undefined }), 'ERR_TOKEN_INVALID', 'token_claims_invalid'));
  void it('aud not naming the gateway', async () => {
    const error = await rejects(
      await idp.humanToken({ aud: 'other-api' }),
      'ERR_TOKEN_INVALID',
      'token_audience_invalid',
    );
    assert.equal(error.message, 'token rejected: audience does not include pgkey');
  });
  void it('aud as a list, and configured audience lists, match on any member', async () => {
    assert.ok(await verifier.verify(await idp.humanToken({ aud: ['other', 'pgkey'] })));
    const v = await verifierFor({ audience: ['db-a', 'db-b'] });
    assert.ok(await v.verify(await idp.humanToken({ aud: 'db-b' })));
  });
  void it('sub missing', async () =>
    refused(await idp.humanToken({ sub: undefined }), 'ERR_TOKEN_INVALID', 'token_claims_invalid'));
  void it('builtin requires typ at+jwt: an ID token (typ JWT) or no typ is rejected', async () => {
    await rejects(
      await idp.humanToken({}, { header: { typ: 'JWT' } }),
      'ERR_TOKEN_INVALID',
      'token_typ_invalid',
    );
    await rejects(
      await idp.humanToken({}, { header: { typ: undefined } }),
      'ERR_TOKEN_INVALID',
      'token_typ_invalid',
    );
    assert.ok(
      await verifier.verify(await idp.humanToken({}, { header: { typ: 'application/at+jwt' } })),
    );
  });
  void it('other profiles check typ only when configured', async () => {
    const okta = await verifierFor({ profile: 'okta' });
    assert.ok(await okta.verify(await idp.sign({ amr: ['pop'] }, { header: { typ: 'JWT' } })));
    const strict = await verifierFor({ profile: 'okta', typ: 'at+jwt' });
    await rejects(
      await idp.sign({ amr: ['pop'] }, { header: { typ: 'JWT' } }),
      'ERR_TOKEN_INVALID',
      'token_typ_invalid',
      strict,
    );
  });
  void it('a token signed by one issuer but claiming another is refused', async () => {
    const other = await TestIssuer.create({ issuer: 'https://other.test', clock });
    const file = await other.writeJwksFile(await mkdtemp(join(dir, 'other')));
    const v = await createTokenVerifier({
      issuers: [
        idp.issuerConfig({ jwks_file: jwksFile }),
        other.issuerConfig({ name: 'other', jwks_file: file }),
      ],
      clock,
    });
    assert.equal((await v.verify(await other.humanToken())).issuerName, 'other');
    await rejects(
      await idp.humanToken({ iss: other.issuer }),
      'ERR_TOKEN_INVALID',
      'token_signature_invalid',
      v,
    );
  });
});

void describe('B16–B17 headers and layout refused before crypto', () => {
  const forbidden: [string, Record<string, unknown>][] = [
    ['crit [exp]', { crit: ['exp'] }],
    ['crit [b64] with b64 false', { crit: ['b64'], b64: false }],
    ['b64 false', { b64: false }],
    ['zip DEF', { zip: 'DEF' }],
    ['PBES2 p2c 1e9', { p2c: 1e9, p2s: 'c2FsdA' }],
    ['enc (a JWE header)', { enc: 'A256GCM' }],
  ];
  for (const [label, header] of forbidden) {
    void it(label, async () =>
      refused(await idp.humanToken({}, { header }), 'ERR_TOKEN_INVALID', 'token_header_forbidden'),
    );
  }
  void it('a five-segment JWE', () =>
    refused(
      `${segment({ alg: 'RSA-OAEP', enc: 'A256GCM' })}.a.b.c.d`,
      'ERR_TOKEN_INVALID',
      'token_malformed',
    ));
  for (const token of [
    '',
    'abc',
    'a.b',
    'a.b.c.d',
    'a b.c.d',
    '!!.??.**',
    `${segment([1])}.${segment({})}.c2ln`,
  ]) {
    void it(`malformed ${JSON.stringify(token.slice(0, 20))}`, () =>
      refused(token, 'ERR_TOKEN_INVALID', 'token_malformed'));
  }
  void it('a payload that is not JSON', async () => {
    const [h, , s] = (await idp.humanToken()).split('.');
    await rejects(
      `${h}.${Buffer.from('not json').toString('base64url')}.${s}`,
      'ERR_TOKEN_INVALID',
      'token_malformed',
    );
  });
  void it('tokens over 64 KiB are rejected; just under the cap still verify', async () => {
    await rejects('a'.repeat(65_537), 'ERR_TOKEN_INVALID', 'token_too_large');
    await rejects(
      await idp.humanToken({ pad: 'x'.repeat(50_000) }),
      'ERR_TOKEN_INVALID',
      'token_too_large',
    );
    let pad = 48_000;
    let token = await idp.humanToken({ pad: 'x'.repeat(pad) });
    while (token.length <= 65_536) token = await idp.humanToken({ pad: 'x'.repeat((pad += 1)) });
    token = await idp.humanToken({ pad: 'x'.repeat(pad - 1) });
    assert.ok(token.length <= 65_536 && token.length > 65_530);
    assert.ok(await verifier.verify(token));
  });
});

void describe('B18 FIDO2 evidence', () => {
  void it('a human token without phishing-resistant evidence', async () => {
    const error = await rejects(
      await idp.sign({ acr: 'urn:mfa', amr: ['pwd', 'otp'] }),
      'ERR_FIDO2_REQUIRED',
      'fido2_missing',
    );
    assert.match(error.hint ?? '', /security key or passkey/);
  });
  void it('a delegated token still needs the human FIDO2 evidence', async () => {
    await rejects(await idp.sign({ act: { sub: 'agent' } }), 'ERR_FIDO2_REQUIRED', 'fido2_missing');
    assert.equal(
      (await verifier.verify(await idp.humanToken({ act: { sub: 'agent' } }))).kind,
      'delegated',
    );
  });
  void it('a workload issuer needs none', async () => {
    const v = await verifierFor({ profile: 'workload' });
    const id = await v.verify(await idp.sign({ sub: 'repo:acme/app' }));
    assert.deepEqual([id.kind, id.fido2], ['workload', false]);
  });
});
