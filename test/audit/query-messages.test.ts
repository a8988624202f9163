import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { BodyReader, type Decoder, type Fields } from '../../src/audit/body-reader.ts';
import {
  decodeBind,
  decodeClose,
  decodeExecute,
  decodeFunctionCall,
  decodeParse,
  decodeQuery,
  wholeCharacters,
} from '../../src/audit/query-messages.ts';
import {
  LOGGED_TOTAL_MAX,
  LOGGED_VALUE_MAX,
  parameterRecord,
  valueCapture,
} from '../../src/audit/query-parameters.ts';
import { bytes, describeSplit, splits, type ByteBuilder } from '../support/bytes.ts';

// Message bodies written out by hand (protocol-message-formats.html), without the 5-byte header.

/** Reads `chunks` as slices of larger buffers, NUL bytes around them included. */
function read<T>(decode: (f: Fields) => Decoder<T>, chunks: readonly Buffer[]): T | undefined {
  const reader = new BodyReader(decode);
  for (const chunk of chunks) {
    const padded = Buffer.concat([Buffer.from([0, 0xaa]), chunk, Buffer.from([0, 0xbb])]);
    reader.feed(padded, 2, 2 + chunk.length);
  }
  return reader.finish();
}

/** Decodes `body` whole and cut at every byte boundary; every way must agree. */
function decodeEverySplit<T>(decode: (f: Fields) => Decoder<T>, body: Buffer): T | undefined {
  const whole = read(decode, [body]);
  for (const chunks of splits(body)) {
    assert.deepEqual(read(decode, chunks), whole, describeSplit(chunks));
  }
  return whole;
}

const sha256 = (data: string | Buffer, encoding: 'hex' | 'base64url' = 'hex'): string =>
  createHash('sha256').update(data).digest(encoding);

/** Bind's parameter block: format codes, then (length, bytes) per value; null = -1. */
function parameterBlock(
  b: ByteBuilder,
  formats: readonly number[],
  values: ReadonlyArray<Buffer | string | null>,
): ByteBuilder {
  b.int16(formats.length);
  for (const f of formats) b.int16(f);
  b.int16(values.length);
  for (const v of values) {
    if (v === null) b.int32(-1);
    else {
      const data = typeof v === 'string' ? Buffer.from(v) : v;
      b.int32(data.length).raw(data);
    }
  }
  return b;
}

function bindBody(
  formats: readonly number[],
  values: ReadonlyArray<Buffer | string | null>,
  names: { portal?: string; statement?: string } = {},
): Buffer {
  const b = bytes()
    .cstring(names.portal ?? '')
    .cstring(names.statement ?? '');
  return parameterBlock(b, formats, values).int16(1).int16(0).build();
}

const LOG = valueCapture('log');
const HASH = valueCapture('hash');

describe('Query (Q) and Parse (P)', () => {
  it('reads the text, its length and a hash of all of it', () => {
    const body = bytes().cstring('SELECT 1; SELECT 2').build();
    assert.deepEqual(
      decodeEverySplit((f) => decodeQuery(f, 4096), body),
      {
        statement: {
          text: 'SELECT 1; SELECT 2',
          bytes: 18,
          sha256: sha256('SELECT 1; SELECT 2'),
          truncated: false,
        },
      },
    );
  });

  it('cuts long text at a character boundary and still hashes the whole text', () => {
    const sql = `SELECT 'Grüße ${'x'.repeat(100)}'`;
    const body = bytes().cstring(sql).build();
    // 'ü' is bytes 10-11: a 11-byte cap would split it.
    const message = decodeEverySplit((f) => decodeQuery(f, 11), body);
    assert.deepEqual(message?.statement, {
      text: "SELECT 'Gr",
      bytes: Buffer.byteLength(sql),
      sha256: sha256(sql),
      truncated: true,
    });
  });

  it('refuses a Query without its NUL, or with bytes after it', () => {
    assert.equal(
      decodeEverySplit((f) => decodeQuery(f, 64), Buffer.from('SELECT 1')),
      undefined,
    );
    const trailing = bytes().cstring('SELECT 1').byte(0x41).build();
    assert.equal(
      decodeEverySplit((f) => decodeQuery(f, 64), trailing),
      undefined,
    );
  });

  it('reads a Parse: name, text and declared parameter types', () => {
    const body = bytes().cstring('s1').cstring('SELECT $1::int, $2').int16(2).int32(23).int32(0);
    assert.deepEqual(
      decodeEverySplit((f) => decodeParse(f, 4096), body.build()),
      {
        name: 's1',
        statement: {
          text: 'SELECT $1::int, $2',
          bytes: 18,
          sha256: sha256('SELECT $1::int, $2'),
          truncated: false,
        },
        types: [23, 0],
      },
    );
  });

  it('refuses a Parse whose type list is shorter than its count', () => {
    const body = bytes().cstring('').cstring('SELECT $1').int16(2).int32(23).build();
    assert.equal(
      decodeEverySplit((f) => decodeParse(f, 4096), body),
      undefined,
    );
  });
});

