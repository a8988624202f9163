import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import type { QueryExecution } from '../../src/audit/events.ts';
import { QueryTap } from '../../src/audit/query-tap.ts';
import type { QueryAuditConfig } from '../../src/config/schema.ts';
import { FrameTracker } from '../../src/protocol/frame-tracker.ts';
import { ManualClock } from '../../src/runtime/clock.ts';
import { bytes, typedMessage } from '../support/bytes.ts';

// A client and a server conversation written out by hand (protocol-message-formats.html,
// protocol-flow.html), fed to a tap through the relay's two FrameTrackers.

type Step = { readonly from: 'client' | 'server'; readonly data: Buffer };
const client = (...messages: Buffer[]): Step => ({ from: 'client', data: Buffer.concat(messages) });
const server = (...messages: Buffer[]): Step => ({ from: 'server', data: Buffer.concat(messages) });

// Frontend messages.
const Q = (sql: string) => typedMessage('Q', bytes().cstring(sql).build());
const P = (name: string, sql: string, types: number[] = []) => {
  const b = bytes().cstring(name).cstring(sql).int16(types.length);
  for (const t of types) b.int32(t);
  return typedMessage('P', b.build());
};
type Value = string | Buffer | null;
const B = (portal: string, statement: string, values: Value[], formats: number[] = []) => {
  const b = bytes().cstring(portal).cstring(statement).int16(formats.length);
  for (const f of formats) b.int16(f);
  b.int16(values.length);
  for (const v of values) {
    if (v === null) b.int32(-1);
    else b.int32(Buffer.byteLength(v)).raw(typeof v === 'string' ? Buffer.from(v) : v);
  }
  return typedMessage('B', b.int16(0).build());
};
const E = (portal = '', maxRows = 0) =>
  typedMessage('E', bytes().cstring(portal).int32(maxRows).build());
const D = (portal = '') => typedMessage('D', bytes().byte('P').cstring(portal).build());
const C = (kind: 'S' | 'P', name: string) =>
  typedMessage('C', bytes().byte(kind).cstring(name).build());
const S = typedMessage('S');
const copyData = (text: string) => typedMessage('d', Buffer.from(text));
const copyDone = typedMessage('c');
const F = (oid: number, args: Buffer[]) => {
  const b = bytes().int32(oid).int16(1).int16(1).int16(args.length);
  for (const a of args) b.int32(a.length).raw(a);
  return typedMessage('F', b.int16(1).build());
};

// Backend messages.
const parseComplete = typedMessage('1');
const bindComplete = typedMessage('2');
const closeComplete = typedMessage('3');
const rowDescription = typedMessage('T', [0, 1, 0x61, 0, 0, 0, 0, 0, 0, 0]);
const noData = typedMessage('n');
const dataRow = typedMessage('D', [0, 1, 0, 0, 0, 1, 0x31]);
const complete = (tag: string) => typedMessage('C', bytes().cstring(tag).build());
const ready = (status = 'I') => typedMessage('Z', [status.charCodeAt(0)]);
const emptyQuery = typedMessage('I');
const suspended = typedMessage('s');
const error = (sqlstate: string) =>
  typedMessage(
    'E',
    bytes()
      .byte('S')
      .cstring('ERROR')
      .byte('C')
      .cstring(sqlstate)
      .byte('M')
      .cstring('value "hunter2" is secret')
      .byte(0)
      .build(),
  );
const copyIn = typedMessage('G', [0, 0, 0]);
const copyOut = typedMessage('H', [0, 0, 0]);
const functionResult = typedMessage('V', [0, 0, 0, 1, 0x31]);

const sha = (text: string): string => createHash('sha256').update(text).digest('hex');
const b64url = (data: string | Buffer): string =>
  createHash('sha256').update(data).digest('base64url');

function audit(overrides: Partial<QueryAuditConfig> = {}): QueryAuditConfig {
  return { queries: true, parameters: 'log', statement_max_bytes: 4096, ...overrides };
}

