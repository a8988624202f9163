/**
 * Shared set-up for the WebAuthn ceremony tests: a real node:sqlite directory in a temp
 * dir, a manual clock, the ceremonies, and helpers that run a whole ceremony with the soft
 * authenticator and assert on refusals (code and internal reason).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import type { ErrorCode } from '../../../src/errors/codes.ts';
import { PgkeyError } from '../../../src/errors/pgkey-error.ts';
import { WebAuthnCeremonies, type AuthenticatedKey } from '../../../src/idp/webauthn/ceremonies.ts';
import { refusalOf, type Refusal } from '../../../src/idp/webauthn/refusal.ts';
import {
  DEFAULT_AUTHENTICATOR_POLICY,
  DEFAULT_CHALLENGE_TTL_MS,
  type AuthenticatorPolicy,
  type WebAuthnSettings,
} from '../../../src/idp/webauthn/settings.ts';
import { ManualClock } from '../../../src/runtime/clock.ts';
import type { Credential, Directory, User } from '../../../src/store/directory.ts';
import { openSqliteDirectory } from '../../../src/store/sqlite-directory.ts';
import type {
  CreateOverrides,
  GetOverrides,
  SoftAuthenticator,
} from '../../support/soft-authenticator.ts';

export const RP_ID = 'pgkey.example.com';
export const ORIGIN = 'https://pgkey.example.com';

export interface Harness {
  readonly directory: Directory;
  readonly clock: ManualClock;
  readonly ceremonies: WebAuthnCeremonies;
  readonly settings: WebAuthnSettings;
  /** Same directory and clock, other settings. */
  withSettings(
    settings: Partial<Omit<WebAuthnSettings, 'policy'>> & {
      policy?: Partial<AuthenticatorPolicy>;
    },
  ): WebAuthnCeremonies;
  close(): Promise<void>;
}

export function webAuthnSettings(
  overrides: Partial<Omit<WebAuthnSettings, 'policy'>> & {
    policy?: Partial<AuthenticatorPolicy>;
  } = {},
): WebAuthnSettings {
  const { policy, ...rest } = overrides;
  return {
    rpId: RP_ID,
    rpName: 'pgkey tests',
    origins: [ORIGIN],
    userVerification: 'required',
    challengeTtlMs: DEFAULT_CHALLENGE_TTL_MS,
    ...rest,
    policy: { ...DEFAULT_AUTHENTICATOR_POLICY, ...policy },
  };
}

export async function harness(
  overrides: Parameters<typeof webAuthnSettings>[0] = {},
): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'pgkey-webauthn-'));
  const clock = new ManualClock();
  const directory = await openSqliteDirectory(join(dir, 'directory.db'), { clock });
  const settings = webAuthnSettings(overrides);
  const make = (s: WebAuthnSettings): WebAuthnCeremonies =>
    new WebAuthnCeremonies({ directory, settings: s, clock });
  return {
    directory,
    clock,
    settings,
    ceremonies: make(settings),
    withSettings: (more) => make(webAuthnSettings({ ...overrides, ...more })),
    async close() {
      await directory.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function newUser(directory: Directory, name = 'ada'): Promise<User> {
  return directory.users.create({
    // Opaque and random, as the provider makes them: it is the WebAuthn user handle.
    id: randomBytes(16).toString('base64url'),
    email: `${name}-${randomBytes(4).toString('hex')}@example.com`,
    displayName: name,
    now: Date.UTC(2026, 0, 1),
  });
}

export async function register(
  ceremonies: WebAuthnCeremonies,
  user: User,
  authenticator: SoftAuthenticator,
  overrides: Partial<CreateOverrides> = {},
): Promise<Credential> {
  const { challengeId, options } = await ceremonies.beginRegistration(user, { flow: 'enrol' });
  const response = await authenticator.create(options, { origin: ORIGIN, ...overrides });
  const { credential } = await ceremonies.finishRegistration(challengeId, response);
  return credential;
}

export async function signIn(
  ceremonies: WebAuthnCeremonies,
  authenticator: SoftAuthenticator,
  overrides: Partial<GetOverrides> = {},
  begin: { userId?: string } = {},
): Promise<AuthenticatedKey> {
  const { challengeId, options } = await ceremonies.beginAuthentication({ flow: 'login' }, begin);
  const response = await authenticator.get(options, { origin: ORIGIN, ...overrides });
  return ceremonies.finishAuthentication(challengeId, response);
}

/** Asserts a ceremony failed with `code`, for the internal reason `refusal`. */
export async function refused(
  attempt: Promise<unknown>,
  code: ErrorCode,
  refusal: Refusal | undefined,
): Promise<PgkeyError> {
  let caught: unknown;
  await assert.rejects(attempt, (error) => ((caught = error), true));
  assert.ok(caught instanceof PgkeyError, `expected PgkeyError, got ${String(caught)}`);
  assert.deepEqual(
    { code: caught.code, refusal: refusalOf(caught) },
    { code, refusal },
    `cause: ${inspect(caught.cause)}`,
  );
  return caught;
}