describe('Bind (B)', () => {
  it('reads text parameters and a NULL, keeping values only as the capture asks', () => {
    const body = bindBody([], ['42', null, 'Grüße'], { portal: 'p1', statement: 's1' });
    const logged = decodeEverySplit((f) => decodeBind(f, LOG), body);
    assert.equal(logged?.portal, 'p1');
    assert.equal(logged?.statement, 's1');
    assert.equal(logged?.parameters?.count, 3);
    assert.equal(logged?.parameters?.formats, 'ttt');
    assert.deepEqual(
      logged?.parameters?.values.map((v) => v?.head.toString()),
      ['42', undefined, 'Grüße'],
    );
    const none = decodeEverySplit((f) => decodeBind(f, undefined), body);
    assert.deepEqual(none?.parameters, { count: 3, formats: 'ttt', values: [] });
  });

  it('reads binary parameters by one format code for all, or one per parameter', () => {
    const int4 = Buffer.from([0, 0, 0, 42]);
    const all = decodeEverySplit((f) => decodeBind(f, HASH), bindBody([1], [int4, int4]));
    assert.equal(all?.parameters?.formats, 'bb');
    assert.deepEqual(
      all?.parameters?.values.map((v) => v?.sha256?.toString('base64url')),
      [sha256(int4, 'base64url'), sha256(int4, 'base64url')],
    );
    const mixed = decodeEverySplit((f) => decodeBind(f, LOG), bindBody([0, 1], ['x', int4]));
    assert.equal(mixed?.parameters?.formats, 'tb');
  });

  for (const [title, body] of [
    ['two format codes for three parameters', bindBody([0, 1], ['a', 'b', 'c'])],
    ['format code 2', bindBody([2], ['a'])],
  ] as const) {
    it(`keeps the names but no parameters for ${title}`, () => {
      const bind = decodeEverySplit((f) => decodeBind(f, LOG), body);
      assert.deepEqual(bind, { portal: '', statement: '', parameters: undefined });
    });
  }

  it('reads nothing from a truncated Bind or one with a negative length', () => {
    const truncated = bytes().cstring('').cstring('').int16(0).int16(1).int32(10).text('abc');
    assert.equal(
      decodeEverySplit((f) => decodeBind(f, LOG), truncated.build()),
      undefined,
    );
    const negative = bytes().cstring('').cstring('').int16(0).int16(1).int32(-2).int16(0);
    assert.equal(
      decodeEverySplit((f) => decodeBind(f, LOG), negative.build()),
      undefined,
    );
  });

  it('keeps at most the logged caps of each value and of all values', () => {
    const big = Buffer.alloc(LOGGED_VALUE_MAX * 3, 0x61);
    const count = Math.ceil(LOGGED_TOTAL_MAX / LOGGED_VALUE_MAX) + 2;
    const body = bindBody(
      [],
      Array.from({ length: count }, () => big),
    );
    const bind = read((f) => decodeBind(f, LOG), [body]);
    const kept = bind?.parameters?.values.map((v) => v?.head.length) ?? [];
    assert.equal(kept.length, count);
    assert.ok(kept.every((n) => n !== undefined && n <= LOGGED_VALUE_MAX));
    assert.equal(
      kept.reduce((a, n) => (a ?? 0) + (n ?? 0), 0),
      LOGGED_TOTAL_MAX,
    );
  });
});

