// Key sources against a real loopback IdP (reliability.md §7 B12, C19, C20): lazy discovery,
// single-flight, cooldown, max age, stale-if-error, fail closed, and zero outbound requests for
// header-supplied keys. Ages follow a ManualClock; only the HTTP timeouts are real.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { pino } from 'pino';
import type { ErrorCode } from '../../src/errors/codes.ts';
import { PgkeyError } from '../../src/errors/pgkey-error.ts';
import { isSafeUrl } from '../../src/identity/issuer-keys.ts';
import { isLoopbackHost } from '../../src/runtime/loopback.ts';
import { createTokenVerifier, type TokenVerifier } from '../../src/identity/token-verifier.ts';
import { ManualClock } from '../../src/runtime/clock.ts';
import {
  TestIssuer,
  type FaultMode,
  type IssuerInput,
  type ServedIssuer,
} from '../support/token-issuer.ts';

let clock: ManualClock;
let idp: ServedIssuer;
let outcomes: string[];
let logLines: string[];
let fetchCalls: number;

async function verifierFor(
  overrides: Partial<IssuerInput> = {},
  target = idp,
): Promise<TokenVerifier> {
  const logger = pino({ level: 'warn' }, { write: (line: string) => void logLines.push(line) });
  return createTokenVerifier({
    issuers: [target.issuerConfig({ jwks_timeout: '300ms', ...overrides })],
    clock,
    logger,
    fetch: (input, init) => ((fetchCalls += 1), globalThis.fetch(input, init)),
    onKeyFetch: (name, outcome) => outcomes.push(`${name}:${outcome}`),
  });
}

async function rejects(
  v: TokenVerifier,
  token: string,
  code: ErrorCode,
  reason: string,
): Promise<void> {
  await assert.rejects(v.verify(token), (error) => {
    assert.ok(error instanceof PgkeyError);
    assert.deepEqual({ code: error.code, reason: error.reason }, { code, reason });
    return true;
  });
}

const token = (overrides: Record<string, unknown> = {}, kid?: string): Promise<string> =>
  idp.humanToken(overrides, kid === undefined ? {} : { header: { kid } });

beforeEach(async () => {
  clock = new ManualClock(Date.UTC(2026, 0, 1));
  idp = await TestIssuer.serve({ clock });
  outcomes = [];
  logLines = [];
  fetchCalls = 0;
});
afterEach(() => idp.close());

void describe('discovery and JWKS', () => {
  void it('fetches nothing at construction, then discovery + JWKS once on first use', async () => {
    const v = await verifierFor();
    assert.equal(idp.requests.total, 0);
    assert.equal((await v.verify(await token())).fido2, true);
    assert.deepEqual(idp.requests, { total: 2, discovery: 1, jwks: 1 });
    await v.verify(await token());
    assert.equal(idp.requests.total, 2);
    assert.deepEqual(outcomes, ['test:ok']);
  });

  void it('strips one trailing slash from the issuer before .well-known', async () => {
    await idp.close();
    idp = await TestIssuer.serve({ clock, path: '/realms/pgkey/' });
    assert.ok(idp.issuer.endsWith('/realms/pgkey/'));
    assert.ok(await (await verifierFor()).verify(await token()));
    assert.equal(idp.requests.discovery, 1);
  });

  void it('a configured jwks_uri skips discovery', async () => {
    const v = await verifierFor({ jwks_uri: idp.jwksUri });
    assert.ok(await v.verify(await token()));
    assert.deepEqual(idp.requests, { total: 1, discovery: 0, jwks: 1 });
  });

  void it('concurrent first use makes one fetch (single-flight)', async () => {
    const v = await verifierFor();
    const tokens = await Promise.all(Array.from({ length: 50 }, () => token()));
    await Promise.all(tokens.map((t) => v.verify(t)));
    assert.deepEqual(idp.requests, { total: 2, discovery: 1, jwks: 1 });
  });

  void it('refuses a discovery document naming another issuer', async () => {
    for (const advertised of ['https://evil.example', `${idp.issuer}/`]) {
      idp.discoveryIssuer = advertised;
      clock.advance(31_000);
      await rejects(await verifierFor(), await token(), 'ERR_KEYS_UNAVAILABLE', 'keys_unavailable');
    }
    assert.equal(idp.requests.jwks, 0);
    assert.match(logLines.join(''), /discovery_issuer_mismatch/);
  });

  void it('refuses a plain-http jwks_uri on a non-loopback host', async () => {
    idp.discoveryJwksUri = 'http://keys.example/jwks';
    await rejects(await verifierFor(), await token(), 'ERR_KEYS_UNAVAILABLE', 'keys_unavailable');
    assert.equal(idp.requests.jwks, 0);
  });
});

