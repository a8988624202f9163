/**
 * Ceremony challenges: 32 random bytes kept server-side under a random id, bound to one
 * purpose and (optionally) one user, and single use. `take` deletes the challenge before
 * the response is examined, so a failed attempt burns it as surely as a successful one
 * (Keycloak #49921), and a recorded response cannot be replayed (duo-labs/webauthn.io #28;
 * reliability.md D21). An expired challenge is deleted by the same `take`.
 */
import type { Challenge, Directory } from '../../store/directory.ts';
import type { Clock } from '../../runtime/clock.ts';
import type { Random } from '../../runtime/random.ts';
import { refuse } from './refusal.ts';
import type { CheckedSettings } from './settings.ts';

export const CHALLENGE_PURPOSE = {
  registration: 'webauthn.registration',
  authentication: 'webauthn.authentication',
} as const;

export type ChallengePurpose = (typeof CHALLENGE_PURPOSE)[keyof typeof CHALLENGE_PURPOSE];

/** What every ceremony step needs. */
export interface CeremonyContext {
  readonly directory: Directory;
  readonly settings: CheckedSettings;
  readonly clock: Clock;
  readonly random: Random;
}

/** WebAuthn L3 §13.4.3: at least 16 random bytes; we use 32. */
const CHALLENGE_BYTES = 32;
const ID_BYTES = 18;
const ID_SHAPE = /^[A-Za-z0-9_-]{1,64}$/;

export interface IssuedChallenge {
  readonly id: string;
  readonly bytes: Uint8Array<ArrayBuffer>;
}

/** Fresh challenge bytes and id; nothing is stored until `storeChallenge`. */
export function newChallenge(ctx: CeremonyContext): IssuedChallenge {
  return {
    id: ctx.random.bytes(ID_BYTES).toString('base64url'),
    bytes: new Uint8Array(ctx.random.bytes(CHALLENGE_BYTES)),
  };
}

export async function storeChallenge(
  ctx: CeremonyContext,
  issued: IssuedChallenge,
  purpose: ChallengePurpose,
  userId: string | undefined,
  data: Readonly<Record<string, string>>,
): Promise<void> {
  await ctx.directory.challenges.put({
    id: issued.id,
    purpose,
    // The same base64url (no padding) the options carry and clientDataJSON echoes.
    challenge: Buffer.from(issued.bytes).toString('base64url'),
    userId,
    data: { ...data },
    expiresAt: ctx.clock.now() + ctx.settings.challengeTtlMs,
  });
}

/** Atomically removes the challenge; refuses if it is unknown, used, expired or for another ceremony. */
export async function takeChallenge(
  ctx: CeremonyContext,
  id: string,
  purpose: ChallengePurpose,
): Promise<Challenge> {
  if (typeof id !== 'string' || !ID_SHAPE.test(id)) refuse('challenge_unknown');
  const challenge = await ctx.directory.challenges.take(id, ctx.clock.now());
  if (challenge === undefined) refuse('challenge_unknown');
  if (challenge.purpose !== purpose) refuse('challenge_purpose');
  return challenge;
}
