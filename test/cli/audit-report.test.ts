import assert from 'node:assert/strict';
import { appendFile, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { auditCli, type AuditCli } from './audit-fixture.ts';

const PERIOD = ['--since', '2026-11-01', '--until', '2026-11-08'];

describe('pgkey audit report', () => {
  let cli: AuditCli;

  before(async () => {
    cli = await auditCli();
  });
  after(async () => {
    await rm(cli.dir, { recursive: true, force: true });
  });

  it('writes the access review (mode 0600) and says what is in it, with the verdict on the trail', async () => {
    const { code, stdout, stderr } = await cli.run(
      'audit',
      'report',
      ...PERIOD,
      '--out',
      'review.html',
    );
    assert.equal(stderr, '');
    assert.equal(code, 0);
    assert.equal(
      stdout,
      'wrote review.html: 23 sessions by 3 people on 3 databases, 7 refused, 4 revocations; trail verified\n',
    );
    const file = join(cli.dir, 'review.html');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const page = await readFile(file, 'utf8');
    assert.match(page, /^<!doctype html>/);
    assert.ok(page.includes('Trail verified'));
    assert.ok(page.includes('ok: 159 records in 1 file'));
    assert.doesNotMatch(page, /<script/i);
  });

  it('--json sums the review up for a pipeline', async () => {
    const { code, stdout } = await cli.run(
      'audit',
      'report',
      ...PERIOD,
      '--out',
      'review.html',
      '--json',
    );
    assert.equal(code, 0);
    const summary = JSON.parse(stdout) as Record<string, unknown>;
    assert.deepEqual(
      {
        since: summary.since,
        until: summary.until,
        sessions: summary.sessions,
        people: summary.people,
        refused: summary.refused,
        keys_revoked: summary.keys_revoked,
        tokens_minted: summary.tokens_minted,
        tokens_exchanged: summary.tokens_exchanged,
        abandoned: summary.abandoned,
        dropped: summary.dropped,
        verification: summary.verification,
      },
      {
        since: '2026-11-01T00:00:00.000Z',
        until: '2026-11-08T00:00:00.000Z',
        sessions: 23,
        people: 3,
        refused: 7,
        keys_revoked: 1,
        tokens_minted: 1,
        tokens_exchanged: 4,
        abandoned: 1,
        dropped: 3,
        verification: 'verified',
      },
    );
    assert.equal(summary.out, join(cli.dir, 'review.html'));
  });

  it('--out - writes the page to stdout', async () => {
    const { code, stdout } = await cli.run('audit', 'report', ...PERIOD, '--out', '-');
    assert.equal(code, 0);
    assert.match(stdout, /^<!doctype html>[\s\S]*<\/html>\n$/);
  });

  it('needs --out', async () => {
    const { code, stderr } = await cli.run('audit', 'report', ...PERIOD);
    assert.equal(code, 2);
    assert.match(stderr, /give --out FILE\.html/);
  });

  it('says "not verified" without a public key, and fails (exit 1) on a trail that does not verify', async () => {
    const pub = `${cli.file}.pub.jwk`;
    await rename(pub, `${pub}.away`);
    try {
      const unverified = await cli.run('audit', 'report', ...PERIOD, '--out', 'a.html');
      assert.equal(unverified.code, 0);
      assert.match(unverified.stdout, /trail not verified \(no public key\)\n$/);
      assert.ok(
        (await readFile(join(cli.dir, 'a.html'), 'utf8')).includes('Not verified by this report'),
      );
      // The key given on the command line, kept apart from the trail, is what counts.
      const pinned = await cli.run(
        'audit',
        'report',
        ...PERIOD,
        '--out',
        'a.html',
        '--key',
        `${pub}.away`,
      );
      assert.match(pinned.stdout, /trail verified\n$/);
    } finally {
      await rename(`${pub}.away`, pub);
    }
    await appendFile(
      cli.file,
      '{"time":"2026-11-07T00:00:00.000Z","id":"x","type":"session.start"}\n',
    );
    const broken = await cli.run('audit', 'report', ...PERIOD, '--out', 'b.html');
    assert.equal(broken.code, 1);
    assert.match(broken.stdout, /TRAIL VERIFICATION FAILED/);
    const page = await readFile(join(cli.dir, 'b.html'), 'utf8');
    assert.ok(page.includes('Trail verification failed'));
    assert.ok(page.includes('audit.jsonl:'));
  });
});
