import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';
import {
  activateRotation,
  finishRotation,
  prepareRotation,
  rotationFiles,
  rotationStatus,
  trustBundlePem,
} from '../../src/pki/ca-rotation.ts';
import { initUpstreamCa, loadUpstreamCa, type UpstreamCaFiles } from '../../src/pki/upstream-ca.ts';
import { ManualClock } from '../../src/runtime/clock.ts';

let dir: string;
let count = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pgkey-rotation-'));
});
after(() => rm(dir, { recursive: true, force: true }));

async function freshCa(): Promise<UpstreamCaFiles> {
  const files = {
    cert: join(dir, `ca${++count}`, 'upstream-ca.pem'),
    key: join(dir, `ca${count}`, 'upstream-ca.key'),
  };
  await initUpstreamCa(files);
  return files;
}

/** Fingerprints of the certificates in a PEM bundle, in order. */
function fingerprints(bundle: string): string[] {
  const blocks = bundle.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((pem) => new X509Certificate(pem).fingerprint256);
}

function outOfOrder(pattern: RegExp) {
  return (error: unknown): boolean => {
    assert.ok(isPgkeyError(error, 'ERR_USAGE'), String(error));
    assert.equal(error.reason, 'rotation_out_of_order');
    assert.match(error.message, pattern);
    return true;
  };
}

void describe('upstream CA rotation', () => {
  void it('names its state files next to the CA files', () => {
    assert.deepEqual(
      rotationFiles({
        cert: '/etc/pgkey/upstream-ca.pem',
        key: '/etc/pgkey/private/upstream-ca.key',
      }),
      {
        nextCert: '/etc/pgkey/upstream-ca.next.pem',
        nextKey: '/etc/pgkey/private/upstream-ca.next.key',
        previousCert: '/etc/pgkey/upstream-ca.previous.pem',
        bundle: '/etc/pgkey/upstream-ca-bundle.pem',
      },
    );
    assert.equal(rotationFiles({ cert: '/x/ca', key: '/x/key' }).nextCert, '/x/ca.next.pem');
  });

  void it('walks prepare → activate → finish with the right trust bundle at each step', async () => {
    const files = await freshCa();
    const paths = rotationFiles(files);
    const old = await loadUpstreamCa(files);
    assert.equal((await rotationStatus(files)).step, 'idle');
    assert.deepEqual(fingerprints(await trustBundlePem(files)), [old.fingerprint]);

    const prepared = await prepareRotation(files);
    const next = await loadUpstreamCa({ cert: paths.nextCert, key: paths.nextKey });
    assert.notEqual(next.subject, old.subject); // distinct subjects keep issuer lookup unambiguous
    assert.equal(prepared.bundlePath, paths.bundle);
    assert.deepEqual(fingerprints(prepared.bundlePem), [old.fingerprint, next.fingerprint]);
    assert.equal(await readFile(paths.bundle, 'utf8'), prepared.bundlePem);
    assert.equal((await stat(paths.nextKey)).mode & 0o777, 0o600);
    const status = await rotationStatus(files);
    assert.equal(status.step, 'prepared');
    assert.equal(status.next?.fingerprint, next.fingerprint);
    assert.equal((await loadUpstreamCa(files)).fingerprint, old.fingerprint); // old still signs

    const activated = await activateRotation(files);
    assert.equal((await loadUpstreamCa(files)).fingerprint, next.fingerprint);
    assert.deepEqual(fingerprints(activated.bundlePem), [next.fingerprint, old.fingerprint]);
    assert.equal((await rotationStatus(files)).previous?.fingerprint, old.fingerprint);
    await assert.rejects(stat(paths.nextKey), { code: 'ENOENT' });
    assert.equal((await stat(files.key)).mode & 0o777, 0o600);

    const finished = await finishRotation(files);
    assert.deepEqual(fingerprints(finished.bundlePem), [next.fingerprint]);
    assert.deepEqual(fingerprints(await readFile(paths.bundle, 'utf8')), [next.fingerprint]);
    assert.equal((await rotationStatus(files)).step, 'idle');
    await prepareRotation(files); // and the next rotation may begin
  });

  void it('refuses every step out of order with the step that is due', async () => {
    const files = await freshCa();
    await assert.rejects(
      activateRotation(files),
      outOfOrder(/cannot activate .* first step is prepare/),
    );
    await assert.rejects(
      finishRotation(files),
      outOfOrder(/cannot finish .* first step is prepare/),
    );
    await prepareRotation(files);
    await assert.rejects(prepareRotation(files), outOfOrder(/cannot prepare .* then activate/));
    await assert.rejects(finishRotation(files), outOfOrder(/cannot finish .* then activate/));
    await activateRotation(files);
    await assert.rejects(prepareRotation(files), outOfOrder(/cannot prepare .* finish/));
    await assert.rejects(activateRotation(files), outOfOrder(/cannot activate .* finish/));
  });

  void it('resumes an activation interrupted between its renames', async () => {
    const files = await freshCa();
    const paths = rotationFiles(files);
    await prepareRotation(files);
    const next = await loadUpstreamCa({ cert: paths.nextCert, key: paths.nextKey });
    // Simulate a crash after "previous" was written and the key moved, before the cert moved.
    await copyFile(files.cert, paths.previousCert);
    await rename(paths.nextKey, files.key);
    assert.equal((await rotationStatus(files)).step, 'activating');
    await assert.rejects(loadUpstreamCa(files), /does not match/);
    await activateRotation(files);
    assert.equal((await loadUpstreamCa(files)).fingerprint, next.fingerprint);
    assert.equal((await rotationStatus(files)).step, 'activated');
  });

  void it('detects a half-written pending CA', async () => {
    const files = await freshCa();
    await prepareRotation(files);
    await unlink(rotationFiles(files).nextCert);
    await assert.rejects(
      rotationStatus(files),
      (error: unknown) =>
        isPgkeyError(error, 'ERR_FILE') && /incomplete pending CA/.test(error.message),
    );
  });

  void it('finish waits minAgeMs after activation when asked to', async () => {
    const files = await freshCa();
    await prepareRotation(files);
    await activateRotation(files);
    const clock = new ManualClock(Date.now());
    await assert.rejects(
      finishRotation(files, { clock, minAgeMs: 10 * 60_000 }),
      (error: unknown) => {
        assert.ok(isPgkeyError(error, 'ERR_USAGE'));
        assert.equal(error.reason, 'rotation_too_early');
        return true;
      },
    );
    clock.advance(10 * 60_000 + 1000);
    await finishRotation(files, { clock, minAgeMs: 10 * 60_000 });
  });
});
