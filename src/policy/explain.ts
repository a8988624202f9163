/**
 * `pgkey policy explain`: the same decision the gateway makes, with every rule's conditions
 * laid out (✓/✗) so an operator sees why, plus the exact message and hint the client would
 * get. Rules after the one that grants are shown but marked as not consulted.
 */
import type { PolicyRuleConfig } from '../config/schema.ts';
import { ERROR_CODES } from '../errors/codes.ts';
import type { Identity } from '../identity/identity.ts';
import { requirementsOf } from './assurance.ts';
import { decide, type AccessRequest, type Decision } from './decide.ts';
import { evaluateRule, type RuleVerdict } from './evaluate.ts';
import { capList, formatAge, formatSpan, quote } from './format.ts';

export interface IdentitySummary {
  readonly issuerName: string;
  readonly issuer: string;
  readonly subject: string;
  readonly email: string | undefined;
  readonly kind: Identity['kind'];
  readonly groups: readonly string[];
  /** RFC 8693 `act.sub` of a delegated identity. */
  readonly actor: string | undefined;
  readonly fido2: boolean;
  readonly acr: string | undefined;
  readonly amr: readonly string[];
  /** The key of the login, where the issuer says (only the built-in provider does). */
  readonly aaguid: string | undefined;
  readonly deviceBound: boolean | undefined;
  readonly attested: boolean | undefined;
  readonly userVerified: boolean | undefined;
  /** now − auth_time in ms; undefined when the token carries no auth_time. */
  readonly authAgeMs: number | undefined;
}

export interface ExplainedRule extends RuleVerdict {
  /** false for rules after the one that granted: the gateway never looks at them. */
  readonly consulted: boolean;
}

export interface Explanation {
  readonly decision: Decision;
  readonly text: string;
  readonly json: {
    readonly identity: IdentitySummary;
    readonly request: AccessRequest;
    readonly now: string;
    readonly rules: readonly ExplainedRule[];
    readonly decision: Decision;
  };
}

function summarize(identity: Identity, now: number): IdentitySummary {
  return {
    issuerName: identity.issuerName,
    issuer: identity.issuer,
    subject: identity.subject,
    email: identity.email,
    kind: identity.kind,
    groups: identity.groups,
    actor: identity.actor,
    fido2: identity.fido2,
    acr: identity.acr,
    amr: identity.amr,
    aaguid: identity.aaguid,
    deviceBound: identity.deviceBound,
    attested: identity.attested,
    userVerified: identity.userVerified,
    authAgeMs: identity.authTime === undefined ? undefined : now - identity.authTime,
  };
}

function loginAge(ageMs: number | undefined): string {
  if (ageMs === undefined) return 'unknown (no auth_time in the token)';
  if (ageMs < 0) return `${formatAge(-ageMs)} in the future (clock skew?)`;
  return `${formatAge(ageMs)} ago`;
}

/** `device-bound, attested, user verified; model cb69481e-…`, or what the issuer leaves out. */
function keyLine(summary: IdentitySummary): string {
  const facts = [
    [summary.deviceBound, 'device-bound', 'synced passkey'],
    [summary.attested, 'attested', 'not attested'],
    [summary.userVerified, 'user verified', 'presence only (no UV)'],
  ] as const;
  const known = facts.flatMap(([value, yes, no]) =>
    value === undefined ? [] : [value ? yes : no],
  );
  if (known.length === 0 && summary.aaguid === undefined) return 'not reported by this issuer';
  const model = summary.aaguid === undefined ? [] : [`model ${summary.aaguid}`];
  return [known.join(', '), ...model].filter((part) => part !== '').join('; ');
}

function identityLines(summary: IdentitySummary): string[] {
  const evidence = [
    summary.amr.length > 0 ? `amr ${summary.amr.join(', ')}` : undefined,
    summary.acr !== undefined ? `acr ${summary.acr}` : undefined,
  ].filter((part) => part !== undefined);
  const fido2 = `${summary.fido2 ? 'yes' : 'no'}${evidence.length > 0 ? ` (${evidence.join('; ')})` : ''}`;
  return [
    'identity',
    `  issuer    ${summary.issuerName} (${summary.issuer})`,
    `  subject   ${summary.subject}`,
    `  email     ${summary.email ?? '-'}`,
    `  kind      ${summary.kind}`,
    `  groups    ${summary.groups.length === 0 ? '-' : capList(summary.groups, 20)}`,
    ...(summary.actor === undefined ? [] : [`  actor     ${summary.actor}`]),
    `  FIDO2     ${fido2}`,
    `  key       ${keyLine(summary)}`,
    `  login     ${loginAge(summary.authAgeMs)}`,
  ];
}

