// Relying-party settings are checked at construction, with errors that name the setting
// (STYLE.md 7: fail fast; WebAuthn L3 §5.1.4.1, §13.4.9 for RP ID and origins).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PgkeyError } from '../../../src/errors/pgkey-error.ts';
import { checkWebAuthnSettings } from '../../../src/idp/webauthn/settings.ts';
import { webAuthnSettings } from './fixtures.ts';

function configError(settings: Parameters<typeof webAuthnSettings>[0], key: RegExp): void {
  assert.throws(
    () => checkWebAuthnSettings(webAuthnSettings(settings)),
    (error) =>
      error instanceof PgkeyError && error.code === 'ERR_CONFIG' && key.test(error.message),
  );
}

describe('WebAuthn settings', () => {
  it('accepts exact https origins within the RP ID, and http only for localhost', () => {
    const checked = checkWebAuthnSettings(
      webAuthnSettings({
        origins: ['https://pgkey.example.com', 'https://login.pgkey.example.com:8443'],
      }),
    );
    assert.equal(checked.aaguidAllowlist, undefined);
    checkWebAuthnSettings(
      webAuthnSettings({ rpId: 'localhost', origins: ['http://localhost:8080'] }),
    );
  });

  it('names the origin that is wrong', () => {
    configError(
      { origins: ['https://pgkey.example.com/login'] },
      /^webauthn\.origins\[0\]: .*scheme/,
    );
    configError({ origins: ['https://pgkey.example.com/'] }, /origins\[0\]/);
    configError({ origins: ['https://*.pgkey.example.com'] }, /origins\[0\]/);
    configError({ origins: [ORIGIN_OK, 'http://pgkey.example.com'] }, /origins\[1\]: .*https/);
    configError({ origins: ['https://pgkey.example.com.evil.test'] }, /not within the RP ID/);
    configError({ origins: ['https://notpgkey.example.com'] }, /not within the RP ID/);
    configError({ origins: [] }, /origins/);
  });

  it('refuses a bad RP ID, name or challenge lifetime', () => {
    configError({ rpId: 'https://pgkey.example.com' }, /rpId/);
    configError({ rpId: 'PGKEY.example.com' }, /rpId/);
    configError({ rpName: ' ' }, /rpName/);
    configError({ challengeTtlMs: 1000 }, /challengeTtlMs/);
    configError({ userVerification: 'discouraged' as never }, /userVerification/);
  });

  it('refuses a policy that could only be met by self-asserted data', () => {
    configError({ policy: { requireAttested: true } }, /policy\.requireAttested: .*direct/);
    configError(
      { policy: { attestation: 'direct', aaguids: ['cb69481e-8ff7-4039-93ec-0a2729a154a8'] } },
      /policy\.aaguids: .*requireAttested/,
    );
    const strict = { attestation: 'direct', requireAttested: true } as const;
    configError({ policy: { ...strict, aaguids: ['nope'] } }, /policy\.aaguids\[0\]/);
    configError(
      { policy: { ...strict, aaguids: ['00000000-0000-0000-0000-000000000000'] } },
      /policy\.aaguids\[0\]/,
    );
    configError({ policy: { ...strict, aaguids: [] } }, /policy\.aaguids/);
    configError({ policy: { trustedRoots: ['not a pem'] } }, /policy\.trustedRoots\[0\]/);
  });

  it('normalizes the AAGUID allowlist', () => {
    const checked = checkWebAuthnSettings(
      webAuthnSettings({
        policy: {
          attestation: 'direct',
          requireAttested: true,
          aaguids: [' CB69481E-8FF7-4039-93EC-0A2729A154A8 '],
        },
      }),
    );
    assert.deepEqual(
      [...(checked.aaguidAllowlist ?? [])],
      ['cb69481e-8ff7-4039-93ec-0a2729a154a8'],
    );
  });
});

const ORIGIN_OK = 'https://pgkey.example.com';
