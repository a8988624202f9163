/**
 * The one policy decision (DESIGN.md "Policy"): ordered rules, first grant wins, and a denial
 * that tells the person what would have worked. Pure: the clock reading comes in as `now`.
 * The message and hint go to the client as an ErrorResponse (SQLSTATE 28000 + HINT), so they
 * name config values and the person's own groups and e-mail, never other token contents.
 */
import type { AssuranceLevel, PolicyRuleConfig, QueryAuditConfig } from '../config/schema.ts';
import type { Identity } from '../identity/identity.ts';
import { requirementsOf } from './assurance.ts';
import {
  evaluateRule,
  type AccessRequest,
  type ConditionCheck,
  type ConditionName,
  type RuleVerdict,
} from './evaluate.ts';
import { clip, formatAge, formatSpan, quote } from './format.ts';

export type { AccessRequest, ConditionCheck, ConditionName, RuleVerdict } from './evaluate.ts';

export type Decision =
  | {
      readonly allowed: true;
      readonly rule: string;
      readonly role: string;
      readonly database: string;
      readonly maxSessionMs: number | undefined;
      /** The granting rule's idle limit (`idle_timeout`, its preset's); `session.idle_timeout` also applies. */
      readonly idleTimeoutMs: number | undefined;
      /** When the login reaches the rule's `assurance` reauthentication limit: the session ends. */
      readonly reauthenticateAt: number | undefined;
      readonly assurance: AssuranceLevel | undefined;
      /** The granting rule's `audit`, when it asks for query audit; undefined: none. */
      readonly queryAudit: QueryAuditConfig | undefined;
    }
  | {
      readonly allowed: false;
      readonly code: 'ERR_ACCESS_DENIED' | 'ERR_STALE_AUTH' | 'ERR_AUTHENTICATOR_REQUIRED';
      /** The stable audit code (`auth.failure` `reason`): `policy_denied`, `stale_auth`, … */
      readonly reason: DenialReason;
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

export const UNVERIFIABLE_HINT =
  "only tokens that name the security key used (pgkey's built-in provider: pgkey login) can meet this rule";

/**
 * `auth.failure` reasons of policy denials: the step-up condition that stood in the way,
 * else `policy_denied`. A key condition the issuer cannot report is `authenticator_unverifiable`.
 */
const KEY_REASONS = {
  device_bound: 'device_bound_required',
  attested: 'attestation_required',
  user_verified: 'user_verification_required',
  aaguids: 'aaguid_not_allowed',
} as const;

export type DenialReason =
  | 'policy_denied'
  | 'stale_auth'
  | 'authenticator_unverifiable'
  | (typeof KEY_REASONS)[keyof typeof KEY_REASONS];

/** Conditions a new login can meet: the person is right, the login or its key is not. */
const STEP_UP: ReadonlySet<ConditionName> = new Set([
  'fresh_auth',
  'device_bound',
  'attested',
  'user_verified',
  'aaguids',
]);

function isKeyCondition(name: ConditionName): name is keyof typeof KEY_REASONS {
  return Object.hasOwn(KEY_REASONS, name);
}

function andList(items: readonly string[]): string {
  return items.length <= 1
    ? items.join('')
    : `${items.slice(0, -1).join(', ')} and ${items.at(-1) ?? ''}`;
}

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

/**
 * The rule fails only on the key of the login (`authenticator:`, the `assurance` preset):
 * what it needs, what the person's key is, or that their issuer cannot say.
 */
function keyDenial(
  rule: PolicyRuleConfig,
  identity: Identity,
  failed: readonly ConditionCheck[],
): Pick<Extract<Decision, { allowed: false }>, 'code' | 'reason' | 'message' | 'hint'> {
  const preset = rule.assurance === undefined ? '' : ` (assurance ${rule.assurance})`;
  const unverifiable = failed.filter((check) => check.unverifiable === true);
  if (unverifiable.length > 0) {
    const needs = andList(unverifiable.map((check) => check.need));
    return {
      code: 'ERR_AUTHENTICATOR_REQUIRED',
      reason: 'authenticator_unverifiable',
      message: `rule ${quote(rule.name)}${preset} requires ${needs}, which issuer ${quote(identity.issuerName)} does not report: it cannot be verified for your token`,
      hint: UNVERIFIABLE_HINT,
    };
  }
  const needs = andList(failed.map((check) => check.need));
  const haves = failed.flatMap((check) => (check.have === undefined ? [] : [check.have]));
  const [first] = failed;
  return {
    code: 'ERR_AUTHENTICATOR_REQUIRED',
    reason:
      first !== undefined && isKeyCondition(first.condition)
        ? KEY_REASONS[first.condition]
        : 'policy_denied',
    message: clip(`rule ${quote(rule.name)}${preset} requires ${needs}; ${haves.join('; ')}`, 400),
    hint: clip(`log in again (pgkey login --fresh) with ${needs}, then reconnect`, MAX_HINT),
  };
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
      const requirements = requirementsOf(rule);
      return {
        allowed: true,
        rule: rule.name,
        role,
        database,
        maxSessionMs: rule.max_session,
        idleTimeoutMs: requirements.idleTimeoutMs,
        reauthenticateAt:
          requirements.reauthenticateMs === undefined || identity.authTime === undefined
            ? undefined
            : identity.authTime + requirements.reauthenticateMs,
        assurance: requirements.assurance,
        queryAudit: rule.audit?.queries === true ? rule.audit : undefined,
      };
    }
    verdicts.push(verdict);
  }

  const allowedRoles = [
    ...new Set(rules.flatMap((rule, i) => (verdicts[i]?.matches === true ? rule.roles : []))),
  ];
  // The first rule that a new login could satisfy: the person, database and role are right,
  // only the login's age or its key stand in the way.
  const stepUp = rules.findIndex((_, i) =>
    verdicts[i]?.checks.every((check) => check.ok || STEP_UP.has(check.condition)),
  );
  const stepUpRule = rules[stepUp];
  const stepUpFailed = verdicts[stepUp]?.checks.filter((check) => !check.ok) ?? [];
  const keyFailed = stepUpFailed.filter((check) => check.condition !== 'fresh_auth');
  if (stepUpRule !== undefined && keyFailed.length > 0) {
    // A new login with the same key would not help: say what key it takes.
    return {
      allowed: false,
      ...keyDenial(stepUpRule, identity, keyFailed),
      allowedRoles,
      verdicts,
    };
  }
  const freshAuth = stepUpRule === undefined ? undefined : requirementsOf(stepUpRule).freshAuth;
  if (stepUpRule !== undefined && freshAuth !== undefined) {
    const when =
      identity.authTime === undefined
        ? 'your token does not say when you logged in'
        : `yours was ${formatAge(now - identity.authTime)} ago`;
    const preset = stepUpRule.assurance === undefined ? '' : ` (assurance ${stepUpRule.assurance})`;
    return {
      allowed: false,
      code: 'ERR_STALE_AUTH',
      reason: 'stale_auth',
      message: `rule ${quote(stepUpRule.name)}${preset} requires a security-key login within the last ${formatSpan(freshAuth.value)}; ${when}`,
      hint: FRESH_LOGIN_HINT,
      allowedRoles,
      verdicts,
    };
  }

  const who = identity.email ?? identity.subject;
  return {
    allowed: false,
    code: 'ERR_ACCESS_DENIED',
    reason: 'policy_denied',
    message: `access denied: ${who} may not use role ${quote(request.role)} on database ${quote(request.database)}`,
    hint: denyHint(whatIsMissing(nearest(verdicts), request), usableRoles(rules, verdicts)),
    allowedRoles,
    verdicts,
  };
}
