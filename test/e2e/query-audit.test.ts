import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { ConfigInput } from '../../src/config/schema.ts';
import { bytes, typedMessage } from '../support/bytes.ts';
import { connectPg, readAudit, waitFor, type AuditLine } from '../support/e2e-clients.ts';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';
import { errorFields, login, TERMINATE, type Message } from '../faults/wire.ts';

/**
 * Query audit through the real gateway and real clients (issue "Query audit";
 * reference/reliability.md G34, Teleport's TestAuditPostgres): psql's simple protocol, node
 * `pg`'s extended protocol under each parameter mode, an invalid Bind from a raw client, COPY
 * both ways, hostile characters in SQL, and a rule that does not audit at all.
 */

const MODES = ['none', 'redact', 'hash', 'log'] as const;
const CREDENTIAL = 'Y3JlZC1lMmU';

const POLICY: NonNullable<ConfigInput['policy']> = [
  {
    name: 'owner',
    match: { groups: ['owner'] },
    databases: ['warehouse'],
    roles: ['app_owner'],
    audit: { queries: true, parameters: 'log' },
  },
  ...MODES.map((mode) => ({
    name: `params-${mode}`,
    match: { groups: [`params-${mode}`] },
    databases: ['warehouse'],
    roles: ['analyst'],
    audit: { queries: true, parameters: mode },
  })),
  { name: 'plain', match: { groups: ['plain'] }, databases: ['warehouse'], roles: ['reporting'] },
];

const sha256 = (data: string | Buffer, encoding: 'hex' | 'base64url' = 'hex'): string =>
  createHash('sha256').update(data).digest(encoding);