void describe('B12 header-supplied keys: rejected with zero outbound requests', () => {
  // CVE-2018-0114 shape: an attacker signs with its own key and names that key (or a URL for
  // it) in the header. `jku`/`x5u` point at the trusted issuer's JWKS, so any fetch is counted.
  const headers: [string, (attacker: TestIssuer) => unknown][] = [
    ['jwk', (attacker) => attacker.publicJwks.keys[0]],
    ['jku', () => idp.jwksUri],
    ['x5u', () => idp.jwksUri],
    ['x5c', (attacker) => [Buffer.from(attacker.publicKeyPem).toString('base64')]],
  ];
  for (const [name, value] of headers) {
    void it(name, async () => {
      const v = await verifierFor();
      const attacker = await TestIssuer.create({ issuer: idp.issuer, kid: 'attacker', clock });
      const forged = await attacker.humanToken({}, { header: { [name]: value(attacker) } });
      await rejects(v, forged, 'ERR_TOKEN_INVALID', 'token_header_forbidden');
      assert.equal(idp.requests.total, 0);
      assert.equal(fetchCalls, 0);
    });
  }
});

void describe('C19 cooldown, rotation and max age', () => {
  void it('1000 random unknown kids cost at most one refetch', async () => {
    const v = await verifierFor();
    await v.verify(await token());
    clock.advance(31_000); // past the cooldown: exactly one refetch is allowed
    const forged = await Promise.all(Array.from({ length: 1000 }, () => token({}, randomUUID())));
    const results = await Promise.allSettled(forged.map((t) => v.verify(t)));
    assert.ok(
      results.every(
        (r) => r.status === 'rejected' && (r.reason as PgkeyError).reason === 'token_key_unknown',
      ),
    );
    for (const t of forged.slice(0, 100))
      await rejects(v, t, 'ERR_TOKEN_INVALID', 'token_key_unknown');
    assert.equal(idp.requests.jwks, 2);
  });

  void it('unknown kids right after a fetch cause no refetch at all', async () => {
    const v = await verifierFor();
    await v.verify(await token());
    for (const kid of ['../../dev/null', "' OR 1=1--", randomUUID()]) {
      await rejects(v, await token({}, kid), 'ERR_TOKEN_INVALID', 'token_key_unknown');
    }
    assert.equal(idp.requests.jwks, 1);
  });

  void it('a rotated-in key is accepted once the cooldown has passed', async () => {
    const v = await verifierFor();
    await v.verify(await token());
    await idp.rotate();
    const rotated = await idp.humanToken({}, { key: 'rotated' });
    clock.advance(10_000);
    await rejects(v, rotated, 'ERR_TOKEN_INVALID', 'token_key_unknown');
    assert.equal(idp.requests.jwks, 1);
    clock.advance(21_000);
    assert.ok(await v.verify(await idp.humanToken({}, { key: 'rotated' })));
    assert.equal(idp.requests.jwks, 2);
  });

  void it('a removed key keeps working until the cache max age, then is rejected', async () => {
    const v = await verifierFor();
    await v.verify(await token());
    await idp.rotate();
    idp.removeKey(idp.kid);
    clock.advance(9 * 60_000);
    assert.ok(await v.verify(await token()));
    clock.advance(60_000);
    await rejects(v, await token(), 'ERR_TOKEN_INVALID', 'token_key_unknown');
    assert.equal(idp.requests.jwks, 2);
  });
});

void describe('C20 JWKS faults', () => {
  const faults: FaultMode[] = [
    '500',
    'timeout',
    'invalid-json',
    'duplicate-kid',
    'oversize',
    'redirect',
  ];
  for (const mode of faults) {
    void it(`${mode} with nothing cached fails closed, backs off, then recovers`, async () => {
      idp.mode = mode;
      const v = await verifierFor();
      await rejects(v, await token(), 'ERR_KEYS_UNAVAILABLE', 'keys_unavailable');
      await rejects(v, await token(), 'ERR_KEYS_UNAVAILABLE', 'keys_unavailable');
      assert.equal(idp.requests.jwks, 1, 'no second fetch within the cooldown');
      assert.deepEqual(outcomes, ['test:error']);
      idp.mode = 'ok';
      clock.advance(30_000);
      assert.ok(await v.verify(await token()));
      assert.deepEqual(outcomes, ['test:error', 'test:ok']);
    });

    void it(`${mode} with keys cached keeps using them (stale-if-error)`, async () => {
      const v = await verifierFor();
      await v.verify(await token());
      idp.mode = mode;
      clock.advance(11 * 60_000);
      assert.ok(await v.verify(await token()));
      assert.ok(await v.verify(await token()));
      assert.equal(idp.requests.jwks, 2);
      assert.deepEqual(outcomes, ['test:ok', 'test:stale']);
      assert.match(logLines.join(''), /still using the keys fetched earlier/);
      await rejects(v, await token({}, 'unknown'), 'ERR_TOKEN_INVALID', 'token_key_unknown');
    });
  }

  for (const mode of ['500', 'timeout', 'invalid-json', 'redirect'] as const) {
    void it(`discovery ${mode} fails closed`, async () => {
      idp.discoveryMode = mode;
      await rejects(await verifierFor(), await token(), 'ERR_KEYS_UNAVAILABLE', 'keys_unavailable');
      assert.equal(idp.requests.jwks, 0);
    });
  }

  void it('an unreachable IdP fails closed and the process stays up', async () => {
    const v = await verifierFor({ jwks_uri: 'http://127.0.0.1:9/jwks' });
    await rejects(v, await token(), 'ERR_KEYS_UNAVAILABLE', 'keys_unavailable');
    assert.match(logLines.join(''), /jwks_unreachable/);
  });
});

