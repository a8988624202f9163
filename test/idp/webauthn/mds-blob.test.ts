// FIDO MDS3 blob loading (fido-oidc.md §3.4): signature and chain to the configured root
// at an injected time, freshness, rollback, entry parsing; and the model-name lookup.
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { authenticatorName } from '../../../src/idp/webauthn/aaguid-names.ts';
import {
  GLOBALSIGN_ROOT_R3,
  loadMdsBlob,
  parseMdsBlob,
} from '../../../src/idp/webauthn/mds-blob.ts';
import { PgkeyError } from '../../../src/errors/pgkey-error.ts';
import { createTestMds, mdsEntry, type TestMds } from './mds-fixtures.ts';

const NOW = Date.UTC(2026, 5, 1);
const AAGUID = 'cb69481e-8ff7-4039-93ec-0a2729a154a8';
let mds: TestMds;
let dir: string;

const payload = (overrides: Record<string, unknown> = {}) => ({
  legalHeader: 'test',
  no: 42,
  nextUpdate: '2026-07-01',
  entries: [
    mdsEntry({ aaguid: AAGUID.toUpperCase(), description: 'YubiKey 5 Series', roots: ['AAAA'] }),
    mdsEntry({
      aaguid: 'fa2b99dc-9e39-4257-8f92-4a30d23c4118',
      statusReports: [{ status: 'REVOKED', effectiveDate: '2026-01-01' }],
    }),
    { aaid: '4e4e#4005', statusReports: [] }, // a UAF entry: no AAGUID, skipped
    'garbage',
  ],
  ...overrides,
});

async function rejectsWith(attempt: Promise<unknown>, code: string, detail: RegExp): Promise<void> {
  await assert.rejects(attempt, (error) => {
    assert.ok(error instanceof PgkeyError);
    assert.equal(error.code, code);
    assert.match(error.detail ?? '', detail);
    return true;
  });
}