describe('query audit through the gateway', () => {
  let h: GatewayHarness;
  const token = (group: string): Promise<string> => h.token([group], { credential_id: CREDENTIAL });

  /** The query.executed records of sessions that have ended, after `session.end` is written. */
  async function queriesOf(session: string): Promise<AuditLine[]> {
    const records = await waitFor(`session.end of ${session}`, () => {
      const all = readAudit(h);
      return all.some((e) => e.type === 'session.end' && e.session === session) ? all : undefined;
    });
    return records.filter((e) => e.type === 'query.executed' && e.session === session);
  }

  /** The session ids (from session.start) whose role is `role`, oldest first. */
  const sessionsOf = (role: string): string[] =>
    readAudit(h)
      .filter((e) => e.type === 'session.start' && e.role === role)
      .map((e) => e.session ?? '');

  before(async () => {
    h = await startGatewayHarness({ policy: POLICY });
    await h.pg.query('CREATE TABLE items (id int, note text)', [], { database: 'warehouse' });
    await h.pg.query('ALTER TABLE items OWNER TO app_owner', [], { database: 'warehouse' });
  });
  after(async () => {
    await h?.close();
  });

  it('records psql simple queries: one record per Query, errors by SQLSTATE only', async () => {
    const owner = await token('owner');
    const multi = await h.psql(owner, ['-At', '-c', 'SELECT 1; SELECT 2 UNION SELECT 3'], {
      user: 'app_owner',
    });
    assert.equal(multi.stdout, '1\n2\n3\n');
    const failed = await h.psql(owner, ['-c', 'SELECT 1/0'], { user: 'app_owner' });
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /division by zero/);

    const [first, second] = sessionsOf('app_owner').slice(-2);
    const [ok] = await queriesOf(first!);
    const [error] = await queriesOf(second!);
    const expected = {
      type: 'query.executed',
      session: first,
      issuer: 'test',
      email: 'alice@example.com',
      groups: ['owner'],
      credential_id: CREDENTIAL,
      role: 'app_owner',
      database: 'warehouse',
      protocol: 'simple',
      statement: 'SELECT 1; SELECT 2 UNION SELECT 3',
      statement_sha256: sha256('SELECT 1; SELECT 2 UNION SELECT 3'),
      statement_bytes: 33,
      statement_truncated: false,
      commands: [
        { command: 'SELECT', rows: 1 },
        { command: 'SELECT', rows: 2 },
      ],
      rows: 3,
      outcome: 'ok',
    };
    assert.deepEqual(Object.fromEntries(Object.keys(expected).map((k) => [k, ok?.[k]])), expected);
    assert.equal(ok?.subject, 'alice');
    assert.equal(ok?.client && typeof ok.client, 'object');
    assert.equal(typeof ok?.duration_ms, 'number');
    assert.equal(error?.outcome, 'error');
    assert.equal(error?.sqlstate, '22012');
    assert.deepEqual(error?.commands, []);
    assert.ok(!readFileSync(h.auditFile, 'utf8').includes('division by zero'));
  });

  it('records the extended protocol with parameters exactly as each mode allows', async () => {
    const got: Record<string, unknown[]> = {};
    for (const mode of MODES) {
      const client = await connectPg(h, await token(`params-${mode}`));
      const add = { name: 'add', text: 'SELECT $1::int + $2::int AS s' };
      assert.equal((await client.query({ ...add, values: [1, 2] })).rows[0].s, 3);
      assert.equal((await client.query({ ...add, values: [40, null] })).rows[0].s, null);
      const blob = await client.query('SELECT length($1::bytea) AS n', [Buffer.from([0xde, 0xad])]);
      assert.equal(blob.rows[0].n, 2);
      await client.end();
      const session = sessionsOf('analyst').at(-1)!;
      const records = await queriesOf(session);
      assert.deepEqual(
        records.map((r) => [r.protocol, r.statement_name, r.portal, r.outcome, r.rows]),
        [
          ['extended', 'add', '', 'ok', 1],
          ['extended', 'add', '', 'ok', 1],
          ['extended', '', '', 'ok', 1],
        ],
        mode,
      );
      assert.equal(records[0]?.statement, add.text);
      got[mode] = records.map((r) => r.parameters);
    }
    assert.deepEqual(got, {
      none: [undefined, undefined, undefined],
      redact: [
        { count: 2, formats: 'tt' },
        { count: 2, formats: 'tt' },
        { count: 1, formats: 'b' },
      ],
      hash: [
        { count: 2, formats: 'tt', values: [sha256('1', 'base64url'), sha256('2', 'base64url')] },
        { count: 2, formats: 'tt', values: [sha256('40', 'base64url'), null] },
        { count: 1, formats: 'b', values: [sha256(Buffer.from([0xde, 0xad]), 'base64url')] },
      ],
      log: [
        { count: 2, formats: 'tt', values: ['1', '2'] },
        { count: 2, formats: 'tt', values: ['40', null] },
        { count: 1, formats: 'b', values: ['3q0='] },
      ],
    });
  });

  it("records an invalid Bind as PostgreSQL's error, with no parameters", async () => {
    const ca = readFileSync(h.clientCaFile, 'utf8');
    const { wire } = await login(h.gateway.port, { ca, token: await token('params-log') });
    const sql = 'SELECT $1::text, $2::text, $3::text';
    const parse = typedMessage('P', bytes().cstring('').cstring(sql).int16(0).build());
    // Two parameter format codes for three parameters (Teleport's "invalid Bind").
    const bind = bytes().cstring('').cstring('').int16(2).int16(0).int16(1).int16(3);
    for (const value of ['secret-a', 'secret-b', 'secret-c']) bind.int32(value.length).text(value);
    const execute = typedMessage('E', bytes().cstring('').int32(0).build());
    wire.write(
      Buffer.concat([parse, typedMessage('B', bind.int16(0).build()), execute, typedMessage('S')]),
    );
    const answer: Message[] = await wire.messagesUntil('Z');
    const failure = answer.find((m) => m.type === 'E');
    assert.ok(failure !== undefined, `expected an ErrorResponse, got ${JSON.stringify(answer)}`);
    assert.equal(errorFields(failure.body).get('C'), '08P01');
    if (answer.at(-1)?.type !== 'Z') await wire.messagesUntil('Z');
    wire.write(TERMINATE);
    await wire.closed();

    const [record] = await queriesOf(sessionsOf('analyst').at(-1)!);
    assert.equal(record?.statement, sql);
    assert.equal(record?.outcome, 'error');
    assert.equal(record?.sqlstate, '08P01');
    assert.equal('parameters' in (record ?? {}), false);
    assert.ok(!readFileSync(h.auditFile, 'utf8').includes('secret-b'));
  });

  it('records COPY in and out with direction and row counts', async () => {
    const owner = await token('owner');
    const copyIn = await h.psql(owner, ['-c', 'COPY items (id, note) FROM STDIN'], {
      user: 'app_owner',
      input: '1\tone\n2\ttwo\n3\tthree\n',
    });
    assert.equal(copyIn.stdout, 'COPY 3\n');
    const copyOut = await h.psql(
      owner,
      ['-c', 'COPY (SELECT * FROM items ORDER BY id) TO STDOUT'],
      {
        user: 'app_owner',
      },
    );
    assert.equal(copyOut.stdout, '1\tone\n2\ttwo\n3\tthree\n');
    const [inSession, outSession] = sessionsOf('app_owner').slice(-2);
    const [loaded] = await queriesOf(inSession!);
    const [dumped] = await queriesOf(outSession!);
    // CopyData payload: the three lines, 20 bytes, each way.
    assert.deepEqual(loaded?.copy, { direction: 'in', bytes: 20, rows: 3 });
    assert.deepEqual(dumped?.copy, { direction: 'out', bytes: 20, rows: 3 });
    assert.equal(loaded?.rows, 3);
  });

  it('keeps every record on one line with control, bidi and JSON text escaped', async () => {
    const sql = [
      "SELECT '\x1b[31mred\x1b[0m' AS ansi,",
      `  '{"type":"auth.success","role":"postgres"}' AS json,`,
      "  'line\u2028separator' AS ls, 'abc\u202edcba\u2066x\u2069' AS bidi, 'c1\u009b' AS c1",
      '-- "},{"type":"session.end"} \r',
    ].join('\n');
    const client = await connectPg(h, await token('params-log'));
    const result = await client.query(sql);
    assert.equal(result.rows[0].ansi, '\x1b[31mred\x1b[0m');
    const values = await client.query('SELECT $1::text AS v', ['\x1b[2J\nnew line\u2028']);
    assert.equal(values.rows[0].v, '\x1b[2J\nnew line\u2028');
    await client.end();

    const records = await queriesOf(sessionsOf('analyst').at(-1)!);
    assert.equal(records[0]?.statement, sql, 'the statement survives the round trip exactly');
    assert.deepEqual(records[1]?.parameters, {
      count: 1,
      formats: 't',
      values: ['\x1b[2J\nnew line\u2028'],
    });
    const text = readFileSync(h.auditFile, 'utf8');
    const lines = text.split('\n').filter((line) => line !== '');
    assert.equal(lines.length, readAudit(h).length, 'one record, one line');
    for (const bad of ['\x1b', '\r', '\u2028', '\u202e', '\u2066', '\u2069', '\u009b']) {
      assert.ok(!text.includes(bad), `raw U+${bad.codePointAt(0)?.toString(16)} in the file`);
    }
    const line = lines.find((l) => l.includes('line\\u2028separator'));
    assert.ok(line?.includes('\\u001b[31mred'), 'ESC is written as \\u001b');
    assert.ok(line?.includes('abc\\u202edcba'), 'bidi override is written as \\u202e');
  });

  it('a rule without audit records no statement and reads none', async () => {
    const client = await connectPg(h, await token('plain'), { user: 'reporting' });
    const live = await waitFor('the reporting session', () =>
      h.gateway.sessions.list().find((s) => s.role === 'reporting'),
    );
    assert.equal(live.queryAudit, undefined);
    await client.query('SELECT 1');
    await client.query('SELECT $1::int AS n', [5]);
    await client.end();
    assert.deepEqual(await queriesOf(sessionsOf('reporting').at(-1)!), []);
    const audited = await connectPg(h, await token('params-hash'));
    const hashed = await waitFor('the params-hash session', () =>
      h.gateway.sessions.list().find((s) => s.rule === 'params-hash'),
    );
    assert.deepEqual(hashed.queryAudit, {
      queries: true,
      parameters: 'hash',
      statement_max_bytes: 4096,
    });
    await audited.end();
  });
});
