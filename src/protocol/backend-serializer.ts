import { AUTH, BACKEND } from './constants.ts';

/**
 * Serializers for the backend messages pgkey itself sends to clients. Each returns one
 * Buffer laid out exactly as protocol-message-formats describes; callers concatenate bursts
 * into a single write.
 */

function message(type: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out.writeUInt8(type, 0);
  out.writeUInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

function cstring(text: string): Buffer {
  // A String ends at its first NUL, so one inside the text (error text can quote token
  // claims) would cut the field short and the client would read the rest as more fields.
  const bytes = Buffer.from(text.replaceAll('\0', '\uFFFD'), 'utf8');
  const out = Buffer.allocUnsafe(bytes.length + 1);
  bytes.copy(out, 0);
  out.writeUInt8(0, bytes.length);
  return out;
}

function int32(value: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeInt32BE(value, 0);
  return out;
}

/** 'R' AuthenticationOk: Int32(0). */
export const authenticationOk = (): Buffer => message(BACKEND.Authentication, int32(AUTH.Ok));

/** 'R' AuthenticationCleartextPassword: Int32(3). */
export const authenticationCleartextPassword = (): Buffer =>
  message(BACKEND.Authentication, int32(AUTH.CleartextPassword));

/** 'R' AuthenticationSASL: Int32(10), mechanism names as Strings, then a terminating NUL. */
export function authenticationSasl(mechanisms: readonly string[]): Buffer {
  return message(
    BACKEND.Authentication,
    Buffer.concat([int32(AUTH.SASL), ...mechanisms.map(cstring), Buffer.from([0])]),
  );
}

/** 'R' AuthenticationSASLContinue: Int32(11), mechanism data. */
export const authenticationSaslContinue = (data: Buffer): Buffer =>
  message(BACKEND.Authentication, Buffer.concat([int32(AUTH.SASLContinue), data]));

/** 'R' AuthenticationSASLFinal: Int32(12), additional data. */
export const authenticationSaslFinal = (data: Buffer): Buffer =>
  message(BACKEND.Authentication, Buffer.concat([int32(AUTH.SASLFinal), data]));

/** 'S' ParameterStatus: String name, String value. */
export const parameterStatus = (name: string, value: string): Buffer =>
  message(BACKEND.ParameterStatus, Buffer.concat([cstring(name), cstring(value)]));

/** 'K' BackendKeyData: Int32 process id, secret key bytes (4 under 3.0, 4..256 under 3.2). */
export const backendKeyData = (processId: number, secretKey: Buffer): Buffer =>
  message(BACKEND.BackendKeyData, Buffer.concat([int32(processId), secretKey]));

/** 'Z' ReadyForQuery: Byte1 transaction status ('I', 'T' or 'E'). */
export const readyForQuery = (status: number): Buffer =>
  message(BACKEND.ReadyForQuery, Buffer.from([status]));

/**
 * 'v' NegotiateProtocolVersion: Int32 newest supported version (major<<16 | minor, as
 * PostgreSQL writes it), Int32 count, then the unrecognised `_pq_.` option names.
 */
export function negotiateProtocolVersion(version: number, unrecognized: readonly string[]): Buffer {
  return message(
    BACKEND.NegotiateProtocolVersion,
    Buffer.concat([int32(version), int32(unrecognized.length), ...unrecognized.map(cstring)]),
  );
}

export type Severity =
  'ERROR' | 'FATAL' | 'PANIC' | 'WARNING' | 'NOTICE' | 'DEBUG' | 'INFO' | 'LOG';

export interface ErrorFields {
  readonly severity: Severity;
  readonly code: string;
  readonly message: string;
  readonly detail?: string | undefined;
  readonly hint?: string | undefined;
}

function fields(f: ErrorFields): Buffer {
  // protocol-error-fields: S (localized severity), V (non-localized, 9.6+), C, M, D, H; then NUL.
  const parts: Buffer[] = [];
  const add = (code: string, value: string | undefined): void => {
    if (value === undefined) return;
    parts.push(Buffer.from(code, 'latin1'), cstring(value));
  };
  add('S', f.severity);
  add('V', f.severity);
  add('C', f.code);
  add('M', f.message);
  add('D', f.detail);
  add('H', f.hint);
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/** 'E' ErrorResponse. */
export const errorResponse = (f: ErrorFields): Buffer => message(BACKEND.ErrorResponse, fields(f));

/** 'N' NoticeResponse (same field layout as ErrorResponse). */
export const noticeResponse = (f: ErrorFields): Buffer =>
  message(BACKEND.NoticeResponse, fields(f));
