import { readFile } from 'node:fs/promises';
import type { IdpConfig } from '../config/schema.ts';
import { PgkeyError } from '../errors/pgkey-error.ts';
import { idpSettings } from '../idp/provider/settings.ts';
import { loadMdsBlob } from '../idp/webauthn/mds-blob.ts';
import { DEFAULT_CHALLENGE_TTL_MS, type WebAuthnSettings } from '../idp/webauthn/settings.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Logger } from '../runtime/logger.ts';

/** The WebAuthn relying-party settings that `idp:` in the config describes. */
export async function webauthnSettings(
  config: IdpConfig,
  clock: Clock,
  logger: Logger,
): Promise<WebAuthnSettings> {
  const { rpId, origins } = idpSettings(config);
  const a = config.authenticators;
  const trustedRoots =
    a?.trusted_roots === undefined
      ? []
      : splitPem(await readText(a.trusted_roots, 'idp.authenticators.trusted_roots'));
  const mds =
    a?.mds_blob === undefined ? undefined : await loadMdsBlob(a.mds_blob, { now: clock.now() });
  for (const warning of mds?.warnings ?? []) logger.warn({ mds_blob: a?.mds_blob }, warning);
  return {
    rpId,
    rpName: config.rp_name,
    origins,
    userVerification: config.user_verification,
    challengeTtlMs: DEFAULT_CHALLENGE_TTL_MS,
    policy: {
      attestation: a?.attestation ?? 'none',
      requireAttested: a?.require_attested ?? false,
      aaguids: a?.aaguids,
      trustedRoots,
      mds,
    },
  };
}

function splitPem(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

async function readText(file: string, key: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new PgkeyError('ERR_CONFIG', { message: `${key}: cannot read ${file}`, cause: error });
  }
}
