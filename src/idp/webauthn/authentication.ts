/**
 * The authentication ceremony (WebAuthn L3 §7.2 "Verifying an Authentication Assertion").
 *
 * Order matters for two reasons. The challenge is taken first, so every attempt spends it.
 * And nothing is written about a credential (flagging it, moving its counter) until its
 * signature has verified: a credential id is not a secret, so an unsigned "counter went
 * backwards" must not let a stranger get someone's key flagged. That is why SimpleWebAuthn
 * is handed a stored counter of 0 (its own check would throw before the signature is
 * checked) and the counter rule runs here, after the signature.
 */
import {
  generateAuthenticationOptions,
  verifyAuthenticationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import type { Credential, User } from '../../store/directory.ts';
import { assuranceOf, type Acr } from './assurance.ts';
import { readAuthenticatorData, rpIdHashMatches } from './authenticator-data.ts';
import { enforceAuthenticationPolicy } from './authenticator-policy.ts';
import {
  CHALLENGE_PURPOSE,
  newChallenge,
  storeChallenge,
  takeChallenge,
  type CeremonyContext,
} from './challenges.ts';
import { checkClientData } from './client-data.ts';
import { authenticationError, refuse } from './refusal.ts';
import { checkAuthenticationResponse } from './response-shape.ts';
import { userHandleNames } from './user-handle.ts';

export interface AuthenticationStart {
  readonly challengeId: string;
  readonly options: PublicKeyCredentialRequestOptionsJSON;
}

export interface AuthenticatedKey {
  readonly user: User;
  /** The credential as it is after this use (counter, backup state, last use). */
  readonly credential: Credential;
  readonly data: Readonly<Record<string, string>>;
  readonly userVerified: boolean;
  /** BE=0: the key cannot leave its authenticator. */
  readonly deviceBound: boolean;
  /** The key's attestation chained to a trusted root at registration. */
  readonly attested: boolean;
  readonly acr: Acr;
  readonly amr: readonly string[];
}

/**
 * Discoverable (empty allowCredentials) unless `userId` is given. `userId` must come from
 * an already authenticated context (step-up), never from what a visitor typed: the list
 * of credential ids it returns is that user's.
 */
export async function beginAuthentication(
  ctx: CeremonyContext,
  data: Readonly<Record<string, string>>,
  options: { readonly userId?: string } = {},
): Promise<AuthenticationStart> {
  try {
    const { settings } = ctx;
    const usable =
      options.userId === undefined
        ? undefined
        : (await ctx.directory.credentials.listByUser(options.userId)).filter(
            (c) => c.revokedAt === undefined && c.flaggedReason === undefined,
          );
    const issued = newChallenge(ctx);
    const requestOptions = await generateAuthenticationOptions({
      rpID: settings.rpId,
      challenge: issued.bytes,
      timeout: settings.challengeTtlMs,
      userVerification: settings.userVerification,
      ...(usable === undefined
        ? {}
        : { allowCredentials: usable.map((c) => ({ id: c.id, transports: [...c.transports] })) }),
    });
    await storeChallenge(ctx, issued, CHALLENGE_PURPOSE.authentication, options.userId, data);
    return { challengeId: issued.id, options: requestOptions };
  } catch (error) {
    throw authenticationError(error);
  }
}

export async function finishAuthentication(
  ctx: CeremonyContext,
  challengeId: string,
  input: AuthenticationResponseJSON,
): Promise<AuthenticatedKey> {
  try {
    // Taken before anything else: whatever happens next, this challenge is spent.
    const challenge = await takeChallenge(ctx, challengeId, CHALLENGE_PURPOSE.authentication);
    const { settings, clock, directory } = ctx;
    const response = checkAuthenticationResponse(input);
    checkClientData(response.response.clientDataJSON, {
      type: 'webauthn.get',
      challenge: challenge.challenge,
      origins: settings.origins,
    });
    const authData = readAuthenticatorData(
      Buffer.from(response.response.authenticatorData, 'base64url'),
    );
    if (!rpIdHashMatches(authData, settings.rpId)) refuse('rp_id_mismatch'); // step 14
    if (!authData.flags.up) refuse('user_not_present'); // step 15
    const uvRequired = settings.userVerification === 'required';
    if (uvRequired && !authData.flags.uv) refuse('user_not_verified'); // step 16
    if (!authData.flags.be && authData.flags.bs) refuse('backup_flags_invalid'); // step 17

    // Steps 5–6: whose credential is this? Every answer below reads the same to the client.
    const credential = await directory.credentials.get(response.id);
    if (credential === undefined) refuse('credential_unknown');
    if (challenge.userId !== undefined && credential.userId !== challenge.userId) {
      refuse('credential_not_allowed');
    }
    const user = await directory.users.get(credential.userId);
    if (user === undefined) refuse('user_unknown');
    const { userHandle } = response.response;
    if (userHandle === undefined) {
      if (challenge.userId === undefined) refuse('user_handle_missing');
    } else if (!userHandleNames(userHandle, user.id)) {
      refuse('user_handle_mismatch'); // Yubico YSA-2026-02
    }
    if (user.disabled) refuse('user_disabled');
    if (credential.revokedAt !== undefined) refuse('credential_revoked');
    if (credential.flaggedReason !== undefined) refuse('credential_flagged');
    enforceAuthenticationPolicy(settings, credential.aaguid, clock.now());

    // Steps 20–21: the signature, by the library (counter deliberately 0, see above).
    let verified: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
    try {
      verified = await verifyAuthenticationResponse({
        response,
        expectedChallenge: challenge.challenge,
        expectedOrigin: [...settings.origins],
        expectedRPID: settings.rpId,
        expectedType: 'webauthn.get',
        credential: {
          id: credential.id,
          publicKey: Uint8Array.from(credential.publicKey),
          counter: 0,
          transports: [...credential.transports],
        },
        requireUserVerification: uvRequired,
      });
    } catch (error) {
      return refuse('signature_invalid', error);
    }
    if (!verified.verified) refuse('signature_invalid');

    // Step 18: BE is fixed when the credential is made and MUST NOT change; the library
    // does not compare it with the stored value.
    if (authData.flags.be !== credential.backupEligible) refuse('backup_eligibility_changed');

    // Step 22 and §6.1.1: a counter that did not move forward means a clone (or a race).
    const stored = credential.signCount;
    const next = authData.signCount;
    if ((next > 0 || stored > 0) && next <= stored) {
      await directory.credentials.flag(credential.id, 'sign_count_regression');
      refuse('sign_count_regression');
    }

    // Step 24, compare-and-set: of two assertions racing from the same count, one wins.
    // (The store also refuses a key revoked or flagged since we read it.)
    const now = clock.now();
    const recorded = await directory.credentials.recordUse(credential.id, {
      previousSignCount: stored,
      signCount: next,
      backupState: authData.flags.bs,
      now,
    });
    if (!recorded) refuse('concurrent_use');

    const evidence = {
      userVerified: authData.flags.uv,
      deviceBound: !credential.backupEligible,
      attested: credential.attested,
    };
    return {
      user,
      credential: {
        ...credential,
        signCount: next,
        backupState: authData.flags.bs,
        lastUsedAt: now,
      },
      data: challenge.data,
      ...evidence,
      ...assuranceOf(evidence),
    };
  } catch (error) {
    throw authenticationError(error);
  }
}