describe('Execute (E), Close (C), FunctionCall (F)', () => {
  it('reads an Execute: portal and row limit', () => {
    const body = bytes().cstring('p1').int32(100).build();
    assert.deepEqual(decodeEverySplit(decodeExecute, body), { portal: 'p1', maxRows: 100 });
  });

  it('reads a Close of a statement and of a portal', () => {
    const statement = bytes().byte('S').cstring('s1').build();
    assert.deepEqual(decodeEverySplit(decodeClose, statement), {
      target: 'statement',
      name: 's1',
    });
    const portal = bytes().byte('P').cstring('').build();
    assert.deepEqual(decodeEverySplit(decodeClose, portal), { target: 'portal', name: '' });
  });

  it('reads a FunctionCall: the OID and its arguments like Bind parameters', () => {
    const b = bytes().int32(1234);
    const body = parameterBlock(b, [1], [Buffer.from([0, 0, 0, 7])])
      .int16(1)
      .build();
    const call = decodeEverySplit((f) => decodeFunctionCall(f, LOG), body);
    assert.equal(call?.oid, 1234);
    assert.equal(call?.parameters?.formats, 'b');
    assert.deepEqual(call?.parameters?.values[0]?.head, Buffer.from([0, 0, 0, 7]));
  });
});

describe('parameters per rule mode', () => {
  const body = bindBody([0, 1, 0], ['secret', Buffer.from([0xff, 0x00]), null]);
  const bound = (mode: 'none' | 'redact' | 'hash' | 'log') =>
    read((f) => decodeBind(f, valueCapture(mode)), [body])?.parameters;

  it('none records nothing, redact count, formats and types only', () => {
    assert.equal(parameterRecord('none', bound('none')!, [25]), undefined);
    assert.deepEqual(parameterRecord('redact', bound('redact')!, [25, 17]), {
      count: 3,
      formats: 'tbt',
      types: [25, 17],
    });
  });

  it('hash records a base64url SHA-256 per value; log text as sent, binary as base64', () => {
    assert.deepEqual(parameterRecord('hash', bound('hash')!, []), {
      count: 3,
      formats: 'tbt',
      values: [sha256('secret', 'base64url'), sha256(Buffer.from([0xff, 0]), 'base64url'), null],
    });
    assert.deepEqual(parameterRecord('log', bound('log')!, []), {
      count: 3,
      formats: 'tbt',
      values: ['secret', '/wA=', null],
    });
  });

  it('log marks values cut at the cap, and never splits a character', () => {
    const long = 'é'.repeat(LOGGED_VALUE_MAX); // two bytes each: the cap falls on a boundary
    const odd = `x${long}`; // the cap falls inside an 'é'
    const b = read((f) => decodeBind(f, LOG), [bindBody([], [long, odd])])!.parameters!;
    const record = parameterRecord('log', b, []);
    assert.equal(record?.truncated, true);
    assert.equal(record?.values?.[0], 'é'.repeat(LOGGED_VALUE_MAX / 2));
    assert.equal(record?.values?.[1], `x${'é'.repeat(LOGGED_VALUE_MAX / 2 - 1)}`);
  });

  it('wholeCharacters drops only an unfinished sequence at the end', () => {
    const snowman = Buffer.from('a☃'); // 61 e2 98 83
    assert.deepEqual(wholeCharacters(snowman), snowman);
    assert.deepEqual(wholeCharacters(snowman.subarray(0, 3)), Buffer.from('a'));
    assert.deepEqual(wholeCharacters(snowman.subarray(0, 2)), Buffer.from('a'));
    assert.deepEqual(wholeCharacters(Buffer.alloc(0)), Buffer.alloc(0));
  });
});