/**
 * Plays `steps` in order. `cut` splits the stream of one side at one byte offset (a
 * chunk boundary inside a message), or `'bytes'` feeds every byte on its own.
 */
function play(
  steps: readonly Step[],
  config: QueryAuditConfig = audit(),
  cut?: { readonly from: Step['from']; readonly at: number | 'bytes' },
  end = true,
): QueryExecution[] {
  const records: QueryExecution[] = [];
  const tap = new QueryTap(config, new ManualClock(), (r) => records.push(r));
  const trackers = {
    client: new FrameTracker(tap.clientOptions({})),
    server: new FrameTracker(tap.serverOptions({})),
  };
  const offset = { client: 0, server: 0 };
  for (const step of steps) {
    const tracker = trackers[step.from];
    const start = offset[step.from];
    offset[step.from] += step.data.length;
    if (cut?.from !== step.from) tracker.feed(step.data);
    else if (cut.at === 'bytes') for (const b of step.data) tracker.feed(Buffer.from([b]));
    else if (cut.at > start && cut.at < start + step.data.length) {
      tracker.feed(step.data.subarray(0, cut.at - start));
      tracker.feed(step.data.subarray(cut.at - start));
    } else tracker.feed(step.data);
  }
  if (end) tap.end();
  return records;
}

/** `play` whole, then cut at every byte of either side, and a byte at a time: all agree. */
function playEverySplit(steps: readonly Step[], config?: QueryAuditConfig): QueryExecution[] {
  const whole = play(steps, config);
  for (const from of ['client', 'server'] as const) {
    const total = steps.filter((s) => s.from === from).reduce((n, s) => n + s.data.length, 0);
    for (let at = 1; at < total; at++) {
      assert.deepEqual(play(steps, config, { from, at }), whole, `${from} cut at ${at}`);
    }
    assert.deepEqual(play(steps, config, { from, at: 'bytes' }), whole, `${from} bytewise`);
  }
  return whole;
}

const statement = (text: string) => ({
  statement: text,
  statement_sha256: sha(text),
  statement_bytes: Buffer.byteLength(text),
  statement_truncated: false,
});

describe('query tap: simple protocol', () => {
  it('records a Query with its rows', () => {
    const records = playEverySplit([
      client(Q('SELECT 1')),
      server(rowDescription, dataRow, complete('SELECT 1'), ready()),
    ]);
    assert.deepEqual(records, [
      {
        protocol: 'simple',
        ...statement('SELECT 1'),
        commands: [{ command: 'SELECT', rows: 1 }],
        rows: 1,
        outcome: 'ok',
        duration_ms: 0,
      },
    ]);
  });

  it('records a multi-statement Query once, with each command', () => {
    const sql = 'SELECT 1; INSERT INTO t VALUES (1); CREATE TABLE u ()';
    const [record] = playEverySplit([
      client(Q(sql)),
      server(rowDescription, dataRow, complete('SELECT 1'), complete('INSERT 0 1')),
      server(complete('CREATE TABLE'), ready()),
    ]);
    assert.deepEqual(record?.commands, [
      { command: 'SELECT', rows: 1 },
      { command: 'INSERT', rows: 1 },
      { command: 'CREATE TABLE' },
    ]);
    assert.equal(record?.rows, 2);
    assert.equal(record?.statement, sql);
  });

  it('records an error by SQLSTATE, never the server text', () => {
    const records = playEverySplit([
      client(Q('SELECT 1; SELECT 1/0; SELECT 3')),
      server(rowDescription, dataRow, complete('SELECT 1'), error('22012'), ready()),
      client(Q('')),
      server(emptyQuery, ready()),
    ]);
    assert.deepEqual(
      records.map((r) => [r.outcome, r.sqlstate, r.commands.length]),
      [
        ['error', '22012', 1],
        ['ok', undefined, 0],
      ],
    );
    assert.ok(!JSON.stringify(records).includes('hunter2'));
  });

  it('records COPY in and out with direction, rows and bytes', () => {
    const records = playEverySplit([
      client(Q('COPY t FROM STDIN')),
      server(copyIn),
      client(copyData('1\n2\n'), copyData('3\n'), copyDone),
      server(complete('COPY 3'), ready()),
      client(Q('COPY t TO STDOUT')),
      server(copyOut, copyData('1\n'), copyData('2\n'), typedMessage('c')),
      server(complete('COPY 2'), ready()),
    ]);
    assert.deepEqual(
      records.map((r) => [r.copy, r.rows]),
      [
        [{ direction: 'in', bytes: 6, rows: 3 }, 3],
        [{ direction: 'out', bytes: 4, rows: 2 }, 2],
      ],
    );
  });

  it('records a FunctionCall by OID with its arguments', () => {
    const [record] = playEverySplit([
      client(F(1598, [Buffer.from([0, 0, 0, 7])])),
      server(functionResult, ready()),
    ]);
    assert.deepEqual(record, {
      protocol: 'function',
      function_oid: 1598,
      parameters: { count: 1, formats: 'b', values: ['AAAABw=='] },
      commands: [],
      outcome: 'ok',
      duration_ms: 0,
    });
  });

  it('cuts long statements but hashes them whole', () => {
    const sql = `SELECT '${'x'.repeat(300)}'`;
    const [record] = play(
      [client(Q(sql)), server(complete('SELECT 1'), ready())],
      audit({ statement_max_bytes: 64 }),
    );
    assert.equal(record?.statement, sql.slice(0, 64));
    assert.equal(record?.statement_sha256, sha(sql));
    assert.equal(record?.statement_bytes, sql.length);
    assert.equal(record?.statement_truncated, true);
  });
});

