import type { Decoder, Field, Fields } from './body-reader.ts';
import {
  MAX_LISTED_PARAMETERS,
  readParameters,
  type BoundParameters,
  type ValueCapture,
} from './bound-parameters.ts';

/**
 * Decoders for the frontend messages the query audit reads, each a generator over a
 * BodyReader (protocol-message-formats.html; reference/protocol.md §7). Statement text is
 * hashed whole and kept up to the rule's `statement_max_bytes`; names are kept up to
 * NAME_KEEP bytes. Fields that cannot matter to an audit record are read and dropped.
 */

/** PostgreSQL's own names are at most 63 bytes; a client may send longer ones. */
const NAME_KEEP = 256;

export interface StatementText {
  /** The text, cut to the rule's byte limit at a character boundary. */
  readonly text: string;
  /** Length of the whole text in bytes. */
  readonly bytes: number;
  /** SHA-256 of the whole text, hex: `printf %s "$sql" | sha256sum` gives the same. */
  readonly sha256: string;
  readonly truncated: boolean;
}

/** Query ('Q'): String, one or several statements. */
export interface QueryMessage {
  readonly statement: StatementText;
}

/** Parse ('P'): String name, String text, Int16 n, Int32[n] parameter type OIDs. */
export interface ParseMessage {
  readonly name: string;
  readonly statement: StatementText;
  /** Declared type OIDs (0 = left to the server), the first MAX_LISTED_PARAMETERS. */
  readonly types: readonly number[];
}

/** Bind ('B'): String portal, String statement, parameters, result format codes. */
export interface BindMessage {
  readonly portal: string;
  readonly statement: string;
  /** Undefined when the parameter block is malformed: no value is ever logged from it. */
  readonly parameters: BoundParameters | undefined;
}

/** Execute ('E'): String portal, Int32 row limit (0 = none). */
export interface ExecuteMessage {
  readonly portal: string;
  readonly maxRows: number;
}

/** Close ('C'): Byte1 'S' (statement) or 'P' (portal), String name. */
export interface CloseMessage {
  readonly target: 'statement' | 'portal' | undefined;
  readonly name: string;
}

/** FunctionCall ('F'): Int32 function OID, parameters, Int16 result format. */
export interface FunctionCallMessage {
  readonly oid: number;
  readonly parameters: BoundParameters | undefined;
}

function name(field: Field): string {
  return field.head.toString('utf8');
}

/** A hashed String whose head was kept to `maxBytes`, as statement text. */
export function statementText(field: Field, maxBytes: number): StatementText {
  const truncated = field.length > maxBytes;
  return {
    text: (truncated ? wholeCharacters(field.head) : field.head).toString('utf8'),
    bytes: field.length,
    sha256: field.sha256?.toString('hex') ?? '',
    truncated,
  };
}

/** `bytes` without a UTF-8 sequence cut short at its end (what a byte cap leaves behind). */
export function wholeCharacters(bytes: Buffer): Buffer {
  let lead = bytes.length - 1;
  // Back over at most three continuation bytes (10xxxxxx) to the last character's lead byte.
  while (lead >= 0 && bytes.length - lead <= 3 && ((bytes[lead] ?? 0) & 0xc0) === 0x80) lead--;
  if (lead < 0) return bytes;
  const first = bytes[lead] ?? 0;
  const width = first >= 0xf0 ? 4 : first >= 0xe0 ? 3 : first >= 0xc0 ? 2 : 1;
  return bytes.length - lead < width ? bytes.subarray(0, lead) : bytes;
}

export function* decodeQuery(f: Fields, maxBytes: number): Decoder<QueryMessage> {
  const text = yield* f.string(maxBytes, true);
  return { statement: statementText(text, maxBytes) };
}

export function* decodeParse(f: Fields, maxBytes: number): Decoder<ParseMessage> {
  const statementName = yield* f.string(NAME_KEEP);
  const text = yield* f.string(maxBytes, true);
  const count = yield* f.int(2);
  const types: number[] = [];
  for (let i = 0; i < count; i++) {
    const oid = yield* f.int(4);
    if (i < MAX_LISTED_PARAMETERS) types.push(oid >>> 0);
  }
  return { name: name(statementName), statement: statementText(text, maxBytes), types };
}

export function* decodeBind(f: Fields, capture: ValueCapture | undefined): Decoder<BindMessage> {
  const portal = yield* f.string(NAME_KEEP);
  const statement = yield* f.string(NAME_KEEP);
  const parameters = yield* readParameters(f, capture);
  const resultFormats = yield* f.int(2);
  for (let i = 0; i < resultFormats; i++) yield* f.int(2);
  return { portal: name(portal), statement: name(statement), parameters };
}

export function* decodeExecute(f: Fields): Decoder<ExecuteMessage> {
  const portal = yield* f.string(NAME_KEEP);
  const maxRows = yield* f.int(4);
  return { portal: name(portal), maxRows };
}

export function* decodeClose(f: Fields): Decoder<CloseMessage> {
  const kind = yield* f.int(1);
  const closed = yield* f.string(NAME_KEEP);
  const target = kind === 0x53 ? 'statement' : kind === 0x50 ? 'portal' : undefined;
  return { target, name: name(closed) };
}

export function* decodeFunctionCall(
  f: Fields,
  capture: ValueCapture | undefined,
): Decoder<FunctionCallMessage> {
  const oid = yield* f.int(4);
  const parameters = yield* readParameters(f, capture);
  yield* f.int(2); // result format
  return { oid: oid >>> 0, parameters };
}
