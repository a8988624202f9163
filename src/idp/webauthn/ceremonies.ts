/**
 * The relying party of pgkey's built-in identity provider: WebAuthn is the only way to
 * sign in, so these two ceremonies are the whole of "login". The class only binds the
 * directory, settings, clock and randomness; the steps live in registration.ts and
 * authentication.ts, the rules in the modules they import.
 *
 * Every failure is a PgkeyError with one of the ERR_WEBAUTHN_* codes (store outages keep
 * their own); the precise reason is `refusalOf(error)` for the audit trail.
 */
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Clock } from '../../runtime/clock.ts';
import { cryptoRandom, type Random } from '../../runtime/random.ts';
import type { Credential, Directory, User } from '../../store/directory.ts';
import {
  beginAuthentication,
  finishAuthentication,
  type AuthenticatedKey,
} from './authentication.ts';
import type { CeremonyContext } from './challenges.ts';
import { beginRegistration, finishRegistration } from './registration.ts';
import { checkWebAuthnSettings, type WebAuthnSettings } from './settings.ts';

export type { AuthenticatedKey } from './authentication.ts';

export interface WebAuthnCeremoniesOptions {
  readonly directory: Directory;
  readonly settings: WebAuthnSettings;
  readonly clock: Clock;
  readonly random?: Random;
}

export class WebAuthnCeremonies {
  readonly #ctx: CeremonyContext;

  /** Checks the settings now; a bad origin or policy fails here with ERR_CONFIG. */
  constructor(options: WebAuthnCeremoniesOptions) {
    this.#ctx = {
      directory: options.directory,
      settings: checkWebAuthnSettings(options.settings),
      clock: options.clock,
      random: options.random ?? cryptoRandom,
    };
  }

  /** Options for navigator.credentials.create(); `data` comes back from finishRegistration. */
  beginRegistration(
    user: User,
    data: Readonly<Record<string, string>>,
  ): Promise<{ challengeId: string; options: PublicKeyCredentialCreationOptionsJSON }> {
    return beginRegistration(this.#ctx, user, data);
  }

  finishRegistration(
    challengeId: string,
    response: RegistrationResponseJSON,
    options?: { readonly name?: string },
  ): Promise<{ credential: Credential; data: Readonly<Record<string, string>> }> {
    return finishRegistration(this.#ctx, challengeId, response, options);
  }

  /** Options for navigator.credentials.get(); discoverable unless `userId` is given. */
  beginAuthentication(
    data: Readonly<Record<string, string>>,
    options?: { readonly userId?: string },
  ): Promise<{ challengeId: string; options: PublicKeyCredentialRequestOptionsJSON }> {
    return beginAuthentication(this.#ctx, data, options);
  }

  finishAuthentication(
    challengeId: string,
    response: AuthenticationResponseJSON,
  ): Promise<AuthenticatedKey> {
    return finishAuthentication(this.#ctx, challengeId, response);
  }
}