describe('query tap: extended protocol', () => {
  const reused = [
    client(P('s1', 'SELECT $1::int, $2', [23]), B('', 's1', ['42', null]), D(), E(), S),
    server(parseComplete, bindComplete, rowDescription, dataRow, complete('SELECT 1'), ready()),
    client(B('', 's1', [Buffer.from([0, 0, 0, 7]), 'x'], [1, 0]), E(), S),
    server(bindComplete, dataRow, complete('SELECT 1'), ready()),
  ];

  it('follows Parse → Bind → Execute for a named statement used twice', () => {
    const records = playEverySplit(reused);
    const common = {
      protocol: 'extended',
      ...statement('SELECT $1::int, $2'),
      statement_name: 's1',
      portal: '',
      commands: [{ command: 'SELECT', rows: 1 }],
      rows: 1,
      outcome: 'ok',
      duration_ms: 0,
    };
    assert.deepEqual(records, [
      { ...common, parameters: { count: 2, formats: 'tt', types: [23], values: ['42', null] } },
      {
        ...common,
        parameters: { count: 2, formats: 'bt', types: [23], values: ['AAAABw==', 'x'] },
      },
    ]);
  });

  it('records parameters exactly as each mode allows', () => {
    const of = (parameters: QueryAuditConfig['parameters']) =>
      play(reused, audit({ parameters })).map((r) => r.parameters);
    assert.deepEqual(of('none'), [undefined, undefined]);
    assert.deepEqual(of('redact'), [
      { count: 2, formats: 'tt', types: [23] },
      { count: 2, formats: 'bt', types: [23] },
    ]);
    assert.deepEqual(of('hash'), [
      { count: 2, formats: 'tt', types: [23], values: [b64url('42'), null] },
      {
        count: 2,
        formats: 'bt',
        types: [23],
        values: [b64url(Buffer.from([0, 0, 0, 7])), b64url('x')],
      },
    ]);
  });

  it('records an invalid Bind as the failed execution, without parameters', () => {
    const badBind = B('', '', ['a', 'b', 'c'], [0, 1]); // two format codes, three values
    const records = playEverySplit([
      client(P('', 'SELECT $1, $2, $3'), badBind, E(), S),
      server(parseComplete, error('08P01'), ready()),
    ]);
    assert.deepEqual(records, [
      {
        protocol: 'extended',
        ...statement('SELECT $1, $2, $3'),
        statement_name: '',
        portal: '',
        commands: [],
        outcome: 'error',
        sqlstate: '08P01',
        duration_ms: 0,
      },
    ]);
  });

  it('after an error, records the rest of the batch up to Sync as skipped', () => {
    const records = playEverySplit([
      client(P('', 'SELECT 1/$1'), B('', '', ['0']), E(), P('', 'SELECT 2'), B('', '', []), E(), S),
      server(parseComplete, bindComplete, error('22012'), ready('I')),
      client(B('', '', []), E(), S),
      server(error('26000'), ready()),
    ]);
    assert.deepEqual(
      records.map((r) => [r.statement, r.outcome, r.sqlstate]),
      [
        ['SELECT 1/$1', 'error', '22012'],
        ['SELECT 2', 'skipped', undefined],
        // The unnamed statement is still the one the server accepted.
        ['SELECT 1/$1', 'error', '26000'],
      ],
    );
  });

  it('never shows text the server refused: a failed re-Parse of a name keeps the old text', () => {
    const records = play([
      client(P('s1', 'SELECT 1'), S),
      server(parseComplete, ready()),
      client(P('s1', 'DROP TABLE accounts'), S),
      server(error('42P05'), ready()),
      client(B('', 's1', []), E(), S),
      server(bindComplete, dataRow, complete('SELECT 1'), ready()),
    ]);
    assert.deepEqual(
      records.map((r) => [r.statement, r.outcome]),
      [['SELECT 1', 'ok']],
    );
  });

  it('forgets a closed statement, and suspended portals count their rows', () => {
    const records = playEverySplit([
      client(P('s1', 'SELECT x FROM t'), C('S', 's1'), S),
      server(parseComplete, closeComplete, ready()),
      client(B('', 's1', []), E(), S),
      server(error('26000'), ready()),
      client(P('', 'SELECT x FROM t'), B('c1', '', []), E('c1', 2), E('c1', 2), S),
      server(parseComplete, bindComplete, dataRow, dataRow, suspended),
      server(dataRow, complete('SELECT 1'), ready('I')),
    ]);
    assert.deepEqual(
      records.map((r) => [r.statement, r.statement_name, r.portal, r.outcome, r.rows]),
      [
        [undefined, 's1', '', 'error', undefined],
        ['SELECT x FROM t', '', 'c1', 'ok', 2],
        ['SELECT x FROM t', '', 'c1', 'ok', 1],
      ],
    );
  });

  it('drops the Sync the server ignores during an extended COPY FROM STDIN', () => {
    const records = playEverySplit([
      client(P('', 'COPY t FROM STDIN'), B('', '', []), E(), S),
      server(parseComplete, bindComplete, copyIn),
      client(copyData('1\n'), copyDone, S),
      server(complete('COPY 1'), ready()),
      client(Q('SELECT 1')),
      server(noData, complete('SELECT 1'), ready()),
    ]);
    assert.deepEqual(
      records.map((r) => [r.statement, r.copy?.rows, r.outcome]),
      [
        ['COPY t FROM STDIN', 1, 'ok'],
        ['SELECT 1', undefined, 'ok'],
      ],
    );
  });

  it('records requests still unanswered at the end of the session as incomplete', () => {
    const records = play([client(Q('SELECT pg_sleep(60)')), server(rowDescription)]);
    assert.deepEqual(
      records.map((r) => [r.statement, r.outcome]),
      [['SELECT pg_sleep(60)', 'incomplete']],
    );
    assert.deepEqual(play([client(Q('SELECT 1'))], audit(), undefined, false), []);
  });
});

describe('query tap: FrameTracker body hook', () => {
  it('leaves the relayed chunks untouched', () => {
    const chunk = Buffer.concat([P('s1', 'SELECT $1', [23]), B('', 's1', ['1']), E(), S]);
    const copy = Buffer.from(chunk);
    const tap = new QueryTap(audit(), new ManualClock(), () => undefined);
    new FrameTracker(tap.clientOptions({})).feed(chunk);
    assert.deepEqual(chunk, copy);
  });
});
