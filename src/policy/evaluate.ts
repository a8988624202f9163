/**
 * One rule against one identity and request: every condition is checked (no short cut), so a
 * verdict can say everything that stood in the way. Texts name only config values, the
 * request, and the person's own issuer, kind, groups, e-mail and actor; never other claim
 * values.
 *
 * Delegated identities (an agent acting for a person, RFC 8693 `act`) carry the person's
 * groups and e-mail, so every rule written for people would match them too. They therefore
 * match only rules that opt in: `match.actor` naming the agent, or `match.kind: delegated`.
 * A person's access never silently extends to every agent they hand a token to.
 */
import type { PolicyRuleConfig } from '../config/schema.ts';
import type { Identity } from '../identity/identity.ts';
import { requirementsOf, type RuleRequirements, type Sourced } from './assurance.ts';
import { capList, formatAge, formatSpan, orList, quote } from './format.ts';

export interface AccessRequest {
  readonly database: string;
  readonly role: string;
}

export type ConditionName =
  | 'issuers'
  | 'kind'
  | 'groups'
  | 'subjects'
  | 'emails'
  | 'claims'
  | 'workload'
  | 'actor'
  | 'delegation'
  | 'databases'
  | 'roles'
  | 'fresh_auth'
  | 'fido2'
  | 'device_bound'
  | 'attested'
  | 'user_verified'
  | 'aaguids';

export interface ConditionCheck {
  readonly condition: ConditionName;
  readonly ok: boolean;
  /** One line for reports and audit: `missing group "dba"`, `role "x" in [a, x]`. */
  readonly text: string;
  /** For hints: what the rule asks for (`group "dba"`) and what the person has, if shareable. */
  readonly need: string;
  readonly have: string | undefined;
  /**
   * The issuer does not report what this condition asks about (only the built-in provider
   * names the key), so the token can never meet it: said so, rather than "wrong key".
   */
  readonly unverifiable?: true;
}

export interface RuleVerdict {
  readonly rule: string;
  /** Every condition holds: this rule grants the request. */
  readonly grants: boolean;
  /** The identity conditions hold, whatever database, role, freshness and key. */
  readonly matches: boolean;
  readonly checks: readonly ConditionCheck[];
  /** Texts of the failed checks: why this rule did not grant. */
  readonly reasons: readonly string[];
}

const IDENTITY_CONDITIONS: ReadonlySet<ConditionName> = new Set([
  'issuers',
  'kind',
  'groups',
  'subjects',
  'emails',
  'claims',
  'workload',
  'actor',
  'delegation',
]);

export function isIdentityCondition(condition: ConditionName): boolean {
  return IDENTITY_CONDITIONS.has(condition);
}

const list = (items: readonly string[]) => `[${capList(items)}]`;
const yourGroups = (identity: Identity) =>
  identity.groups.length === 0 ? 'you are in no groups' : `you are in: ${capList(identity.groups)}`;

/** Claims compare as strings: numbers and booleans via String(); lists and objects never match. */
function claimValue(identity: Identity, name: string): string | undefined {
  // Own properties only, so a rule naming `constructor` cannot match the prototype.
  if (!Object.hasOwn(identity.claims, name)) return undefined;
  const value = identity.claims[name];
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
    ? String(value)
    : undefined;
}