before(async () => {
  mds = await createTestMds();
  dir = await mkdtemp(join(tmpdir(), 'pgkey-mds-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('MDS blob', () => {
  it('loads a blob signed under the trust root, from a file', async () => {
    const file = join(dir, 'blob.jwt');
    await writeFile(file, `${await mds.blob(payload())}\n`);
    const loaded = await loadMdsBlob(file, { now: NOW, trustRootPem: mds.rootPem });
    assert.equal(loaded.serial, 42);
    assert.equal(loaded.nextUpdate, '2026-07-01');
    assert.equal(loaded.stale, false);
    assert.deepEqual(loaded.warnings, []);
    assert.equal(loaded.entries.size, 2);
    const entry = loaded.entries.get(AAGUID);
    assert.equal(entry?.description, 'YubiKey 5 Series');
    assert.deepEqual(entry?.attestationRootCertificates, ['AAAA']);
    assert.deepEqual(loaded.entries.get('fa2b99dc-9e39-4257-8f92-4a30d23c4118')?.statusReports, [
      { status: 'REVOKED', effectiveDate: '2026-01-01' },
    ]);
  });

  it('refuses a blob that does not chain to the trust root', async () => {
    const blob = await mds.blob(payload());
    // By default the root is GlobalSign R3, which did not sign our test chain.
    await rejectsWith(parseMdsBlob(blob, { now: NOW }), 'ERR_CONFIG', /trust root/);
    await rejectsWith(
      parseMdsBlob(await mds.blob(payload(), { selfSigned: true }), {
        now: NOW,
        trustRootPem: mds.rootPem,
      }),
      'ERR_CONFIG',
      /trust root/,
    );
  });

  it('refuses a tampered payload', async () => {
    const [header, , signature] = (await mds.blob(payload())).split('.');
    const forged = Buffer.from(JSON.stringify(payload({ no: 43 }))).toString('base64url');
    await rejectsWith(
      parseMdsBlob(`${header}.${forged}.${signature}`, { now: NOW, trustRootPem: mds.rootPem }),
      'ERR_CONFIG',
      /signature/,
    );
  });

  it('refuses a chain that is not valid at the given time', async () => {
    const blob = await mds.blob(payload());
    await rejectsWith(
      parseMdsBlob(blob, { now: Date.UTC(2050, 0, 1), trustRootPem: mds.rootPem }),
      'ERR_CONFIG',
      /trust root/,
    );
  });

  it('refuses junk and a missing x5c', async () => {
    await rejectsWith(
      parseMdsBlob('not a jws', { now: NOW, trustRootPem: mds.rootPem }),
      'ERR_CONFIG',
      /not a JWS/,
    );
    const noX5c = `${Buffer.from('{"alg":"ES256"}').toString('base64url')}.e30.AAAA`;
    await rejectsWith(
      parseMdsBlob(noX5c, { now: NOW, trustRootPem: mds.rootPem }),
      'ERR_CONFIG',
      /x5c/,
    );
    const hs = `${Buffer.from('{"alg":"HS256","x5c":["AAAA"]}').toString('base64url')}.e30.AAAA`;
    await rejectsWith(
      parseMdsBlob(hs, { now: NOW, trustRootPem: mds.rootPem }),
      'ERR_CONFIG',
      /algorithm/,
    );
  });

  it('loads a blob past nextUpdate, marked stale with a warning', async () => {
    const loaded = await parseMdsBlob(await mds.blob(payload({ nextUpdate: '2026-05-31' })), {
      now: NOW,
      trustRootPem: mds.rootPem,
    });
    assert.equal(loaded.stale, true);
    assert.match(loaded.warnings[0] ?? '', /2026-05-31/);
    // Due by the end of that day, not its start.
    const sameDay = await parseMdsBlob(await mds.blob(payload({ nextUpdate: '2026-06-01' })), {
      now: NOW + 3600_000,
      trustRootPem: mds.rootPem,
    });
    assert.equal(sameDay.stale, false);
  });

  it('refuses a blob not newer than the one loaded before (rollback)', async () => {
    const blob = await mds.blob(payload({ no: 42 }));
    await rejectsWith(
      parseMdsBlob(blob, { now: NOW, trustRootPem: mds.rootPem, minSerial: 42 }),
      'ERR_CONFIG',
      /rollback/,
    );
    await parseMdsBlob(blob, { now: NOW, trustRootPem: mds.rootPem, minSerial: 41 });
  });

  it('refuses a payload without the MDS3 fields', async () => {
    for (const bad of [{ no: 'x' }, { nextUpdate: 'soon' }, { entries: {} }]) {
      await rejectsWith(
        parseMdsBlob(await mds.blob(payload(bad)), { now: NOW, trustRootPem: mds.rootPem }),
        'ERR_CONFIG',
        /`/,
      );
    }
  });

  it('embeds the real GlobalSign Root CA - R3', () => {
    const cert = new X509Certificate(GLOBALSIGN_ROOT_R3);
    const fingerprint = createHash('sha256').update(cert.raw).digest('hex').toUpperCase();
    assert.equal(fingerprint, 'CBB522D7B7F127AD6A0113865BDF1CD4102E7D0759AF635A7CF4720DC963C53B');
  });
});

describe('authenticator names', () => {
  it('prefers the MDS description, then the built-in table, then a generic name', async () => {
    const loaded = await parseMdsBlob(await mds.blob(payload()), {
      now: NOW,
      trustRootPem: mds.rootPem,
    });
    assert.equal(authenticatorName(AAGUID, loaded), 'YubiKey 5 Series');
    assert.equal(
      authenticatorName('ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4'),
      'Google Password Manager',
    );
    assert.equal(authenticatorName('FBFC3007-154E-4ECC-8C0B-6E020557D7BD'), 'iCloud Keychain');
    assert.equal(authenticatorName('08987058-cadc-4b81-b6e1-30de50dcbe96'), 'Windows Hello');
    assert.equal(authenticatorName('bada5566-a7aa-401f-bd96-45619a55120d'), '1Password');
    assert.equal(authenticatorName('d548826e-79b4-db40-a3d8-11116f7e8349'), 'Bitwarden');
    assert.equal(authenticatorName('adce0002-35bc-c60a-648b-0b25f1f05503'), 'Chrome on Mac');
    assert.equal(authenticatorName('00000000-0000-0000-0000-000000000000'), 'Security key');
    assert.equal(authenticatorName('12345678-1234-1234-1234-123456789abc'), 'Security key');
    assert.equal(authenticatorName('not a uuid'), 'Security key');
  });
});
