import assert from 'node:assert/strict';
import { X509Certificate as NodeX509, createPrivateKey, createPublicKey } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';
import { ClientCertIssuer, type ClientCredential } from '../../src/pki/client-cert-issuer.ts';
import { generateUpstreamCa, parseUpstreamCa, type UpstreamCa } from '../../src/pki/upstream-ca.ts';
import { x509 } from '../../src/pki/x509.ts';
import { ManualClock } from '../../src/runtime/clock.ts';
import { cryptoRandom, type Random } from '../../src/runtime/random.ts';

const MINUTE = 60_000;
const START = Date.UTC(2026, 0, 1, 12);
let ca: UpstreamCa;
let otherCa: UpstreamCa;
before(async () => {
  const clock = new ManualClock(START - 3600_000);
  ca = await parseUpstreamCa(await generateUpstreamCa({ clock }), { clock });
  otherCa = await parseUpstreamCa(await generateUpstreamCa({ clock }), { clock });
});

/** Counts serial numbers drawn: one per certificate issued. */
function countingRandom(): Random & { issued: number } {
  const random = {
    issued: 0,
    bytes(length: number) {
      if (length === 16) random.issued++;
      return cryptoRandom.bytes(length);
    },
    int: (min: number, max: number) => cryptoRandom.int(min, max),
  };
  return random;
}

function setup(ttlMs = 10 * MINUTE) {
  const clock = new ManualClock(START);
  const random = countingRandom();
  const issuer = new ClientCertIssuer({ ca, ttlMs, clock, random });
  return { clock, random, issuer };
}

const parse = (credential: ClientCredential) => new x509.X509Certificate(credential.cert);

