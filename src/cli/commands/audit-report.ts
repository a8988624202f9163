import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PgkeyError } from '../../errors/pgkey-error.ts';
import { parseCommandArgs } from '../args.ts';
import { openTrailSource } from '../audit-trail.ts';
import type { Command } from '../command.ts';
import { plural } from '../table.ts';

/**
 * `pgkey audit report --since 30d --out report.html`: the periodic access review (SOC 2
 * CC6.3) as one self-contained HTML page — who reached which database as which role with
 * which key, sessions per day, refusals, revocations, tokens, provisioning, gaps — with the
 * verifier's verdict on the trail it was drawn from (docs/compliance.md).
 */
export const auditReport: Command = {
  name: 'audit report',
  summary: 'write an access review (self-contained HTML): who reached what, refusals, revocations',
  usage:
    'pgkey audit report --out FILE.html [FILE…] [--since 30d|2026-11-01] [--until …]\n' +
    '       [--key JWK]… [--postgres] [--config FILE] [--json]\n' +
    '  --out - writes the page to stdout; --key: public key(s) to verify the trail with\n' +
    '  (default <audit.file>.pub.jwk); a bare date means its first instant, UTC.\n' +
    '  Exit 1 when the trail does not verify (the report is written anyway).',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(
      args,
      {
        out: { type: 'string', short: 'o' },
        since: { type: 'string' },
        until: { type: 'string' },
        key: { type: 'string', multiple: true },
        postgres: { type: 'boolean' },
        config: { type: 'string', short: 'c' },
        json: { type: 'boolean' },
      },
      { max: Infinity },
    );
    if (values.out === undefined) {
      throw new PgkeyError('ERR_USAGE', {
        message: 'give --out FILE.html (or --out - for stdout)',
      });
    }
    const [{ parsePeriod }, { collectReport }, { renderReport }] = await Promise.all([
      import('../../audit/reading/time-bounds.ts'),
      import('../../audit/reading/report.ts'),
      import('../../audit/reading/report-page.ts'),
    ]);
    const now = Date.now();
    const period = parsePeriod(values, now, { since: '30d' });
    const since = period.since ?? now;
    const until = period.until ?? now;
    const source = await openTrailSource(
      {
        files: positionals,
        config: values.config,
        postgres: values.postgres === true,
        period,
        command: 'pgkey audit report',
      },
      io,
    );
    let page: string;
    let summary;
    try {
      const { report, stats } = await collectReport(source.lines(), since, until);
      const check = await source.check((values.key ?? []).map((file) => resolve(io.cwd, file)));
      page = renderReport(report, {
        since,
        until,
        generated: now,
        source: source.label,
        read: source.read,
        skipped: source.skipped,
        stats,
        check,
      });
      const people = [...report.access.values()].filter((a) => a.sessions > 0 && !a.service);
      summary = {
        since: new Date(since).toISOString(),
        until: new Date(until).toISOString(),
        sessions: report.sessions,
        people: people.length,
        databases: report.databases.size,
        refused: report.denials.total,
        keys_revoked: report.keysRevoked.total,
        users_disabled: report.usersDisabled.total,
        sessions_terminated: report.sessionsTerminated.total,
        tokens_revoked: report.tokensRevoked.total,
        tokens_minted: report.tokensMinted.total,
        tokens_exchanged: report.tokensExchanged.total,
        abandoned: report.abandoned.total,
        dropped: report.droppedEvents,
        records: stats.records,
        unknown: Object.fromEntries(stats.unknown),
        unreadable: stats.unreadable,
        files: source.read,
        verification: check.state,
      };
    } finally {
      await source.close();
    }
    // The page is written either way; a trail that fails verification must not pass a cron job.
    const code = summary.verification === 'failed' ? 1 : 0;
    if (values.out === '-') {
      io.stdout.write(page);
      return code;
    }
    const out = resolve(io.cwd, values.out);
    await writeFile(out, page, { mode: 0o600 });
    if (values.json === true) {
      io.stdout.write(`${JSON.stringify({ out, ...summary }, null, 2)}\n`);
    } else {
      const verdict =
        summary.verification === 'verified'
          ? 'trail verified'
          : summary.verification === 'failed'
            ? 'TRAIL VERIFICATION FAILED (see the report)'
            : 'trail not verified (no public key)';
      io.stdout.write(
        `wrote ${values.out}: ${plural(summary.sessions, 'session')} by ${summary.people} ${summary.people === 1 ? 'person' : 'people'} on ${plural(summary.databases, 'database')}, ` +
          `${summary.refused} refused, ${plural(
            summary.keys_revoked +
              summary.users_disabled +
              summary.sessions_terminated +
              summary.tokens_revoked,
            'revocation',
          )}; ${verdict}\n`,
      );
    }
    return code;
  },
};
