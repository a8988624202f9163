/**
 * The registration ceremony (WebAuthn L3 §7.1 "Registering a New Credential"). Our own
 * checks run first, on bytes we bounded ourselves; SimpleWebAuthn then verifies the
 * attestation statement; trust, policy and storage are ours again.
 */
import {
  generateRegistrationOptions,
  verifyRegistrationResponse,
  type PublicKeyCredentialCreationOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { decodeAttestationObject } from '@simplewebauthn/server/helpers';
import { isPgkeyError } from '../../errors/pgkey-error.ts';
import type { Credential, User } from '../../store/directory.ts';
import { authenticatorName } from './aaguid-names.ts';
import { readAuthenticatorData, rpIdHashMatches } from './authenticator-data.ts';
import { assessAttestation, enforceRegistrationPolicy } from './authenticator-policy.ts';
import { assertSingleCborItem } from './cbor-guard.ts';
import {
  CHALLENGE_PURPOSE,
  newChallenge,
  storeChallenge,
  takeChallenge,
  type CeremonyContext,
} from './challenges.ts';
import { checkClientData } from './client-data.ts';
import { refuse, registrationError } from './refusal.ts';
import { checkRegistrationResponse } from './response-shape.ts';
import { userHandleOf } from './user-handle.ts';

/** ES256, RS256, EdDSA — what authenticators in the field produce (COSE registry). */
export const SUPPORTED_ALGORITHM_IDS: readonly number[] = [-7, -257, -8];
const MAX_NAME_LENGTH = 64;

export interface RegistrationStart {
  readonly challengeId: string;
  readonly options: PublicKeyCredentialCreationOptionsJSON;
}

export interface RegistrationResult {
  readonly credential: Credential;
  readonly data: Readonly<Record<string, string>>;
}

export async function beginRegistration(
  ctx: CeremonyContext,
  user: User,
  data: Readonly<Record<string, string>>,
): Promise<RegistrationStart> {
  try {
    if (user.disabled) refuse('user_disabled');
    const { settings } = ctx;
    // Every key the user already has, revoked ones too: the authenticator then declines
    // to make a second credential instead of producing an id we would refuse (§5.4.3).
    const existing = await ctx.directory.credentials.listByUser(user.id);
    const issued = newChallenge(ctx);
    const options = await generateRegistrationOptions({
      rpName: settings.rpName,
      rpID: settings.rpId,
      userName: user.email,
      userID: userHandleOf(user.id),
      userDisplayName: user.displayName,
      challenge: issued.bytes,
      timeout: settings.challengeTtlMs,
      attestationType: settings.policy.attestation,
      excludeCredentials: existing.map((c) => ({ id: c.id, transports: [...c.transports] })),
      authenticatorSelection: {
        residentKey: 'preferred',
        requireResidentKey: false,
        userVerification: settings.userVerification,
      },
      supportedAlgorithmIDs: [...SUPPORTED_ALGORITHM_IDS],
    });
    await storeChallenge(ctx, issued, CHALLENGE_PURPOSE.registration, user.id, data);
    return { challengeId: issued.id, options };
  } catch (error) {
    throw registrationError(error);
  }
}

export async function finishRegistration(
  ctx: CeremonyContext,
  challengeId: string,
  input: RegistrationResponseJSON,
  options: { readonly name?: string } = {},
): Promise<RegistrationResult> {
  try {
    // Taken before anything else: whatever happens next, this challenge is spent.
    const challenge = await takeChallenge(ctx, challengeId, CHALLENGE_PURPOSE.registration);
    const { settings, clock, directory } = ctx;
    const response = checkRegistrationResponse(input);
    checkClientData(response.response.clientDataJSON, {
      type: 'webauthn.create',
      challenge: challenge.challenge,
      origins: settings.origins,
    });

    // §7.1 step 12, on bounded bytes.
    const attestationObject = Buffer.from(response.response.attestationObject, 'base64url');
    assertSingleCborItem(attestationObject);
    const authData = readAuthenticatorData(authDataOf(attestationObject));
    if (!rpIdHashMatches(authData, settings.rpId)) refuse('rp_id_mismatch'); // step 13
    if (!authData.flags.up) refuse('user_not_present'); // step 14
    const uvRequired = settings.userVerification === 'required';
    if (uvRequired && !authData.flags.uv) refuse('user_not_verified'); // step 15
    if (!authData.flags.be && authData.flags.bs) refuse('backup_flags_invalid'); // step 16
    const attested = authData.attested;
    if (attested === undefined) refuse('response_malformed');
    if (Buffer.from(attested.credentialId).toString('base64url') !== response.id) {
      refuse('credential_id_mismatch');
    }

    // Steps 19–22: algorithm, format and the statement's signature, by the library. The
    // RP ID is always passed: without it the library skips the rpIdHash check. Its
    // process-wide MetadataService and SettingsService stay at their defaults (MDS off, no
    // packed roots): trust is decided per instance below, not by global state.
    let verified: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
    try {
      verified = await verifyRegistrationResponse({
        response,
        expectedChallenge: challenge.challenge,
        expectedOrigin: [...settings.origins],
        expectedRPID: settings.rpId,
        expectedType: 'webauthn.create',
        requireUserPresence: true,
        requireUserVerification: uvRequired,
        supportedAlgorithmIDs: [...SUPPORTED_ALGORITHM_IDS],
      });
    } catch (error) {
      return refuse('attestation_invalid', error);
    }
    if (!verified.verified) refuse('attestation_invalid');

    const user =
      challenge.userId === undefined ? undefined : await directory.users.get(challenge.userId);
    if (user === undefined) refuse('user_unknown');
    if (user.disabled) refuse('user_disabled');

    // Steps 23–24: trust and policy.
    const now = clock.now();
    const assessment = await assessAttestation(attestationObject, attested.aaguid, settings, now);
    enforceRegistrationPolicy(settings, attested.aaguid, assessment, now);

    // Step 26–27: the store's unique constraint decides, atomically (D25).
    try {
      const credential = await directory.credentials.add({
        id: response.id,
        userId: user.id,
        publicKey: Uint8Array.from(attested.publicKey),
        signCount: authData.signCount,
        transports: response.response.transports ?? [],
        aaguid: attested.aaguid,
        backupEligible: authData.flags.be,
        backupState: authData.flags.bs,
        attestationFormat: assessment.format,
        attested: assessment.trust === 'trusted',
        name: cleanName(options.name) ?? authenticatorName(attested.aaguid, settings.policy.mds),
        createdAt: now,
      });
      return { credential, data: challenge.data };
    } catch (error) {
      if (isPgkeyError(error, 'ERR_CONFLICT')) refuse('credential_exists', error);
      throw error;
    }
  } catch (error) {
    throw registrationError(error);
  }
}

function authDataOf(attestationObject: Uint8Array<ArrayBuffer>): Uint8Array {
  let authData: unknown;
  try {
    authData = decodeAttestationObject(attestationObject).get('authData');
  } catch (error) {
    return refuse('response_malformed', error);
  }
  if (!(authData instanceof Uint8Array)) refuse('response_malformed');
  return authData;
}

/** A user-chosen label: printable, one line, bounded; undefined when nothing is left. */
function cleanName(name: string | undefined): string | undefined {
  const cleaned = name
    ?.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, MAX_NAME_LENGTH);
  return cleaned === undefined || cleaned === '' ? undefined : cleaned;
}
