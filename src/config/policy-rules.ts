/**
 * Rules about policy: names an operator can find, references that resolve, role and database
 * names PostgreSQL would accept, and workload rules that cannot match more than they say.
 */
import { duplicates } from './issuer-rules.ts';
import type { ConfigRule } from './rules.ts';
import type { IssuerConfig, PolicyRuleConfig } from './schema.ts';

/** Whether a rule names workload identities explicitly (kind or a workload-profile issuer). */
function targetsWorkloads(rule: PolicyRuleConfig, issuers: readonly IssuerConfig[]): boolean {
  if (rule.match.kind === 'workload') return true;
  const workloadIssuers = new Set(
    issuers.filter((i) => i.profile === 'workload').map((i) => i.name),
  );
  return (rule.match.issuers ?? []).some((name) => workloadIssuers.has(name));
}

export const POLICY_RULES: readonly ConfigRule[] = [
  {
    name: 'policy-rules',
    description:
      'Rule names are unique; `match.issuers` names configured issuers; e-mail conditions look like addresses; `roles` and `databases` are real PostgreSQL names (no `pg_` roles, no `*` role).',
    check: (config, report) => {
      duplicates(
        config.policy,
        (r) => r.name,
        (index, first, name) =>
          report.error(
            ['policy', index, 'name'],
            `duplicate rule name "${name}" (also policy[${first}].name)`,
          ),
      );
      const issuerNames = config.issuers.map((i) => i.name);
      config.policy.forEach((rule, i) => {
        rule.match.issuers?.forEach((name, j) => {
          if (!issuerNames.includes(name)) {
            report.error(
              ['policy', i, 'match', 'issuers', j],
              `unknown issuer "${name}" (configured: ${issuerNames.join(', ')})`,
            );
          }
        });
        rule.match.emails?.forEach((email, j) => {
          if (!/^[^@\s]+@[^@\s]+$/.test(email))
            report.error(
              ['policy', i, 'match', 'emails', j],
              `"${email}" is not an e-mail address`,
            );
        });
        rule.roles.forEach((role, j) => {
          const at = ['policy', i, 'roles', j];
          if (role === '*') report.error(at, 'roles take no wildcard: list each role');
          // PostgreSQL reserves the pg_ prefix for predefined roles, which cannot log in.
          else if (role.startsWith('pg_'))
            report.error(at, `"${role}" is a reserved PostgreSQL role name (pg_ prefix)`);
          else if (role.toLowerCase() === 'public')
            report.error(at, '"public" is not a role one can log in as');
        });
        rule.databases.forEach((db, j) => {
          if (Buffer.byteLength(db) > 63 || db.includes('\0')) {
            report.error(
              ['policy', i, 'databases', j],
              'must be 1-63 bytes without NUL (a PostgreSQL name)',
            );
          }
        });
        if (rule.databases.length > 1 && rule.databases.includes('*')) {
          report.warn(['policy', i, 'databases'], '"*" already allows every database');
        }
        if (Object.keys(rule.match).length === 0) {
          report.warn(
            ['policy', i, 'match'],
            'empty: this rule applies to every person from every issuer',
          );
        }
        if (rule.max_session !== undefined && rule.max_session > config.session.max_duration) {
          report.warn(
            ['policy', i, 'max_session'],
            'longer than session.max_duration, which still applies',
          );
        }
      });
    },
  },
  {
    name: 'workload-rules',
    description:
      'A rule that can match workload identities (`match.kind: workload`, or `match.issuers` naming a workload issuer) has non-empty `match.claims` and no `fresh_auth`.',
    check: (config, report) => {
      config.policy.forEach((rule, i) => {
        if (!targetsWorkloads(rule, config.issuers)) return;
        if (rule.match.claims === undefined || Object.keys(rule.match.claims).length === 0) {
          report.error(
            ['policy', i, 'match', 'claims'],
            'required for rules that can match workload identities (e.g. repository: org/app)',
          );
        }
        if (rule.fresh_auth !== undefined && rule.match.kind === 'workload') {
          report.error(
            ['policy', i, 'fresh_auth'],
            'workload identities never log in with a security key, so this rule could never grant',
          );
        }
      });
    },
  },
];
