/**
 * The secret in an enrollment link and what the directory keeps of it (`Invite.tokenHash`).
 * Only the hash is stored, so a copy of the directory (a backup, a leaked file) holds no
 * usable link; the secret has 256 bits, so the hash needs no salt or stretching (it is not
 * a password). Whoever creates an invite and whoever redeems one both go through here.
 */
import { createHash, randomBytes } from 'node:crypto';

const SECRET_BYTES = 32;

/** A fresh link secret: 32 random bytes, base64url (43 characters, URL-safe as is). */
export function inviteSecret(): string {
  return randomBytes(SECRET_BYTES).toString('base64url');
}

/** SHA-256 of the secret exactly as it appears in the link, base64url. */
export function inviteTokenHash(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('base64url');
}
