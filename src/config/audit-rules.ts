/**
 * Rules about the audit trail (`audit:`): every sink it names is configured, once; and the
 * choices that trade completeness for availability are said out loud at start-up.
 */
import type { ConfigRule } from './rules.ts';

export const AUDIT_RULES: readonly ConfigRule[] = [
  {
    name: 'audit-sinks',
    description:
      '`audit.sinks` names each sink once; `postgres` requires `audit.postgres` (which is ignored otherwise). Warnings: no `file` sink (a crash then leaves sessions open in the trail: no `session.abandoned`), and `on_failure: continue` (events can be lost while a sink is down).',
    check: ({ audit }, report) => {
      audit.sinks.forEach((sink, i) => {
        if (audit.sinks.indexOf(sink) !== i) {
          report.error(['audit', 'sinks', i], `${sink} is listed twice`);
        }
      });
      const postgres = audit.sinks.includes('postgres');
      if (postgres && audit.postgres === undefined) {
        report.error(['audit', 'postgres'], 'required when audit.sinks lists postgres');
      }
      if (!postgres && audit.postgres !== undefined) {
        report.warn(['audit', 'postgres'], 'ignored: audit.sinks does not list postgres');
      }
      if (!audit.sinks.includes('file')) {
        report.warn(
          ['audit', 'sinks'],
          'no file sink: after a crash, the sessions it left open are not closed in the trail',
        );
      }
      if (audit.on_failure === 'continue') {
        report.warn(
          ['audit', 'on_failure'],
          'continue: while a sink is down, sessions go on and events beyond audit.buffer are dropped (counted, not recorded)',
        );
      }
    },
  },
];