void describe('jwks_file issuers and configuration', () => {
  let dir: string;
  before(async () => void (dir = await mkdtemp(join(tmpdir(), 'pgkey-keys-'))));
  after(() => rm(dir, { recursive: true, force: true }));

  void it('never touch the network, even for unknown kids', async () => {
    const file = await idp.writeJwksFile(dir);
    const v = await verifierFor({ jwks_file: file });
    assert.ok(await v.verify(await token()));
    await rejects(v, await token({}, 'rotated-later'), 'ERR_TOKEN_INVALID', 'token_key_unknown');
    assert.deepEqual([idp.requests.total, fetchCalls], [0, 0]);
  });

  const bad: [string, string][] = [
    ['not JSON', '{"keys": ['],
    ['no keys array', '{"key": []}'],
    ['no keys at all', '{"keys": []}'],
    ['a key without kty', '{"keys": [{"kid": "a"}]}'],
    [
      'a private key',
      JSON.stringify({ keys: [{ kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA', d: 'AA' }] }),
    ],
    ['a symmetric key', JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] })],
    [
      'duplicate kids',
      JSON.stringify({
        keys: [
          { kty: 'OKP', kid: 'a' },
          { kty: 'EC', kid: 'a' },
        ],
      }),
    ],
  ];
  for (const [label, content] of bad) {
    void it(`fail fast with ERR_CONFIG naming issuer and file: ${label}`, async () => {
      const file = join(dir, `${label.replaceAll(' ', '-')}.json`);
      await writeFile(file, content);
      await assert.rejects(verifierFor({ jwks_file: file }), (error) => {
        assert.ok(error instanceof PgkeyError && error.code === 'ERR_CONFIG');
        assert.ok(error.message.includes('"test"') && error.message.includes(file), error.message);
        return true;
      });
    });
  }

  void it('a missing file is ERR_CONFIG too', async () => {
    await assert.rejects(verifierFor({ jwks_file: join(dir, 'absent.json') }), {
      code: 'ERR_CONFIG',
      reason: 'jwks_file_invalid',
    });
  });

  void it('refuses plain-http discovery off loopback and duplicate issuers', async () => {
    const remote = await TestIssuer.create({ issuer: 'http://idp.example' });
    const clockOnly = { clock };
    await assert.rejects(createTokenVerifier({ issuers: [remote.issuerConfig()], ...clockOnly }), {
      code: 'ERR_CONFIG',
      reason: 'issuer_url_insecure',
    });
    await assert.rejects(verifierFor({ jwks_uri: 'http://keys.example/jwks' }), {
      code: 'ERR_CONFIG',
      reason: 'issuer_url_insecure',
    });
    const twice = [idp.issuerConfig(), idp.issuerConfig({ name: 'again' })];
    await assert.rejects(createTokenVerifier({ issuers: twice, ...clockOnly }), {
      code: 'ERR_CONFIG',
      reason: 'issuer_duplicate',
    });
  });

  void it('refuses HMAC algorithms that bypassed the schema', async () => {
    const config = { ...idp.issuerConfig(), algorithms: ['HS256'] } as unknown as ReturnType<
      typeof idp.issuerConfig
    >;
    await assert.rejects(createTokenVerifier({ issuers: [config], clock }), {
      code: 'ERR_CONFIG',
      reason: 'issuer_algorithm_invalid',
    });
  });

  void it('loopback means 127.0.0.0/8, ::1 and localhost only', () => {
    for (const host of ['127.0.0.1', '127.8.9.10', '[::1]', '::1', 'localhost'])
      assert.ok(isLoopbackHost(host), host);
    for (const host of [
      '128.0.0.1',
      'localhost.evil.example',
      '[::ffff:127.0.0.1]',
      '10.0.0.1',
      '0.0.0.0',
    ]) {
      assert.ok(!isLoopbackHost(host), host);
    }
    assert.ok(isSafeUrl('https://idp.example/jwks') && isSafeUrl('http://127.0.0.1:8080/jwks'));
    assert.ok(
      !isSafeUrl('http://idp.example/jwks') &&
        !isSafeUrl('https://u:p@idp.example') &&
        !isSafeUrl('file:///etc/passwd'),
    );
  });
});