/** What a rule does to the sessions it grants: `sessions end after 4h; idle limit 15m`. */
function sessionLimits(rule: PolicyRuleConfig): string[] {
  const requirements = requirementsOf(rule);
  return [
    ...(rule.max_session === undefined
      ? []
      : [`sessions end after ${formatSpan(rule.max_session)}`]),
    ...(requirements.reauthenticateMs === undefined
      ? []
      : [`sessions end when the login is ${formatSpan(requirements.reauthenticateMs)} old`]),
    ...(requirements.idleTimeoutMs === undefined
      ? []
      : [`idle limit ${formatSpan(requirements.idleTimeoutMs)}`]),
  ];
}

function ruleLines(index: number, rule: PolicyRuleConfig, verdict: ExplainedRule): string[] {
  const state = !verdict.consulted ? 'not consulted' : verdict.grants ? 'grants' : 'does not grant';
  const limits = sessionLimits(rule);
  const preset = rule.assurance === undefined ? '' : ` [assurance ${rule.assurance}]`;
  const suffix = verdict.grants && limits.length > 0 ? ` (${limits.join('; ')})` : '';
  const lines = [`  ${index + 1}. ${rule.name}${preset}: ${state}${suffix}`];
  if (Object.keys(rule.match).length === 0) lines.push('     ✓ empty match: any person');
  for (const check of verdict.checks) lines.push(`     ${check.ok ? '✓' : '✗'} ${check.text}`);
  return lines;
}

function outcomeLines(decision: Decision): string[] {
  if (decision.allowed) {
    const limit = [
      ...(decision.maxSessionMs === undefined
        ? []
        : [`sessions end after ${formatSpan(decision.maxSessionMs)}`]),
      ...(decision.reauthenticateAt === undefined
        ? []
        : [
            `the login reaches the assurance ${decision.assurance ?? ''} limit at ${new Date(decision.reauthenticateAt).toISOString()}`,
          ]),
      ...(decision.idleTimeoutMs === undefined
        ? []
        : [`idle limit ${formatSpan(decision.idleTimeoutMs)} (session.idle_timeout if shorter)`]),
    ]
      .map((part) => `; ${part}`)
      .join('');
    const audit =
      decision.queryAudit === undefined
        ? ''
        : `; statements audited (parameters: ${decision.queryAudit.parameters})`;
    return [
      `outcome     allowed by rule ${quote(decision.rule)}: role ${quote(decision.role)} on database ${quote(decision.database)}${limit}${audit}`,
    ];
  }
  return [
    `outcome     denied (${decision.code}, SQLSTATE ${ERROR_CODES[decision.code].sqlstate})`,
    `  message   ${decision.message}`,
    `  hint      ${decision.hint}`,
  ];
}

/** The decision `decide` makes, with a human report and a JSON form for `--json`. */
export function explainDecision(
  rules: readonly PolicyRuleConfig[],
  identity: Identity,
  request: AccessRequest,
  now: number,
): Explanation {
  const decision = decide(rules, identity, request, now);
  let granted = false;
  const explained = rules.map((rule): ExplainedRule => {
    const verdict = evaluateRule(rule, identity, request, now);
    const consulted = !granted;
    granted ||= verdict.grants;
    return { ...verdict, consulted };
  });
  const summary = summarize(identity, now);
  const text = [
    ...identityLines(summary),
    `request     role ${quote(request.role)} on database ${quote(request.database)}`,
    '',
    'rules (in order; the first that grants wins)',
    ...rules.flatMap((rule, i) => {
      const verdict = explained[i];
      return verdict === undefined ? [] : ruleLines(i, rule, verdict);
    }),
    '',
    ...outcomeLines(decision),
  ].join('\n');
  const json = {
    identity: summary,
    request,
    now: new Date(now).toISOString(),
    rules: explained,
    decision,
  };
  return { decision, text: `${text}\n`, json };
}