function identityChecks(rule: PolicyRuleConfig, identity: Identity): ConditionCheck[] {
  const { match } = rule;
  const checks: ConditionCheck[] = [];
  if (match.issuers !== undefined) {
    const ok = match.issuers.includes(identity.issuerName);
    const text = `issuer ${quote(identity.issuerName)} ${ok ? 'in' : 'not in'} ${list(match.issuers)}`;
    const need = `issuer ${orList(match.issuers)}`;
    checks.push({
      condition: 'issuers',
      ok,
      text,
      need,
      have: `your issuer: ${identity.issuerName}`,
    });
  }
  if (match.kind !== undefined) {
    const ok = identity.kind === match.kind;
    const text = ok ? `kind ${match.kind}` : `kind ${identity.kind}, rule wants ${match.kind}`;
    const have = `you are a ${identity.kind} identity`;
    checks.push({ condition: 'kind', ok, text, need: `${match.kind} identities`, have });
  }
  if (match.groups !== undefined) {
    const found = match.groups.find((group) => identity.groups.includes(group));
    const text =
      found !== undefined
        ? `in group ${quote(found)}`
        : match.groups.length === 1
          ? `missing group ${quote(match.groups[0] ?? '')}`
          : `in none of groups ${list(match.groups)}`;
    const need = `group ${orList(match.groups)}`;
    checks.push({
      condition: 'groups',
      ok: found !== undefined,
      text,
      need,
      have: yourGroups(identity),
    });
  }
  if (match.subjects !== undefined) {
    const ok = match.subjects.includes(identity.subject);
    const text = `subject ${quote(identity.subject)} ${ok ? 'in' : 'not in'} ${list(match.subjects)}`;
    // Other people's subjects are not the requester's business: the hint says only "specific".
    checks.push({ condition: 'subjects', ok, text, need: 'specific subjects', have: undefined });
  }
  if (match.emails !== undefined) {
    const email = identity.email?.toLowerCase();
    const ok = email !== undefined && match.emails.some((e) => e.toLowerCase() === email);
    const text =
      identity.email === undefined
        ? 'no e-mail in the token'
        : `e-mail ${quote(identity.email)} ${ok ? 'in' : 'not in'} ${list(match.emails)}`;
    const have =
      identity.email === undefined ? 'your token has no e-mail' : `yours: ${identity.email}`;
    checks.push({ condition: 'emails', ok, text, need: 'specific e-mail addresses', have });
  }
  for (const [name, expected] of Object.entries(match.claims ?? {})) {
    const values = typeof expected === 'string' ? [expected] : expected;
    const actual = claimValue(identity, name);
    const ok = actual !== undefined && values.includes(actual);
    const wanted = values.length === 1 ? quote(values[0] ?? '') : `one of ${list(values)}`;
    const text = ok
      ? `claim ${quote(name)} matches`
      : actual === undefined
        ? `no usable claim ${quote(name)} (wants ${wanted})`
        : `claim ${quote(name)} is not ${wanted}`;
    const need = `claim ${quote(name)} = ${orList(values)}`;
    checks.push({ condition: 'claims', ok, text, need, have: undefined });
  }
  checks.push(...delegationChecks(rule, identity));
  if (identity.kind === 'workload' && Object.keys(match.claims ?? {}).length === 0) {
    // A workload is a machine: without claim conditions a rule would admit every workload
    // the issuer signs for, so such rules never match one (config rules enforce the same).
    checks.push({
      condition: 'workload',
      ok: false,
      text: 'workload identities match only rules with match.claims',
      need: 'people or workloads named by claim conditions',
      have: 'you are a workload identity',
    });
  }
  return checks;
}

/** `match.actor`, and the opt-in a delegated identity needs (see the file comment). */
function delegationChecks(rule: PolicyRuleConfig, identity: Identity): ConditionCheck[] {
  const { actor, kind } = rule.match;
  if (actor !== undefined) {
    const ok = identity.actor !== undefined && actor.includes(identity.actor);
    const text =
      identity.actor === undefined
        ? `no actor (rule wants ${list(actor)})`
        : `actor ${quote(identity.actor)} ${ok ? 'in' : 'not in'} ${list(actor)}`;
    const have =
      identity.actor === undefined
        ? 'your token acts for no one else'
        : `your actor: ${identity.actor}`;
    return [{ condition: 'actor', ok, text, need: `actor ${orList(actor)}`, have }];
  }
  if (identity.kind === 'delegated' && kind !== 'delegated') {
    const agent = identity.actor ?? 'an agent';
    return [
      {
        condition: 'delegation',
        ok: false,
        text: 'delegated identities match only rules with match.actor or kind: delegated',
        need: 'people acting for themselves',
        have: `you act through ${agent}`,
      },
    ];
  }
  return [];
}

function freshness(
  { freshAuth }: RuleRequirements,
  identity: Identity,
  now: number,
): ConditionCheck[] {
  if (freshAuth === undefined) return [];
  const span = formatSpan(freshAuth.value);
  const limit =
    freshAuth.source === 'fresh_auth' ? `fresh_auth ${span}` : `${span} (${freshAuth.source})`;
  const need = `a security-key login within the last ${span}`;
  if (identity.authTime === undefined) {
    const text = `no auth_time (${limit})`;
    return [
      { condition: 'fresh_auth', ok: false, text, need, have: 'your token has no login time' },
    ];
  }
  const age = now - identity.authTime;
  const ok = age <= freshAuth.value;
  const text = `auth_time ${formatAge(age)} ago ${ok ? 'within' : 'exceeds'} ${limit}`;
  return [{ condition: 'fresh_auth', ok, text, need, have: `yours was ${formatAge(age)} ago` }];
}

/**
 * One condition on the key: met, not met, or not reported by the issuer (unverifiable).
 * `value` is what the token says; `undefined` when the issuer does not say.
 */
