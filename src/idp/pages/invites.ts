/**
 * Enrollment invites: a single-use, expiring link `<issuer>/enroll/<secret>` that lets one
 * person register their first key (or a new one after losing theirs). The secret is 32
 * random bytes in base64url; the directory keeps only its hash (store/invite-secret.ts, which
 * `pgkey users invite` uses too), so a copy of the directory holds no usable links. The link
 * is shown once, to whoever created it.
 *
 * An invite names an e-mail. The user is created with the invite when missing (the admin
 * page, `pgkey users invite`), and at enrollment if the invite was made some other way.
 */
import { isPgkeyError, PgkeyError } from '../../errors/pgkey-error.ts';
import type { Random } from '../../runtime/random.ts';
import type { Directory, Invite, User } from '../../store/directory.ts';
import { inviteTokenHash } from '../../store/invite-secret.ts';

const SECRET_BYTES = 32;
const ID_BYTES = 16;
/** Anything else in the URL is not a secret we made; it gets the same page as a used one. */
export const INVITE_SECRET = /^[A-Za-z0-9_-]{43}$/;
const EMAIL = /^[^\s@<>"]{1,64}@[^\s@<>"]{1,190}$/;

export function inviteLink(issuer: string, secret: string): string {
  return `${issuer.replace(/\/+$/, '')}/enroll/${secret}`;
}

/** Lower-cased, trimmed; ERR_USAGE when it does not look like an e-mail address. */
export function normalizeEmail(value: string): string {
  const email = value.trim().toLowerCase();
  if (!EMAIL.test(email)) {
    throw new PgkeyError('ERR_USAGE', {
      message: 'Enter an e-mail address like ada@example.com.',
      reason: 'email_invalid',
    });
  }
  return email;
}

/** The invite's user, created when missing (two racing enrollments find the same one). */
export async function inviteUser(
  directory: Pick<Directory, 'users'>,
  input: { email: string; displayName?: string | undefined; now: number; random: Random },
): Promise<User> {
  const found = await directory.users.findByEmail(input.email);
  if (found !== undefined) return found;
  const displayName = input.displayName?.trim() || input.email.split('@', 1)[0] || input.email;
  try {
    return await directory.users.create({
      id: input.random.bytes(ID_BYTES).toString('base64url'),
      email: input.email,
      displayName: displayName.slice(0, 100),
      now: input.now,
    });
  } catch (error) {
    if (!isPgkeyError(error, 'ERR_CONFLICT')) throw error;
    const raced = await directory.users.findByEmail(input.email);
    if (raced === undefined) throw error;
    return raced;
  }
}

export interface CreatedInvite {
  readonly invite: Invite;
  readonly user: User;
  /** The link to hand to the person: shown once, never stored. */
  readonly link: string;
}

export async function createInvite(
  directory: Pick<Directory, 'users' | 'invites'>,
  input: {
    email: string;
    displayName?: string | undefined;
    createdBy: string;
    ttlMs: number;
    now: number;
    random: Random;
    issuer: string;
  },
): Promise<CreatedInvite> {
  const email = normalizeEmail(input.email);
  const user = await inviteUser(directory, { ...input, email });
  if (user.disabled) {
    throw new PgkeyError('ERR_CONFLICT', {
      message: `${email} is disabled: a new key would not let them in. Enable them first.`,
      reason: 'user_disabled',
    });
  }
  const secret = input.random.bytes(SECRET_BYTES).toString('base64url');
  const invite = await directory.invites.create({
    id: input.random.bytes(ID_BYTES).toString('base64url'),
    tokenHash: inviteTokenHash(secret),
    email,
    createdBy: input.createdBy,
    createdAt: input.now,
    expiresAt: input.now + input.ttlMs,
  });
  return { invite, user, link: inviteLink(input.issuer, secret) };
}
