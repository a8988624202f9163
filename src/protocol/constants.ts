/**
 * Numbers fixed by the PostgreSQL frontend/backend protocol.
 * https://www.postgresql.org/docs/18/protocol-message-formats.html and postgres
 * src/include/libpq/pqcomm.h.
 */

/** Request codes carried where a StartupMessage carries its protocol version. */
export const SSL_REQUEST_CODE = (1234 << 16) | 5679; // 80877103
export const GSSENC_REQUEST_CODE = (1234 << 16) | 5680; // 80877104
export const CANCEL_REQUEST_CODE = (1234 << 16) | 5678; // 80877102

export const PROTOCOL_3_0 = (3 << 16) | 0;
/** Protocol 3.2 (PostgreSQL 18): only the cancel key length differs from 3.0. 3.1 was never used. */
export const PROTOCOL_3_2 = (3 << 16) | 2;
export const LATEST_MINOR = 2;

/** pqcomm.h MAX_STARTUP_PACKET_LENGTH: longer startup packets are dropped without a reply. */
export const MAX_STARTUP_PACKET_LENGTH = 10_000;

/** Cancel keys: exactly 4 bytes under 3.0, 4..256 bytes under 3.2 (postgres commit e411a8d). */
export const MIN_CANCEL_KEY_LENGTH = 4;
export const MAX_CANCEL_KEY_LENGTH = 256;

/** Auth exchange messages are capped like PG_MAX_AUTH_TOKEN_LENGTH (65535) plus framing slack. */
export const MAX_AUTH_MESSAGE_LENGTH = 65_536 + 512;

/** Byte1 codes of the backend (server → client) messages pgkey reads or writes. */
export const BACKEND = {
  Authentication: 0x52, // 'R'
  BackendKeyData: 0x4b, // 'K'
  ErrorResponse: 0x45, // 'E'
  NoticeResponse: 0x4e, // 'N'
  ParameterStatus: 0x53, // 'S'
  ReadyForQuery: 0x5a, // 'Z'
  NegotiateProtocolVersion: 0x76, // 'v'
  // The replies the query audit follows (protocol-flow.html).
  ParseComplete: 0x31, // '1'
  BindComplete: 0x32, // '2'
  CloseComplete: 0x33, // '3'
  CommandComplete: 0x43, // 'C'
  DataRow: 0x44, // 'D'
  EmptyQueryResponse: 0x49, // 'I'
  PortalSuspended: 0x73, // 's'
  NoData: 0x6e, // 'n'
  RowDescription: 0x54, // 'T'
  CopyInResponse: 0x47, // 'G'
  CopyOutResponse: 0x48, // 'H'
  CopyBothResponse: 0x57, // 'W'
  CopyData: 0x64, // 'd'
} as const;

/** Byte1 codes of the frontend (client → server) messages pgkey reads or writes. */
export const FRONTEND = {
  /** PasswordMessage, SASLInitialResponse and SASLResponse all use 'p'; state tells them apart. */
  Password: 0x70, // 'p'
  Terminate: 0x58, // 'X'
  /** The three messages the server answers with ReadyForQuery (protocol-flow.html). */
  Query: 0x51, // 'Q'
  Sync: 0x53, // 'S'
  FunctionCall: 0x46, // 'F'
  // The extended query protocol and COPY, as the query audit reads them.
  Parse: 0x50, // 'P'
  Bind: 0x42, // 'B'
  Execute: 0x45, // 'E'
  Close: 0x43, // 'C'
  Describe: 0x44, // 'D'
  CopyData: 0x64, // 'd'
} as const;

/** AuthenticationXXX subtypes inside an 'R' message. */
export const AUTH = {
  Ok: 0,
  KerberosV5: 2,
  CleartextPassword: 3,
  MD5Password: 5,
  GSS: 7,
  GSSContinue: 8,
  SSPI: 9,
  SASL: 10,
  SASLContinue: 11,
  SASLFinal: 12,
} as const;

/** ReadyForQuery transaction status bytes. */
export const TRANSACTION_STATUS = {
  Idle: 0x49, // 'I'
  InTransaction: 0x54, // 'T'
  Failed: 0x45, // 'E'
} as const;
