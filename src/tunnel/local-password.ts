import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { readPrivateFile, writePrivateFile } from '../client/private-files.ts';
import { PgkeyError } from '../errors/pgkey-error.ts';
import type { FrameSource } from '../gateway/frame-source.ts';
import { authenticationCleartextPassword } from '../protocol/backend-serializer.ts';
import { FRONTEND } from '../protocol/constants.ts';
import { decodePasswordMessage } from '../protocol/frontend-decoder.ts';
import { protocolViolation } from '../protocol/protocol-error.ts';

/**
 * `pgkey tunnel --local-password-file FILE`: for machines where other people (or programs
 * running as other users) can reach 127.0.0.1. Loopback alone keeps the network out, not
 * the neighbours: without a password, any local process can use the tunnel as you while it
 * runs, exactly like `tsh proxy db --tunnel`. With one, local clients must send it; the
 * tunnel's owner puts it into the GUI's password field once and it stays valid across
 * restarts.
 *
 * The file holds the password on its first line, mode 0600 like the token cache (a file
 * others can read is refused); a missing file is created with a random password.
 */
export async function loadLocalPassword(
  file: string,
): Promise<{ readonly password: string; readonly created: boolean }> {
  const text = await readPrivateFile(file, { secret: true });
  if (text !== undefined) {
    const password = text.split(/\r?\n/, 1)[0] ?? '';
    if (password === '') {
      throw new PgkeyError('ERR_FILE', {
        message: `${file}: the first line must hold the password`,
        hint: `delete the file and pgkey tunnel creates one with a random password`,
      });
    }
    return { password, created: false };
  }
  const password = randomBytes(18).toString('base64url');
  await writePrivateFile(file, `${password}\n`);
  return { password, created: true };
}

export type LocalAuthOutcome = 'accepted' | 'hung-up';

/**
 * protocol.md §2.2 from the server's side: AuthenticationCleartextPassword ('R' 3), one
 * PasswordMessage ('p'), compared in constant time. Cleartext is fine here: the bytes never
 * leave the loopback interface, which only the kernel and root can observe. A hang-up after
 * the request is psql asking its user for the password (it reconnects), not a failure.
 */
export async function askLocalPassword(
  stream: Duplex,
  frames: FrameSource,
  expected: string,
  user: string,
  preamble: readonly Buffer[],
): Promise<LocalAuthOutcome> {
  frames.reader.setTyped(true);
  stream.write(Buffer.concat([...preamble, authenticationCleartextPassword()]));
  const reply = await frames.next();
  if (reply === undefined) return 'hung-up';
  if (reply.type !== FRONTEND.Password) {
    throw protocolViolation(
      'unexpected_message',
      `expected password response, got message type ${String.fromCharCode(reply.type)}`,
    );
  }
  if (!sameSecret(decodePasswordMessage(reply.body), expected)) {
    // auth.c auth_failed, uaPassword.
    throw new PgkeyError('ERR_PASSWORD_FAILED', {
      message: `password authentication failed for user "${user}"`,
      hint: 'the tunnel’s password is in the file given to --local-password-file',
      reason: 'local_password_failed',
    });
  }
  return 'accepted';
}

/** Equal-length digests, so neither the content nor the length leaks through timing. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}
