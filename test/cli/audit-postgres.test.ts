import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { openAuditLog } from '../../src/audit/open-audit.ts';
import { main } from '../../src/cli/main.ts';
import type { Config } from '../../src/config/schema.ts';
import { ManualClock } from '../../src/runtime/clock.ts';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.ts';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

/** The `postgres` sink's table, as several gateway nodes share it, searched and reported on. */
describe('pgkey audit search and report --postgres', () => {
  let cluster: PgCluster;
  let dir: string;

  const run = async (...args: string[]) => {
    const stdout = new Capture();
    const stderr = new Capture();
    const code = await main(args, { stdout, stderr, env: {}, cwd: dir });
    return { code, stdout: stdout.text, stderr: stderr.text };
  };

  before(async () => {
    cluster = await startPgCluster({ auth: 'scram' });
    dir = await mkdtemp(join(tmpdir(), 'pgkey-audit-pg-'));
    const url = `postgresql://postgres@localhost/postgres?host=${encodeURIComponent(cluster.socketDir)}&port=${cluster.port}`;
    await writeFile(join(dir, 'audit-url'), url, { mode: 0o600 });
    const audit: Config['audit'] = {
      file: join(dir, 'audit.jsonl'),
      sinks: ['postgres'],
      postgres: { url_file: join(dir, 'audit-url'), table: 'pgkey_audit' },
      on_failure: 'refuse',
      buffer: 10,
      rotate_bytes: 0,
      checkpoint_records: 4,
      checkpoint_interval: 300_000,
    };
    const clock = new ManualClock(Date.UTC(2026, 10, 2, 9));
    const log = await openAuditLog(audit, { writer: 'serve', clock });
    const people = [
      ['alice@example.com', 'dba', 'prod', 'AliceKeyAliceKey1'],
      ['bob@example.com', 'analyst', 'warehouse', 'BobKeyBobKeyBob01'],
    ] as const;
    for (let n = 0; n < 6; n++) {
      const [email, role, database, key] = people[n % 2] ?? people[0];
      const common = {
        session: `p${n}`,
        client: { address: '10.0.0.7', port: 5000 + n },
        role,
        database,
        rule: role,
        issuer: 'builtin',
        subject: `u-${email}`,
        email,
        credential_id: key,
      };
      clock.advance(3_600_000);
      await log.emit({ type: 'session.start', ...common });
      clock.advance(600_000);
      await log.emit({
        type: 'session.end',
        session: common.session,
        client: common.client,
        reason: 'client_closed',
        duration_ms: 600_000,
        bytes_from_client: 1,
        bytes_from_server: 1,
      });
    }
    await log.close();
    await writeFile(
      join(dir, 'pgkey.yaml'),
      JSON.stringify({
        listen: { address: '127.0.0.1:0', tls: { cert: 'gw.pem', key: 'gw-key.pem' } },
        issuers: [
          {
            name: 'builtin',
            issuer: 'http://localhost:8443',
            audience: 'pgkey',
            profile: 'builtin',
          },
        ],
        upstream: { tls: { ca: 'pg-ca.pem' }, ca: { cert: 'ca.pem', key: 'ca-key.pem' } },
        policy: [{ name: 'dba', match: { groups: ['dba'] }, databases: ['*'], roles: ['dba'] }],
        audit: { file: 'audit.jsonl', sinks: ['postgres'], postgres: { url_file: 'audit-url' } },
      }),
    );
  });
  after(async () => {
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('searches the table, with the role and database of each session on its end', async () => {
    const { code, stdout } = await run(
      'audit',
      'search',
      '--postgres',
      '--who',
      'alice',
      '--db',
      'prod',
    );
    assert.equal(code, 0);
    assert.equal(
      stdout,
      [
        'TIME                  TYPE           WHO                ROLE@DATABASE  CLIENT    KEY           DETAIL',
        '2026-11-02T10:00:00Z  session.start  alice@example.com  dba@prod       10.0.0.7  AliceKeyAlic  rule dba',
        '2026-11-02T10:10:00Z  session.end    alice@example.com  dba@prod       10.0.0.7  AliceKeyAlic  client_closed after 10m 0s',
        '2026-11-02T12:20:00Z  session.start  alice@example.com  dba@prod       10.0.0.7  AliceKeyAlic  rule dba',
        '2026-11-02T12:30:00Z  session.end    alice@example.com  dba@prod       10.0.0.7  AliceKeyAlic  client_closed after 10m 0s',
        '2026-11-02T14:40:00Z  session.start  alice@example.com  dba@prod       10.0.0.7  AliceKeyAlic  rule dba',
        '2026-11-02T14:50:00Z  session.end    alice@example.com  dba@prod       10.0.0.7  AliceKeyAlic  client_closed after 10m 0s',
        '',
      ].join('\n'),
    );
    const since = await run(
      'audit',
      'search',
      '--postgres',
      '--type',
      'session.start',
      '--since',
      '2026-11-02T13:00Z',
      '--json',
    );
    assert.equal(since.stdout.trimEnd().split('\n').length, 3);
  });

  it('reports from the table and verifies it with the pinned key', async () => {
    const { code, stdout } = await run(
      'audit',
      'report',
      '--postgres',
      '--since',
      '2026-11-01',
      '--until',
      '2026-11-03',
      '--out',
      'r.html',
    );
    assert.equal(code, 0, stdout);
    assert.equal(
      stdout,
      'wrote r.html: 6 sessions by 2 people on 2 databases, 0 refused, 0 revocations; trail verified\n',
    );
    const page = await readFile(join(dir, 'r.html'), 'utf8');
    assert.ok(page.includes('table pgkey_audit'));
  });
});
