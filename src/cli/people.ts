/**
 * People, as the directory commands name them: by e-mail address. Arguments are checked
 * before the directory opens, so a typo costs no database round trip.
 */
import { randomBytes } from 'node:crypto';
import { isPgkeyError, PgkeyError } from '../errors/pgkey-error.ts';
import type { Directory, User } from '../store/directory.ts';
import type { DirectoryAccess } from './directory-access.ts';

/**
 * 16 random bytes: the id is the WebAuthn user handle (user-handle.ts), which authenticators
 * store; WebAuthn L3 §14.6.1 forbids personal data in it, so it never derives from the e-mail.
 */
const USER_ID_BYTES = 16;

/** A new person with no key yet; ERR_CONFLICT naming the address when it is taken. */
export function addUser(
  { directory, clock }: DirectoryAccess,
  email: string,
  displayName: string,
): Promise<User> {
  return directory.users
    .create({
      id: randomBytes(USER_ID_BYTES).toString('base64url'),
      email,
      displayName,
      now: clock.now(),
    })
    .catch((error: unknown) => {
      if (isPgkeyError(error, 'ERR_CONFLICT') && error.reason === 'email_taken') {
        throw new PgkeyError('ERR_CONFLICT', {
          message: `a user with e-mail ${email} already exists`,
          hint: '`pgkey users list` shows them',
          reason: 'email_taken',
          cause: error,
        });
      }
      throw error;
    });
}

/** The person with this e-mail address (compared lower-cased), or ERR_NOT_FOUND. */
export async function userByEmail(directory: Directory, email: string): Promise<User> {
  const user = await directory.users.findByEmail(email);
  if (user === undefined) {
    throw new PgkeyError('ERR_NOT_FOUND', {
      message: `no user with e-mail ${email}`,
      hint: '`pgkey users list` shows everyone in the directory',
      reason: 'user_not_found',
    });
  }
  return user;
}

// Deliberately loose (RFC 5322 allows far more than anyone types): one @, something on
// both sides, no spaces, quotes, angle brackets or control characters; the same shape the
// admin page accepts (idp/pages/invites.ts). The invite is what proves the address.
const EMAIL = /^[^\s@<>"\p{Cc}]{1,64}@[^\s@<>"\p{Cc}]{1,190}$/u;

/** A plausible e-mail address, or ERR_USAGE naming it. */
export function emailArgument(value: string): string {
  if (!EMAIL.test(value)) {
    throw new PgkeyError('ERR_USAGE', {
      message: `not an e-mail address: ${JSON.stringify(value)}`,
    });
  }
  return value.toLowerCase();
}

/** A group name as tokens carry it: 1-128 characters, no control characters, no padding. */
export function groupArgument(value: string): string {
  if (value.length === 0 || value.length > 128 || /\p{Cc}/u.test(value) || value !== value.trim()) {
    throw new PgkeyError('ERR_USAGE', {
      message: `not a group name: ${JSON.stringify(value)}`,
      hint: 'a group name has 1-128 characters, without control characters or outer spaces',
    });
  }
  return value;
}

/** `--name`, else the e-mail's local part: what authenticators show next to the account. */
export function displayNameArgument(name: string | undefined, email: string): string {
  const chosen = (name ?? '').trim();
  if (chosen.length > 64 || /\p{Cc}/u.test(chosen)) {
    throw new PgkeyError('ERR_USAGE', {
      message: 'a name has at most 64 characters, without control characters',
    });
  }
  return chosen === '' ? email.slice(0, email.indexOf('@')) : chosen;
}

/** `--reason`: shown to administrators and in the audit trail; one line of at most 200. */
export function reasonArgument(value: string | undefined, fallback: string): string {
  const reason = (value ?? '').trim();
  if (reason.length > 200 || /\p{Cc}/u.test(reason)) {
    throw new PgkeyError('ERR_USAGE', {
      message: 'a reason is one line of at most 200 characters',
    });
  }
  return reason === '' ? fallback : reason;
}
