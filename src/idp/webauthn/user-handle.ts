/**
 * The user handle (WebAuthn L3 §5.4.3 `user.id`, §14.6.1): how an authenticator names the
 * account a discoverable credential belongs to, returned as `userHandle` in assertions.
 * pgkey uses the bytes of the directory's user id, which is opaque and random (never an
 * e-mail address, which the spec forbids as a handle because it is personal data). It is
 * not signed by the authenticator: the credential's stored owner is what counts, and a
 * handle that names anyone else is refused (Yubico YSA-2026-02).
 */
import { PgkeyError } from '../../errors/pgkey-error.ts';

export const MAX_USER_HANDLE_BYTES = 64;

export function userHandleOf(userId: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(Buffer.from(userId, 'utf8'));
  if (bytes.length === 0 || bytes.length > MAX_USER_HANDLE_BYTES) {
    throw new PgkeyError('ERR_INTERNAL', {
      reason: 'user_handle_length',
      cause: new RangeError('a user id must be 1..64 bytes to serve as a WebAuthn user handle'),
    });
  }
  return bytes;
}

/** Whether the base64url `userHandle` from an assertion names `userId`. */
export function userHandleNames(userHandle: string, userId: string): boolean {
  return Buffer.from(userHandle, 'base64url').equals(Buffer.from(userId, 'utf8'));
}
