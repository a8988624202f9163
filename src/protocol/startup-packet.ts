import {
  CANCEL_REQUEST_CODE,
  GSSENC_REQUEST_CODE,
  MAX_CANCEL_KEY_LENGTH,
  MIN_CANCEL_KEY_LENGTH,
  SSL_REQUEST_CODE,
} from './constants.ts';
import { protocolViolation } from './protocol-error.ts';

/**
 * The packets a client may send before it is authenticated. None has a type byte: they are
 * told apart by the Int32 after the length (protocol-message-formats: StartupMessage,
 * SSLRequest, GSSENCRequest, CancelRequest).
 */
export type StartupPacket =
  | { readonly kind: 'ssl-request' }
  | { readonly kind: 'gssenc-request' }
  | { readonly kind: 'cancel-request'; readonly processId: number; readonly secretKey: Buffer }
  | {
      readonly kind: 'startup';
      readonly major: number;
      readonly minor: number;
      /** Parameters in the order sent, `_pq_.` protocol options excluded. */
      readonly parameters: ReadonlyMap<string, string>;
      /** `_pq_.*` protocol extension names; pgkey implements none. */
      readonly protocolOptions: readonly string[];
    };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes the body (everything after the length word) of a startup-phase packet. */
export function decodeStartupPacket(body: Buffer): StartupPacket {
  if (body.length < 4) throw protocolViolation('invalid_startup_packet', 'invalid startup packet');
  const code = body.readInt32BE(0);
  switch (code) {
    case SSL_REQUEST_CODE:
    case GSSENC_REQUEST_CODE:
      if (body.length !== 4)
        throw protocolViolation('invalid_startup_packet', 'invalid length of startup packet');
      return { kind: code === SSL_REQUEST_CODE ? 'ssl-request' : 'gssenc-request' };
    case CANCEL_REQUEST_CODE: {
      const keyLength = body.length - 8;
      if (keyLength < MIN_CANCEL_KEY_LENGTH || keyLength > MAX_CANCEL_KEY_LENGTH) {
        throw protocolViolation('invalid_cancel_request', 'invalid length of cancel request');
      }
      return {
        kind: 'cancel-request',
        processId: body.readInt32BE(4),
        secretKey: Buffer.from(body.subarray(8)),
      };
    }
    default:
      return decodeStartupMessage(code, body);
  }
}

function decodeStartupMessage(version: number, body: Buffer): StartupPacket {
  const major = version >>> 16;
  const minor = version & 0xffff;
  const parameters = new Map<string, string>();
  const protocolOptions: string[] = [];
  if (major !== 3) {
    // Layout of other majors is unknown; the session answers 0A000 from major/minor alone.
    return { kind: 'startup', major, minor, parameters, protocolOptions };
  }
  let offset = 4;
  // postgres backend_startup.c: name/value strings, then exactly one terminating NUL at len-1.
  for (;;) {
    if (offset >= body.length) throw invalidLayout();
    if (body[offset] === 0) {
      if (offset !== body.length - 1) throw invalidLayout();
      break;
    }
    const name = readCString(body, offset, 'startup packet');
    offset = name.next;
    const value = readCString(body, offset, `the value of startup parameter "${name.text}"`);
    offset = value.next;
    if (name.text.startsWith('_pq_.')) {
      protocolOptions.push(name.text);
      continue;
    }
    if (parameters.has(name.text)) {
      throw protocolViolation(
        'duplicate_startup_parameter',
        `duplicate startup parameter "${name.text}"`,
      );
    }
    parameters.set(name.text, value.text);
  }
  return { kind: 'startup', major, minor, parameters, protocolOptions };
}

function readCString(body: Buffer, offset: number, where: string): { text: string; next: number } {
  const end = body.indexOf(0, offset);
  if (end === -1) throw invalidLayout();
  let text: string;
  try {
    text = utf8.decode(body.subarray(offset, end));
  } catch {
    throw protocolViolation('invalid_utf8', `invalid UTF-8 in ${where}`);
  }
  return { text, next: end + 1 };
}

function invalidLayout() {
  return protocolViolation(
    'invalid_startup_packet',
    'invalid startup packet layout: expected terminator as last byte',
  );
}