void describe('ClientCertIssuer', () => {
  void it('issues a P-256 leaf for PostgreSQL cert auth with the RFC 5280 fields', async () => {
    const { issuer, clock } = setup();
    const credential = await issuer.credentialFor('alice');
    const cert = parse(credential);
    const node = new NodeX509(credential.cert);
    assert.deepEqual(cert.subjectName.toJSON(), [{ CN: ['alice'] }]);
    assert.equal(cert.issuer, ca.subject);
    assert.ok(
      node.checkIssued(new NodeX509(ca.certPem)) && node.verify(new NodeX509(ca.certPem).publicKey),
    );
    assert.ok(node.checkPrivateKey(createPrivateKey(credential.key)));
    assert.match(credential.key, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.equal(node.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    // Serial: positive, at least 64 random bits (RFC 5280 §4.1.2.2, CA/B BR 7.1).
    assert.ok(cert.serialNumber.length >= 16 && parseInt(cert.serialNumber.slice(0, 1), 16) < 8);
    assert.equal(cert.notBefore.getTime(), clock.now() - 5 * MINUTE);
    assert.equal(cert.notAfter.getTime(), clock.now() + 10 * MINUTE);
    assert.equal(credential.notAfter, clock.now() + 10 * MINUTE);
    const bc = cert.getExtension(x509.BasicConstraintsExtension);
    assert.ok(bc !== null && !bc.ca && bc.critical);
    const ku = cert.getExtension(x509.KeyUsagesExtension);
    assert.ok(ku?.usages === x509.KeyUsageFlags.digitalSignature && ku.critical);
    assert.deepEqual(
      [...(cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? [])],
      [x509.ExtendedKeyUsage.clientAuth],
    );
    assert.equal(cert.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId, ca.keyId);
    const serials = new Set([
      cert.serialNumber,
      parse(await setup().issuer.credentialFor('alice')).serialNumber,
    ]);
    assert.equal(serials.size, 2);
  });

  void it('puts hostile role names into one UTF8String CN, never parsing them as a DN', async () => {
    const { issuer } = setup();
    const hostile = [
      'a,b',
      '"x"',
      'CN=evil',
      'x+CN=root',
      'ß漢字',
      '#41',
      ' lead',
      'new\nline',
      "o'brien\\",
    ];
    for (const role of hostile) {
      const cert = parse(await issuer.credentialFor(role));
      assert.deepEqual(cert.subjectName.toJSON(), [{ CN: [role] }], role);
      const bytes = Buffer.from(role, 'utf8');
      const utf8String = Buffer.concat([Buffer.from([0x0c, bytes.length]), bytes]); // tag 12
      assert.ok(Buffer.from(cert.rawData).includes(utf8String), `${role} is a UTF8String`);
    }
  });

  void it('accepts 63-byte role names and refuses 64 bytes, empty, NUL and lone surrogates', async () => {
    const { issuer } = setup();
    const ok = ['r'.repeat(63), '漢'.repeat(21)]; // 63 bytes each
    for (const role of ok)
      assert.deepEqual(parse(await issuer.credentialFor(role)).subjectName.toJSON(), [
        { CN: [role] },
      ]);
    for (const role of ['r'.repeat(64), '漢'.repeat(21) + 'x', '', 'a\0b', 'a\ud800']) {
      await assert.rejects(issuer.credentialFor(role), (error: unknown) => {
        assert.ok(isPgkeyError(error, 'ERR_ACCESS_DENIED'));
        assert.equal(error.reason, 'role_name_invalid');
        return true;
      });
    }
  });

  void it('reuses the cached credential until a third of the TTL remains', async () => {
    const { issuer, clock, random } = setup(10 * MINUTE);
    const first = await issuer.credentialFor('alice');
    clock.advance(6 * MINUTE);
    assert.equal(await issuer.credentialFor('alice'), first);
    clock.advance(40_000); // 3m20s left: exactly a third, still fine
    assert.equal(await issuer.credentialFor('alice'), first);
    clock.advance(1000);
    const second = await issuer.credentialFor('alice');
    assert.notEqual(second, first);
    assert.equal(second.notAfter, clock.now() + 10 * MINUTE);
    assert.equal(await issuer.credentialFor('alice'), second);
    assert.notEqual(await issuer.credentialFor('bob'), second);
    assert.equal(random.issued, 3);
  });

  void it('renews with under 60 s left even when a third of the TTL is less', async () => {
    const { issuer, clock } = setup(90_000);
    const first = await issuer.credentialFor('alice');
    clock.advance(30_000); // 60 s left
    assert.equal(await issuer.credentialFor('alice'), first);
    clock.advance(1000);
    assert.notEqual(await issuer.credentialFor('alice'), first);
  });

  void it('shares one issuance between concurrent callers for a role (single flight)', async () => {
    const { issuer, random } = setup();
    const results = await Promise.all(
      Array.from({ length: 50 }, () => issuer.credentialFor('alice')),
    );
    assert.ok(results.every((credential) => credential === results[0]));
    assert.equal(random.issued, 1);
    const [a, b] = await Promise.all([issuer.credentialFor('x'), issuer.credentialFor('y')]);
    assert.notEqual(a, b);
    assert.equal(random.issued, 3);
  });

  void it('setCa drops the cache and never caches an issuance started under the old CA', async () => {
    const { issuer } = setup();
    const cached = await issuer.credentialFor('alice');
    const inflight = issuer.credentialFor('bob');
    issuer.setCa(otherCa);
    assert.equal(parse(await inflight).issuer, ca.subject); // its caller still gets it
    const bob = await issuer.credentialFor('bob');
    const alice = await issuer.credentialFor('alice');
    assert.notEqual(alice, cached);
    for (const credential of [alice, bob]) {
      assert.equal(parse(credential).issuer, otherCa.subject);
      assert.ok(new NodeX509(credential.cert).verify(new NodeX509(otherCa.certPem).publicKey));
    }
  });

  void it('rejects every waiter of a failed issuance with ERR_INTERNAL and caches nothing', async () => {
    const { issuer, random } = setup();
    const verifyOnly = createPublicKey(ca.certPem).toCryptoKey(
      { name: 'ECDSA', namedCurve: 'P-256' },
      true,
      ['verify'],
    );
    issuer.setCa({ ...ca, signingKey: verifyOnly });
    const results = await Promise.allSettled([
      issuer.credentialFor('alice'),
      issuer.credentialFor('alice'),
    ]);
    for (const result of results) {
      assert.ok(result.status === 'rejected' && isPgkeyError(result.reason, 'ERR_INTERNAL'));
    }
    assert.equal(random.issued, 1);
    issuer.setCa(ca);
    assert.equal(parse(await issuer.credentialFor('alice')).issuer, ca.subject);
  });

  void it('refuses a TTL outside 1 minute to 24 hours', () => {
    for (const ttlMs of [0, 59_999, 24 * 3600_000 + 1, Number.NaN, 1.5 * MINUTE + 0.5]) {
      assert.throws(
        () => new ClientCertIssuer({ ca, ttlMs, clock: new ManualClock() }),
        (error: unknown) => isPgkeyError(error, 'ERR_CONFIG'),
      );
    }
  });
});
