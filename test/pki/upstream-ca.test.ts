import assert from 'node:assert/strict';
import { X509Certificate as NodeX509, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';
import {
  generateUpstreamCa,
  initUpstreamCa,
  loadUpstreamCa,
  parseUpstreamCa,
  type UpstreamCaFiles,
} from '../../src/pki/upstream-ca.ts';
import { x509 } from '../../src/pki/x509.ts';
import { ManualClock } from '../../src/runtime/clock.ts';
import { createTestCa } from '../support/test-pki.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pgkey-ca-'));
});
after(() => rm(dir, { recursive: true, force: true }));

const filesIn = (name: string): UpstreamCaFiles => ({
  cert: join(dir, name, 'ca.pem'),
  key: join(dir, name, 'private', 'ca.key'),
});

/** Asserts a PgkeyError with this code whose message names `file`. */
function errorNaming(code: 'ERR_CONFIG' | 'ERR_FILE', file: string, pattern: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(isPgkeyError(error, code), `expected ${code}, got ${String(error)}`);
    assert.ok(error.message.includes(file), `message should name ${file}: ${error.message}`);
    assert.match(error.message, pattern);
    return true;
  };
}

void describe('upstream CA', () => {
  void it('creates a self-signed P-256 CA per RFC 5280 with a 10-year default', async () => {
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const { certPem, keyPem } = await generateUpstreamCa({ clock });
    const cert = new x509.X509Certificate(certPem);
    const node = new NodeX509(certPem);
    assert.equal(node.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.ok(node.checkPrivateKey(createPrivateKey(keyPem)));
    assert.ok(node.checkIssued(node) && node.verify(node.publicKey));
    assert.match(cert.subject, /^CN=pgkey upstream CA 2026-01-01 [0-9a-f]{6}$/);
    const bc = cert.getExtension(x509.BasicConstraintsExtension);
    assert.ok(bc?.ca === true && bc.critical);
    const ku = cert.getExtension(x509.KeyUsagesExtension);
    assert.equal(ku?.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    assert.ok(ku.critical);
    assert.ok(cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId);
    assert.equal(cert.notBefore.getTime(), clock.now() - 5 * 60_000);
    const years = (cert.notAfter.getTime() - clock.now()) / (365.25 * 24 * 3600_000);
    assert.ok(Math.abs(years - 10) < 0.01, `validity ${years} years`);
    assert.match(keyPem, /^-----BEGIN PRIVATE KEY-----/);
  });

  void it('writes the key 0600 and the certificate 0644, creating parent directories', async () => {
    const files = filesIn('init');
    const ca = await initUpstreamCa(files);
    assert.equal((await stat(files.key)).mode & 0o777, 0o600);
    assert.equal((await stat(files.cert)).mode & 0o777, 0o644);
    const loaded = await loadUpstreamCa(files);
    assert.equal(loaded.fingerprint, ca.fingerprint);
    assert.equal(
      loaded.keyId,
      ca.certificate.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId,
    );
  });

  void it('refuses to overwrite an existing CA unless forced', async () => {
    const files = filesIn('overwrite');
    const first = await initUpstreamCa(files);
    await assert.rejects(
      initUpstreamCa(files),
      errorNaming('ERR_FILE', files.key, /already exists/),
    );
    assert.equal((await loadUpstreamCa(files)).fingerprint, first.fingerprint);
    const second = await initUpstreamCa(files, { force: true });
    assert.notEqual(second.fingerprint, first.fingerprint);
    assert.equal((await stat(files.key)).mode & 0o777, 0o600);
  });

  void it('refuses a key file readable by group or others, like ssh', async () => {
    const files = filesIn('mode');
    await initUpstreamCa(files);
    for (const mode of [0o644, 0o640, 0o604, 0o660]) {
      await chmod(files.key, mode);
      await assert.rejects(loadUpstreamCa(files), (error: unknown) => {
        assert.ok(isPgkeyError(error, 'ERR_FILE'));
        assert.match(
          error.message,
          new RegExp(`permissions 0${mode.toString(8)} for '${files.key}' are too open`),
        );
        assert.equal(error.hint, `chmod 600 '${files.key}'`);
        return true;
      });
    }
    await chmod(files.key, 0o400);
    await loadUpstreamCa(files);
  });

  void it('names the missing file', async () => {
    const files = filesIn('missing');
    await assert.rejects(loadUpstreamCa(files), errorNaming('ERR_FILE', files.key, /no such file/));
  });

  void it('refuses a key that does not belong to the certificate', async () => {
    const files = filesIn('mismatch');
    await initUpstreamCa(files);
    const other = await generateUpstreamCa();
    await writeFile(files.key, other.keyPem);
    await assert.rejects(
      loadUpstreamCa(files),
      errorNaming('ERR_CONFIG', files.key, /does not match/),
    );
  });

  void it('refuses a certificate that is not a CA', async () => {
    const testCa = await createTestCa('some CA');
    const leaf = await testCa.issueClient('alice');
    const names = { cert: '/etc/pgkey/leaf.pem', key: '/etc/pgkey/leaf.key' };
    await assert.rejects(
      parseUpstreamCa(leaf, { names }),
      errorNaming('ERR_CONFIG', names.cert, /is not a CA certificate/),
    );
  });

  void it('refuses an expired CA and garbage PEM', async () => {
    const pem = await generateUpstreamCa({ validityMs: 3600_000 });
    const names = { cert: 'old.pem', key: 'old.key' };
    const later = new ManualClock(Date.now() + 2 * 3600_000);
    await assert.rejects(
      parseUpstreamCa(pem, { clock: later, names }),
      errorNaming('ERR_CONFIG', 'old.pem', /expired/),
    );
    await assert.rejects(
      parseUpstreamCa({ ...pem, certPem: 'nope' }, { names }),
      errorNaming('ERR_CONFIG', 'old.pem', /not a PEM/),
    );
    await assert.rejects(
      parseUpstreamCa({ ...pem, keyPem: 'nope' }, { names }),
      errorNaming('ERR_CONFIG', 'old.key', /not a PEM/),
    );
  });

  void it('refuses a CA key that is not P-256', async () => {
    const pem = await generateUpstreamCa();
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    });
    await assert.rejects(
      parseUpstreamCa({ ...pem, keyPem: p384.toString() }),
      /must be ECDSA P-256/,
    );
  });
});
