import {
  AUTH,
  BACKEND,
  MAX_CANCEL_KEY_LENGTH,
  MIN_CANCEL_KEY_LENGTH,
  TRANSACTION_STATUS,
} from './constants.ts';
import { ownedCopy } from '../runtime/owned-buffer.ts';
import type { Frame } from './message-reader.ts';
import { protocolViolation } from './protocol-error.ts';

/**
 * Decoders for the backend messages pgkey reads as a client of the upstream PostgreSQL,
 * during its login only (after ReadyForQuery, server bytes are relayed without parsing).
 * The upstream is untrusted input too: every field is length-checked and optional error
 * fields stay optional (PgBouncer CVE-2026-6666).
 */
export type BackendMessage =
  | { readonly name: 'authentication'; readonly subtype: number; readonly data: Buffer }
  | { readonly name: 'parameterStatus'; readonly parameter: string; readonly value: string }
  | { readonly name: 'backendKeyData'; readonly processId: number; readonly secretKey: Buffer }
  | { readonly name: 'readyForQuery'; readonly status: number }
  | { readonly name: 'errorResponse'; readonly fields: ReadonlyMap<string, string> }
  | { readonly name: 'noticeResponse'; readonly fields: ReadonlyMap<string, string> }
  | {
      readonly name: 'negotiateProtocolVersion';
      readonly newestMinor: number;
      readonly unrecognized: readonly string[];
    }
  | { readonly name: 'other'; readonly type: number };

export function decodeBackendMessage(frame: Frame): BackendMessage {
  const { type, body } = frame;
  switch (type) {
    case BACKEND.Authentication: {
      if (body.length < 4) throw malformed('authentication');
      const subtype = body.readInt32BE(0);
      // AuthenticationOk is exactly Int32(0); bytes after it would be read as the next message.
      if (subtype === AUTH.Ok && body.length !== 4) throw malformed('AuthenticationOk');
      return { name: 'authentication', subtype, data: body.subarray(4) };
    }
    case BACKEND.ParameterStatus: {
      const name = cstringAt(body, 0, 'ParameterStatus');
      const value = cstringAt(body, name.next, 'ParameterStatus');
      if (value.next !== body.length) throw malformed('ParameterStatus');
      return { name: 'parameterStatus', parameter: name.text, value: value.text };
    }
    case BACKEND.BackendKeyData: {
      const keyLength = body.length - 4;
      if (keyLength < MIN_CANCEL_KEY_LENGTH || keyLength > MAX_CANCEL_KEY_LENGTH) {
        throw malformed('BackendKeyData');
      }
      return {
        name: 'backendKeyData',
        processId: body.readInt32BE(0),
        // Kept for the whole session (cancel): its own memory, not a slice of the pool.
        secretKey: ownedCopy(body.subarray(4)),
      };
    }
    case BACKEND.ReadyForQuery: {
      if (body.length !== 1) throw malformed('ReadyForQuery');
      const status = body.readUInt8(0);
      // 'I', 'T' or 'E' only: pgkey repeats this byte to its client in its own 'Z'.
      if (!TRANSACTION_STATUSES.has(status)) throw malformed('ReadyForQuery');
      return { name: 'readyForQuery', status };
    }
    case BACKEND.ErrorResponse:
    case BACKEND.NoticeResponse:
      return {
        name: type === BACKEND.ErrorResponse ? 'errorResponse' : 'noticeResponse',
        fields: decodeFields(body),
      };
    case BACKEND.NegotiateProtocolVersion: {
      if (body.length < 8) throw malformed('NegotiateProtocolVersion');
      const newest = body.readInt32BE(0);
      const count = body.readInt32BE(4);
      if (count < 0 || count > 64) throw malformed('NegotiateProtocolVersion');
      const unrecognized: string[] = [];
      let offset = 8;
      for (let i = 0; i < count; i++) {
        const option = cstringAt(body, offset, 'NegotiateProtocolVersion');
        unrecognized.push(option.text);
        offset = option.next;
      }
      if (offset !== body.length) throw malformed('NegotiateProtocolVersion');
      return { name: 'negotiateProtocolVersion', newestMinor: newest & 0xffff, unrecognized };
    }
    default:
      return { name: 'other', type };
  }
}

/** ErrorResponse / NoticeResponse fields: (Byte1 code, String value)* then NUL. */
export function decodeFields(body: Buffer): ReadonlyMap<string, string> {
  const fields = new Map<string, string>();
  let offset = 0;
  for (;;) {
    if (offset >= body.length) throw malformed('ErrorResponse');
    const code = body.readUInt8(offset);
    if (code === 0) {
      // The terminator is the last byte (libpq: "message contents do not agree with length").
      if (offset !== body.length - 1) throw malformed('ErrorResponse');
      break;
    }
    const value = cstringAt(body, offset + 1, 'ErrorResponse');
    fields.set(String.fromCharCode(code), value.text);
    offset = value.next;
  }
  return fields;
}

/**
 * The mechanism list of AuthenticationSASL (R/10): one String per mechanism, then a
 * terminating NUL that is the last byte (protocol-message-formats). Names are ASCII.
 */
export function decodeSaslMechanisms(data: Buffer): string[] {
  const mechanisms: string[] = [];
  let offset = 0;
  for (;;) {
    if (offset >= data.length) throw malformed('AuthenticationSASL');
    if (data[offset] === 0) {
      if (offset !== data.length - 1) throw malformed('AuthenticationSASL');
      return mechanisms;
    }
    const mechanism = cstringAt(data, offset, 'AuthenticationSASL');
    mechanisms.push(mechanism.text);
    offset = mechanism.next;
  }
}

/** Subtypes pgkey accepts as a client; anything else ends the login (we never do MD5/GSS). */
export const SUPPORTED_AUTH = new Set<number>([
  AUTH.Ok,
  AUTH.SASL,
  AUTH.SASLContinue,
  AUTH.SASLFinal,
]);

const TRANSACTION_STATUSES = new Set<number>(Object.values(TRANSACTION_STATUS));

function cstringAt(body: Buffer, offset: number, what: string): { text: string; next: number } {
  const end = body.indexOf(0, offset);
  if (end === -1) throw malformed(what);
  return { text: body.toString('utf8', offset, end), next: end + 1 };
}

function malformed(what: string) {
  return protocolViolation('malformed_backend_message', `malformed ${what} message`);
}
