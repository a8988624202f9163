/**
 * The one policy decision (DESIGN.md "Policy"): ordered rules, first grant wins, and a denial
 * that tells the person what would have worked. Pure: the clock reading comes in as `now`.
 * The message and hint go to the client as an ErrorResponse (SQLSTATE 28000 + HINT), so they
 * name config values and the person's own groups and e-mail, never other token contents.
 */
import type { PolicyRuleConfig, QueryAuditConfig } from '../config/schema.ts';
import type { Identity } from '../identity/identity.ts';
import { evaluateRule, type AccessRequest, type RuleVerdict } from './evaluate.ts';
import { clip, formatAge, formatSpan, quote } from './format.ts';

export type { AccessRequest, ConditionCheck, ConditionName, RuleVerdict } from './evaluate.ts';

export type Decision =
  | {
      readonly allowed: true;
      readonly rule: string;
      readonly role: string;
      readonly database: string;
      readonly maxSessionMs: number | undefined;
      /** The granting rule's `audit`, when it asks for query audit; undefined: none. */
      readonly queryAudit: QueryAuditConfig | undefined;
    }
  | {
      readonly allowed: false;
      readonly code: 'ERR_ACCESS_DENIED' | 'ERR_STALE_AUTH';
      readonly message: string;
      readonly hint: string;
      /** Roles some rule lets this identity use (on some database), in rule order. */
      readonly allowedRoles: readonly string[];
      readonly verdicts: readonly RuleVerdict[];
    };

/** PostgreSQL clients print HINT on one line; keep it readable there. */
const MAX_HINT = 300;

export const FRESH_LOGIN_HINT =
  'log in again with your security key (pgkey login --fresh), then reconnect';

/** `analyst, reporting on warehouse; postgres on any database`, merging rules with the same databases. */
function usableRoles(
  rules: readonly PolicyRuleConfig[],
  verdicts: readonly RuleVerdict[],
): string[] {
  const byDatabases = new Map<string, string[]>();
  rules.forEach((rule, i) => {
    if (verdicts[i]?.matches !== true) return;
    const where = rule.databases.includes('*') ? 'any database' : rule.databases.join(', ');
    const roles = byDatabases.get(where) ?? [];
    for (const role of rule.roles) if (!roles.includes(role)) roles.push(role);
    byDatabases.set(where, roles);
  });
  return [...byDatabases].map(([where, roles]) => `${roles.join(', ')} on ${where}`);
}

/** The rule that grants this database and role and misses the fewest identity conditions. */
function nearest(verdicts: readonly RuleVerdict[]): RuleVerdict | undefined {
  let best: RuleVerdict | undefined;
  let bestMissing = Number.POSITIVE_INFINITY;
  for (const verdict of verdicts) {
    const failed = verdict.checks.filter((check) => !check.ok);
    if (failed.some((check) => check.condition === 'databases' || check.condition === 'roles'))
      continue;
    if (failed.length < bestMissing) {
      best = verdict;
      bestMissing = failed.length;
    }
  }
  return best;
}

function whatIsMissing(verdict: RuleVerdict | undefined, request: AccessRequest): string {
  if (verdict === undefined) {
    return `no rule grants role ${quote(request.role)} on database ${quote(request.database)}`;
  }
  const failed = verdict.checks.filter((check) => !check.ok);
  const needs = failed.map((check) => check.need);
  const haves = [
    ...new Set(failed.flatMap((check) => (check.have === undefined ? [] : [check.have]))),
  ];
  const grants = `rule ${quote(verdict.rule)} grants this to ${needs.join(' and ')}`;
  return haves.length === 0 ? grants : `${grants} (${haves.join('; ')})`;
}

function denyHint(missing: string, usable: readonly string[]): string {
  const head = `${clip(missing, MAX_HINT - 60)}.`;
  const [first, ...more] = usable;
  if (first === undefined) return `${head} No rule grants you any role.`;
  const prefix = `${head} Roles you may use: `;
  let roles = first;
  for (const entry of more) {
    if (prefix.length + roles.length + entry.length + 2 > MAX_HINT - 3) {
      roles += '; …';
      break;
    }
    roles += `; ${entry}`;
  }
  return clip(prefix + roles, MAX_HINT);
}

/** The first rule whose every condition holds grants; otherwise an explained denial. */
export function decide(
  rules: readonly PolicyRuleConfig[],
  identity: Identity,
  request: AccessRequest,
  now: number,
): Decision {
  const verdicts: RuleVerdict[] = [];
  for (const rule of rules) {
    const verdict = evaluateRule(rule, identity, request, now);
    if (verdict.grants) {
      const { role, database } = request;
      return {
        allowed: true,
        rule: rule.name,
        role,
        database,
        maxSessionMs: rule.max_session,
        queryAudit: rule.audit?.queries === true ? rule.audit : undefined,
      };
    }
    verdicts.push(verdict);
  }

  const allowedRoles = [
    ...new Set(rules.flatMap((rule, i) => (verdicts[i]?.matches === true ? rule.roles : []))),
  ];
  const stale = rules.findIndex((_, i) =>
    verdicts[i]?.checks.every((check) => check.ok || check.condition === 'fresh_auth'),
  );
  const staleRule = rules[stale];
  if (staleRule?.fresh_auth !== undefined) {
    const when =
      identity.authTime === undefined
        ? 'your token does not say when you logged in'
        : `yours was ${formatAge(now - identity.authTime)} ago`;
    return {
      allowed: false,
      code: 'ERR_STALE_AUTH',
      message: `rule ${quote(staleRule.name)} requires a security-key login within the last ${formatSpan(staleRule.fresh_auth)}; ${when}`,
      hint: FRESH_LOGIN_HINT,
      allowedRoles,
      verdicts,
    };
  }

  const who = identity.email ?? identity.subject;
  return {
    allowed: false,
    code: 'ERR_ACCESS_DENIED',
    message: `access denied: ${who} may not use role ${quote(request.role)} on database ${quote(request.database)}`,
    hint: denyHint(whatIsMissing(nearest(verdicts), request), usableRoles(rules, verdicts)),
    allowedRoles,
    verdicts,
  };
}
