/**
 * Rules about policy: names an operator can find, references that resolve, role and database
 * names PostgreSQL would accept, and workload rules that cannot match more than they say.
 */
import { ASSURANCE_PRESETS, needsKeyEvidence, requirementsOf } from '../policy/assurance.ts';
import { formatSpan } from '../policy/format.ts';
import { duplicates } from './issuer-rules.ts';
import type { ConfigPath, ConfigRule, RuleReport } from './rules.ts';
import type { Config, IssuerConfig, PolicyRuleConfig } from './schema.ts';

/** Whether a rule names workload identities explicitly (kind or a workload-profile issuer). */
function targetsWorkloads(rule: PolicyRuleConfig, issuers: readonly IssuerConfig[]): boolean {
  if (rule.match.kind === 'workload') return true;
  const workloadIssuers = new Set(
    issuers.filter((i) => i.profile === 'workload').map((i) => i.name),
  );
  return (rule.match.issuers ?? []).some((name) => workloadIssuers.has(name));
}

/**
 * `authenticator:` and `assurance:` (policy/assurance.ts). Only the built-in provider's
 * tokens name the key, so a key condition on a rule that can match no `builtin` issuer could
 * never grant (an error); one that can also match other issuers refuses their people as
 * unverifiable at connect (a warning, so nobody is surprised). An explicit `fresh_auth` or
 * `idle_timeout` looser than the preset is said too: the stricter value, the preset's, wins.
 */
function checkAssurance(config: Config, rule: PolicyRuleConfig, i: number, report: RuleReport) {
  const at = (...path: (string | number)[]): ConfigPath => ['policy', i, ...path];
  const { authenticator, assurance } = rule;
  if (authenticator !== undefined && Object.keys(authenticator).length === 0) {
    report.error(
      at('authenticator'),
      'set at least one of device_bound, attested, user_verified, aaguids',
    );
  }
  if (
    authenticator?.aaguids !== undefined &&
    authenticator.attested !== true &&
    assurance !== 'aal3'
  ) {
    report.error(
      at('authenticator', 'aaguids'),
      'needs attested: true (or assurance: aal3): an AAGUID without a verified attestation is self-asserted',
    );
  }
  if (authenticator === undefined && assurance === undefined) return;
  const key = authenticator !== undefined ? 'authenticator' : 'assurance';
  if (rule.match.kind === 'workload') {
    report.error(
      at(key),
      'workload identities never log in with a security key, so this rule could never grant',
    );
    return;
  }
  const requirements = requirementsOf(rule);
  if (needsKeyEvidence(requirements)) {
    const candidates = config.issuers.filter(
      (issuer) =>
        issuer.profile !== 'workload' &&
        (rule.match.issuers === undefined || rule.match.issuers.includes(issuer.name)),
    );
    const keyless = candidates.filter((issuer) => issuer.profile !== 'builtin');
    const names = keyless.map((issuer) => `"${issuer.name}"`).join(', ');
    if (keyless.length === candidates.length) {
      report.error(
        at(key),
        `only the built-in provider's tokens (profile builtin) say which key was used, and this rule can match no such issuer${names === '' ? '' : ` (only ${names})`}: it could never grant`,
      );
    } else if (keyless.length > 0) {
      report.warn(
        at(key),
        `people from issuer${keyless.length === 1 ? '' : 's'} ${names} are refused by this rule: their tokens do not say which key was used (${rule.match.issuers === undefined ? 'add match.issuers to limit the rule to builtin issuers' : 'remove them from match.issuers'})`,
      );
    }
  }
  const preset = assurance === undefined ? undefined : ASSURANCE_PRESETS[assurance];
  if (preset === undefined) return;
  for (const [name, ms, limit] of [
    ['fresh_auth', rule.fresh_auth, preset.reauthenticateMs],
    ['idle_timeout', rule.idle_timeout, preset.idleTimeoutMs],
  ] as const) {
    if (ms !== undefined && ms > limit) {
      report.warn(
        at(name),
        `longer than assurance ${assurance ?? ''}'s ${formatSpan(limit)}, which applies`,
      );
    }
  }
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
        const idle = config.session.idle_timeout;
        if (rule.idle_timeout !== undefined && idle > 0 && rule.idle_timeout > idle) {
          report.warn(
            ['policy', i, 'idle_timeout'],
            'longer than session.idle_timeout, which still applies',
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
  {
    name: 'assurance-rules',
    description:
      'A rule with key conditions (`authenticator`, or `assurance: aal3`) can match an issuer with profile `builtin`, the only tokens that name the key: otherwise it could never grant; other issuers it can match are warned about, since their people are refused as unverifiable. `authenticator` sets at least one condition; `authenticator.aaguids` needs `attested: true` or `assurance: aal3`; rules for `kind: workload` take neither key. `fresh_auth` or `idle_timeout` looser than the `assurance` preset is a warning (the preset applies).',
    check: (config, report) => {
      config.policy.forEach((rule, i) => checkAssurance(config, rule, i, report));
    },
  },
];
