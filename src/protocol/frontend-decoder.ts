import { protocolViolation } from './protocol-error.ts';

/**
 * Decoders for the frontend messages pgkey reads as a server during authentication. All
 * share type 'p'; which one it is follows from the auth state (protocol-message-formats).
 */

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** PasswordMessage: String password. The NUL must be the last byte: no trailing data. */
export function decodePasswordMessage(body: Buffer): string {
  const end = body.indexOf(0);
  // An empty body has no NUL: indexOf's -1 must not pass as "the last byte" (-1 too).
  if (end === -1 || end !== body.length - 1) {
    throw protocolViolation('invalid_password_packet', 'invalid password packet size');
  }
  try {
    return utf8.decode(body.subarray(0, end));
  } catch {
    throw protocolViolation('invalid_utf8', 'invalid UTF-8 in password packet');
  }
}

export interface SaslInitialResponse {
  readonly mechanism: string;
  /** undefined when the client sent length -1 (no initial response). */
  readonly data: Buffer | undefined;
}

/** SASLInitialResponse: String mechanism, Int32 length (-1 = none), then that many bytes. */
export function decodeSaslInitialResponse(body: Buffer): SaslInitialResponse {
  const end = body.indexOf(0);
  if (end <= 0 || end + 5 > body.length) {
    throw protocolViolation('invalid_sasl_message', 'malformed SASL initial response');
  }
  const mechanism = body.toString('latin1', 0, end);
  const length = body.readInt32BE(end + 1);
  const rest = body.subarray(end + 5);
  if (length === -1 && rest.length === 0) return { mechanism, data: undefined };
  if (length !== rest.length) {
    throw protocolViolation('invalid_sasl_message', 'malformed SASL initial response');
  }
  return { mechanism, data: Buffer.from(rest) };
}
