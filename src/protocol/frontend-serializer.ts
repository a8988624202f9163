import { PgkeyError } from '../errors/pgkey-error.ts';
import { CANCEL_REQUEST_CODE, FRONTEND, PROTOCOL_3_0, SSL_REQUEST_CODE } from './constants.ts';

/**
 * Serializers for the frontend messages pgkey sends to the upstream PostgreSQL as a client.
 * Unlike pg-protocol's, the StartupMessage carries exactly the parameters given (no forced
 * client_encoding) and the cancel request any key length.
 */

function untyped(code: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(8 + body.length);
  out.writeUInt32BE(8 + body.length, 0);
  out.writeInt32BE(code, 4);
  body.copy(out, 8);
  return out;
}

function typed(type: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out.writeUInt8(type, 0);
  out.writeUInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

/**
 * A String. One holding a NUL cannot be sent: the server would end it there and read the
 * rest as the next field, so a role name "x\0options\0-c role=admin" would inject startup
 * parameters. Refused here, whatever validated it before.
 */
function cstring(text: string): Buffer {
  if (text.includes('\0')) {
    throw new PgkeyError('ERR_INTERNAL', {
      reason: 'nul_in_string',
      cause: new RangeError('a protocol String cannot contain NUL'),
    });
  }
  return Buffer.concat([Buffer.from(text, 'utf8'), Buffer.from([0])]);
}

/** StartupMessage: Int32 length, Int32 version, name/value Strings, terminating NUL. */
export function startupMessage(
  parameters: Iterable<readonly [string, string]>,
  version: number = PROTOCOL_3_0,
): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of parameters) {
    // An empty name is the packet's terminator: the parameters after it would be lost.
    if (name === '') {
      throw new PgkeyError('ERR_INTERNAL', {
        reason: 'empty_parameter_name',
        cause: new RangeError('a startup parameter name cannot be empty'),
      });
    }
    parts.push(cstring(name), cstring(value));
  }
  parts.push(Buffer.from([0]));
  return untyped(version, Buffer.concat(parts));
}

/** SSLRequest: Int32(8), Int32(80877103). */
export const sslRequest = (): Buffer => untyped(SSL_REQUEST_CODE, Buffer.alloc(0));

/** CancelRequest: Int32 length, Int32(80877102), Int32 process id, secret key bytes. */
export function cancelRequest(processId: number, secretKey: Buffer): Buffer {
  const body = Buffer.allocUnsafe(4 + secretKey.length);
  body.writeInt32BE(processId, 0);
  secretKey.copy(body, 4);
  return untyped(CANCEL_REQUEST_CODE, body);
}

/** 'p' PasswordMessage: String password. */
export const passwordMessage = (password: string): Buffer =>
  typed(FRONTEND.Password, cstring(password));

/** 'p' SASLInitialResponse: String mechanism, Int32 length (-1 for none), data. */
export function saslInitialResponse(mechanism: string, data: Buffer | undefined): Buffer {
  const length = Buffer.allocUnsafe(4);
  length.writeInt32BE(data === undefined ? -1 : data.length, 0);
  return typed(
    FRONTEND.Password,
    Buffer.concat([cstring(mechanism), length, data ?? Buffer.alloc(0)]),
  );
}

/** 'p' SASLResponse: data. */
export const saslResponse = (data: Buffer): Buffer => typed(FRONTEND.Password, data);

/** 'X' Terminate. */
export const terminate = (): Buffer => typed(FRONTEND.Terminate, Buffer.alloc(0));
