import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { auditCli, type AuditCli } from './audit-fixture.ts';

describe('pgkey audit search', () => {
  let cli: AuditCli;

  before(async () => {
    cli = await auditCli({ extras: true });
  });
  after(async () => {
    await rm(cli.dir, { recursive: true, force: true });
  });

  it('answers "who touched prod, with which key" in aligned lines', async () => {
    const { code, stdout, stderr } = await cli.run(
      'audit',
      'search',
      '--who',
      'alice',
      '--db',
      'prod',
      '--type',
      'session.start,session.abandoned,token.*',
    );
    assert.equal(code, 0);
    assert.equal(
      stdout,
      [
        'TIME                  TYPE               WHO                                            ROLE@DATABASE  CLIENT     KEY           DETAIL',
        '2026-11-02T10:15:00Z  session.start      alice@example.com                              dba@prod       10.0.0.7   AL1ceYk5nfcQ  rule dba',
        '2026-11-02T17:30:00Z  token.minted       alice@example.com                              etl@prod       10.0.0.7   AL1ceYk5nfcQ  svc:nightly-etl until 2026-11-09T00:00:00Z',
        '2026-11-03T02:00:00Z  session.start      svc:nightly-etl (minted by alice@example.com)  etl@prod       10.0.0.50  -             rule service-tokens',
        '2026-11-04T02:00:00Z  session.start      svc:nightly-etl (minted by alice@example.com)  etl@prod       10.0.0.50  -             rule service-tokens',
        '2026-11-04T10:15:00Z  session.start      alice@example.com                              dba@prod       10.0.0.7   AL1ceYk5nfcQ  rule dba',
        '2026-11-05T02:00:00Z  session.start      svc:nightly-etl (minted by alice@example.com)  etl@prod       10.0.0.50  -             rule service-tokens',
        '2026-11-06T02:00:00Z  session.start      svc:nightly-etl (minted by alice@example.com)  etl@prod       10.0.0.50  -             rule service-tokens',
        '2026-11-06T10:15:00Z  session.start      alice@example.com                              dba@prod       10.0.0.7   AL1ceYk5nfcQ  rule dba',
        '2026-11-06T11:00:00Z  token.revoked      alice@example.com                              etl@prod       10.0.0.7   AL1ceYk5nfcQ  svc:nightly-etl: rotated',
        '2026-11-06T17:45:00Z  session.start      alice@example.com                              dba@prod       10.0.0.7   AL1ceYk5nfcQ  rule dba',
        '2026-11-06T17:50:00Z  session.abandoned  alice@example.com                              dba@prod       10.0.0.7   AL1ceYk5nfcQ  process_ended, last seen 2026-11-06T17:45:00Z',
        '',
      ].join('\n'),
    );
    // What it skipped, it says, on stderr: stdout stays what was asked for.
    assert.equal(
      stderr,
      'note: skipped 2 records of unknown type approval.granted\n' +
        'note: the last line of the trail is incomplete (a write in progress, or cut short)\n',
    );
  });

  it('shows a delegated session as the person via the agent, and a revocation with its session', async () => {
    const agent = await cli.run(
      'audit',
      'search',
      '--who',
      'report-bot',
      '--type',
      'session.start',
      '--since',
      '2026-11-06',
    );
    assert.equal(
      agent.stdout,
      'TIME                  TYPE           WHO                                     ROLE@DATABASE        CLIENT     KEY  DETAIL\n' +
        '2026-11-06T06:00:00Z  session.start  carol@example.com via agent:report-bot  reporting@warehouse  10.0.0.90  -    rule report-bot\n',
    );
    const revoked = await cli.run(
      'audit',
      'search',
      '--key',
      'B0bPk3yi',
      '--since',
      '2026-11-05T15:00Z',
      '--until',
      '2026-11-06',
    );
    assert.equal(
      revoked.stdout,
      'TIME                  TYPE                WHO              ROLE@DATABASE      CLIENT     KEY           DETAIL\n' +
        '2026-11-05T15:20:00Z  auth.success        bob@example.com  analyst@warehouse  10.0.0.21  B0bPk3yiCl0u  rule analysts\n' +
        '2026-11-05T15:20:00Z  session.start       bob@example.com  analyst@warehouse  10.0.0.21  B0bPk3yiCl0u  rule analysts\n' +
        '2026-11-05T15:40:00Z  key.revoked         bob@example.com  -                  -          B0bPk3yiCl0u  by cli:root: lost on the train\n' +
        '2026-11-05T15:40:00Z  session.terminated  bob@example.com  analyst@warehouse  10.0.0.21  B0bPk3yiCl0u  revoked: security key revoked: lost on the train\n' +
        '2026-11-05T15:40:00Z  session.end         bob@example.com  analyst@warehouse  10.0.0.21  B0bPk3yiCl0u  revoked after 20m 0s\n',
    );
  });

  it('prints what clients sent so that it cannot drive the terminal', async () => {
    const { stdout } = await cli.run(
      'audit',
      'search',
      '--type',
      'auth.failure',
      '--since',
      '2026-11-05',
      '--until',
      '2026-11-06',
    );
    assert.equal(
      stdout,
      'TIME                  TYPE          WHO  ROLE@DATABASE                                CLIENT         KEY  DETAIL\n' +
        '2026-11-05T12:20:00Z  auth.failure  -    <script>alert(1)</script>@prod"><img src=x>  198.51.100.23  -    token_invalid\n' +
        '2026-11-05T12:21:00Z  auth.failure  -    admin?gnp.exe@prod                           198.51.100.23  -    token_invalid\n',
    );
  });

  it('--json prints the matching records as stored, one per line', async () => {
    const { code, stdout } = await cli.run(
      'audit',
      'search',
      '--who',
      '=bob@example.com',
      '--type',
      'session.start',
      '--json',
    );
    assert.equal(code, 0);
    const lines = stdout.trimEnd().split('\n');
    assert.equal(lines.length, 6);
    const stored = new Set((await readFile(cli.file, 'utf8')).split('\n'));
    for (const line of lines) {
      assert.ok(stored.has(line), line);
      const record = JSON.parse(line) as Record<string, unknown>;
      assert.equal(record.type, 'session.start');
      assert.equal(record.email, 'bob@example.com');
      assert.equal(typeof record.seq, 'number');
    }
  });

  it('says so when nothing matches, and exits 0', async () => {
    const none = await cli.run('audit', 'search', '--who', 'zed', '--db', 'prod');
    assert.equal(none.code, 0);
    assert.equal(none.stdout, 'no matching events (159 records read)\n');
    const json = await cli.run('audit', 'search', '--who', 'zed', '--json');
    assert.deepEqual([json.code, json.stdout], [0, '']);
  });

  it('stops at --limit and says more match', async () => {
    const { code, stdout, stderr } = await cli.run(
      'audit',
      'search',
      '--type',
      'session.start',
      '--limit',
      '2',
    );
    assert.equal(code, 0);
    assert.equal(stdout.trimEnd().split('\n').length, 3);
    assert.match(stderr, /stopped at --limit 2: more events match/);
  });

  it('reads files named on the command line, without a config', async () => {
    const { code, stdout } = await cli.run(
      'audit',
      'search',
      join('trail', 'audit.jsonl'),
      '--session',
      's002',
      '--json',
    );
    assert.equal(code, 0);
    assert.deepEqual(
      stdout
        .trimEnd()
        .split('\n')
        .map((line) => (JSON.parse(line) as { type: string }).type),
      ['auth.success', 'session.start', 'query.executed', 'query.executed', 'session.end'],
    );
  });

  it('refuses bad flags with a usage error (exit 2) that names them', async () => {
    for (const [args, message] of [
      [['--since', 'yesterday'], /--since "yesterday": expected a span such as 7d/],
      [['--until', '2026-02-30'], /--until "2026-02-30"/],
      [['--since', '2026-11-05', '--until', '2026-11-01'], /--until must be later than --since/],
      [['--limit', '0'], /--limit "0": expected a positive whole number/],
      [['--key', 'a/b'], /--key "a\/b"/],
      [['--bogus'], /Unknown option '--bogus'/],
    ] as const) {
      const { code, stderr } = await cli.run('audit', 'search', ...args);
      assert.equal(code, 2, args.join(' '));
      assert.match(stderr, message);
    }
  });

  it('says where the trail should be when there is none', async () => {
    const config = JSON.parse(await readFile(join(cli.dir, 'pgkey.yaml'), 'utf8')) as {
      audit: { file: string };
    };
    config.audit.file = 'nowhere/audit.jsonl';
    await writeFile(join(cli.dir, 'elsewhere.yaml'), JSON.stringify(config));
    const missing = await cli.run('audit', 'search', '--config', 'elsewhere.yaml');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^pgkey: no audit trail at .*nowhere\/audit\.jsonl\n/);
  });
});

describe('pgkey audit search over rotated files', () => {
  let cli: AuditCli;

  before(async () => {
    cli = await auditCli({ rotateBytes: 9000 });
  });
  after(async () => {
    await rm(cli.dir, { recursive: true, force: true });
  });

  it('reads the rotated predecessors of audit.file in order', async () => {
    const { code, stdout } = await cli.run('audit', 'search', '--type', 'session.start', '--json');
    assert.equal(code, 0);
    const times = stdout
      .trimEnd()
      .split('\n')
      .map((line) => (JSON.parse(line) as { time: string }).time);
    assert.equal(times.length, 23);
    assert.deepEqual(times, [...times].sort());
  });
});