function keyCheck(
  condition: ConditionName,
  required: Sourced<unknown>,
  identity: Identity,
  value: boolean | undefined,
  words: {
    readonly met: string;
    readonly unmet: string;
    readonly need: string;
    readonly have: string;
    readonly what: string;
  },
): ConditionCheck {
  const from = `(${required.source})`;
  if (value === undefined) {
    return {
      condition,
      ok: false,
      text: `issuer ${quote(identity.issuerName)} does not report ${words.what} ${from}: unverifiable`,
      need: words.need,
      // One text for every condition the issuer cannot report, so a hint says it once.
      have: `issuer ${quote(identity.issuerName)} does not report which key was used`,
      unverifiable: true,
    };
  }
  return value
    ? { condition, ok: true, text: `${words.met} ${from}`, need: words.need, have: undefined }
    : { condition, ok: false, text: `${words.unmet} ${from}`, need: words.need, have: words.have };
}

/** `authenticator:` and the preset's FIDO2 and key conditions (policy/assurance.ts). */
function keyChecks(req: RuleRequirements, identity: Identity): ConditionCheck[] {
  const checks: ConditionCheck[] = [];
  if (req.fido2 !== undefined) {
    const ok = identity.fido2;
    checks.push({
      condition: 'fido2',
      ok,
      text: `${ok ? 'phishing-resistant FIDO2 login' : 'no FIDO2 login'} (${req.fido2.source})`,
      need: 'a phishing-resistant FIDO2 login',
      have: ok ? undefined : 'your token shows no FIDO2 login',
    });
  }
  if (req.deviceBound !== undefined) {
    checks.push(
      keyCheck('device_bound', req.deviceBound, identity, identity.deviceBound, {
        met: 'device-bound key',
        unmet: 'synced passkey, not a device-bound key',
        need: 'a device-bound security key',
        have: 'yours is a synced passkey',
        what: 'whether the key is device-bound',
      }),
    );
  }
  if (req.attested !== undefined) {
    checks.push(
      keyCheck('attested', req.attested, identity, identity.attested, {
        met: 'attested key model',
        unmet: 'key model not attested',
        need: 'an attested key model',
        have: "your key's attestation was not verified when it was enrolled",
        what: 'whether the key is attested',
      }),
    );
  }
  const uv = req.userVerified;
  if (uv !== undefined) {
    const reported = identity.userVerified;
    if (reported === undefined && uv.value === 'unless-unreported') {
      checks.push({
        condition: 'user_verified',
        ok: true,
        text: `user verification not reported by issuer ${quote(identity.issuerName)}: its FIDO2 evidence is trusted (${uv.source})`,
        need: "the key's PIN or biometric (user verification)",
        have: undefined,
      });
    } else {
      checks.push(
        keyCheck('user_verified', uv, identity, reported, {
          met: 'user verified by PIN or biometric',
          unmet: 'login without user verification, presence only',
          need: "the key's PIN or biometric (user verification)",
          have: "your login did not use the key's PIN or biometric",
          what: 'user verification',
        }),
      );
    }
  }
  if (req.aaguids !== undefined) {
    const model = identity.aaguid?.toLowerCase();
    const allowed = req.aaguids.value;
    checks.push(
      keyCheck(
        'aaguids',
        req.aaguids,
        identity,
        model === undefined ? undefined : allowed.includes(model),
        {
          met: `key model ${model ?? ''} allowed`,
          unmet: `key model ${model ?? ''} not in ${list(allowed)}`,
          need: 'a key model the rule lists',
          have: `your key model (AAGUID) is ${model ?? 'unknown'}`,
          what: 'the key model (AAGUID)',
        },
      ),
    );
  }
  return checks;
}

export function evaluateRule(
  rule: PolicyRuleConfig,
  identity: Identity,
  request: AccessRequest,
  now: number,
): RuleVerdict {
  const requirements = requirementsOf(rule);
  const dbOk = rule.databases.includes('*') || rule.databases.includes(request.database);
  const roleOk = rule.roles.includes(request.role);
  const checks: ConditionCheck[] = [
    ...identityChecks(rule, identity),
    {
      condition: 'databases',
      ok: dbOk,
      text: `database ${quote(request.database)} ${dbOk ? 'in' : 'not in'} ${list(rule.databases)}`,
      need: `database ${quote(request.database)}`,
      have: undefined,
    },
    {
      condition: 'roles',
      ok: roleOk,
      text: `role ${quote(request.role)} ${roleOk ? 'in' : 'not in'} ${list(rule.roles)}`,
      need: `role ${quote(request.role)}`,
      have: undefined,
    },
    ...freshness(requirements, identity, now),
    ...keyChecks(requirements, identity),
  ];
  const failed = checks.filter((check) => !check.ok);
  return {
    rule: rule.name,
    grants: failed.length === 0,
    matches: !failed.some((check) => isIdentityCondition(check.condition)),
    checks,
    reasons: failed.map((check) => check.text),
  };
}
