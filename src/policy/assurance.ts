/**
 * What a rule asks of the login behind a token, beyond who the person is: the `assurance:`
 * preset merged with the rule's own `fresh_auth`, `idle_timeout` and `authenticator:` keys.
 * Where both say something the stricter wins: the shorter duration, a condition set by
 * either. A preset never loosens an explicit key, and an explicit key never loosens a preset.
 *
 * The presets follow NIST SP 800-63B-4 (reference/fido-oidc.md §1.2):
 *
 * | requirement                         | aal2                           | aal3                          |
 * |-------------------------------------|--------------------------------|-------------------------------|
 * | phishing resistance (§3.2.5)        | the issuer's FIDO2 evidence    | the same                      |
 * | multi-factor: user verification     | UV, unless the issuer does not | UV, reported by the issuer    |
 * |   (App. B: no UV ⇒ single-factor)   | report it (then its policy)    |                               |
 * | non-exportable key: no syncable     | –                              | device-bound (BE=0)           |
 * |   authenticators at AAL3            |                                |                               |
 * | a proven hardware model             | –                              | attested                      |
 * | reauthentication, overall (§2.2.3)  | 24 h (SHOULD)                  | 12 h (SHALL)                  |
 * | reauthentication, inactivity        | 1 h (SHOULD)                   | 15 min (SHOULD)               |
 *
 * The overall limit bounds the login's age twice: at connect, like `fresh_auth`, and for
 * the session, which ends once the login reaches it (gateway/open-session.ts). `fresh_auth`
 * alone is a step-up check at connect and does not end sessions.
 */
import type { AssuranceLevel, PolicyRuleConfig } from '../config/schema.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/**
 * `required`: the token must say the key verified the person. `unless-unreported`: refused
 * when the token says it did not; accepted when the issuer does not say (only the built-in
 * provider does), leaving user verification to that issuer's WebAuthn policy.
 */
export type UserVerification = 'required' | 'unless-unreported';

export interface AssurancePreset {
  /** Longest age of the FIDO2 login, at connect and while the session lasts. */
  readonly reauthenticateMs: number;
  readonly idleTimeoutMs: number;
  readonly deviceBound: boolean;
  readonly attested: boolean;
  readonly userVerified: UserVerification;
}

export const ASSURANCE_PRESETS: Readonly<Record<AssuranceLevel, AssurancePreset>> = {
  aal2: {
    reauthenticateMs: 24 * HOUR,
    idleTimeoutMs: HOUR,
    deviceBound: false,
    attested: false,
    userVerified: 'unless-unreported',
  },
  aal3: {
    reauthenticateMs: 12 * HOUR,
    idleTimeoutMs: 15 * MINUTE,
    deviceBound: true,
    attested: true,
    userVerified: 'required',
  },
};

/** A requirement and the key it comes from, for texts: `authenticator.attested`, `assurance aal3`. */
export interface Sourced<T> {
  readonly value: T;
  readonly source: string;
}

export interface RuleRequirements {
  readonly assurance: AssuranceLevel | undefined;
  /** Oldest FIDO2 login accepted at connect: the shorter of `fresh_auth` and the preset's. */
  readonly freshAuth: Sourced<number> | undefined;
  /** The session ends once the login is this old (the preset's reauthentication limit). */
  readonly reauthenticateMs: number | undefined;
  /** The rule's idle limit: the shorter of `idle_timeout` and the preset's. */
  readonly idleTimeoutMs: number | undefined;
  /** A phishing-resistant FIDO2 login (every preset). */
  readonly fido2: Sourced<true> | undefined;
  readonly deviceBound: Sourced<true> | undefined;
  readonly attested: Sourced<true> | undefined;
  readonly userVerified: Sourced<UserVerification> | undefined;
  /** Lower-case AAGUIDs. */
  readonly aaguids: Sourced<readonly string[]> | undefined;
}

function shorter(
  explicit: Sourced<number> | undefined,
  preset: Sourced<number> | undefined,
): Sourced<number> | undefined {
  if (explicit === undefined) return preset;
  if (preset === undefined) return explicit;
  // On a tie the rule's own key is named: it is what the operator wrote.
  return preset.value < explicit.value ? preset : explicit;
}

function flag(explicit: true | undefined, preset: boolean, key: string, level: string) {
  if (explicit === true) return { value: true as const, source: `authenticator.${key}` };
  return preset ? { value: true as const, source: level } : undefined;
}

/** The rule's requirements with its preset applied; pure and cheap (no I/O, no clock). */
export function requirementsOf(rule: PolicyRuleConfig): RuleRequirements {
  const level = rule.assurance;
  const preset = level === undefined ? undefined : ASSURANCE_PRESETS[level];
  const named = `assurance ${level ?? ''}`;
  const explicit = rule.authenticator ?? {};
  const uv: Sourced<UserVerification> | undefined =
    explicit.user_verified === true || preset?.userVerified === 'required'
      ? {
          value: 'required',
          source: explicit.user_verified === true ? 'authenticator.user_verified' : named,
        }
      : preset === undefined
        ? undefined
        : { value: preset.userVerified, source: named };
  const fromPreset = (ms: number | undefined) =>
    ms === undefined ? undefined : { value: ms, source: named };
  const idle = shorter(
    rule.idle_timeout === undefined ? undefined : { value: rule.idle_timeout, source: 'rule' },
    fromPreset(preset?.idleTimeoutMs),
  );
  return {
    assurance: level,
    freshAuth: shorter(
      rule.fresh_auth === undefined ? undefined : { value: rule.fresh_auth, source: 'fresh_auth' },
      fromPreset(preset?.reauthenticateMs),
    ),
    reauthenticateMs: preset?.reauthenticateMs,
    idleTimeoutMs: idle?.value,
    fido2: preset === undefined ? undefined : { value: true, source: named },
    deviceBound: flag(explicit.device_bound, preset?.deviceBound ?? false, 'device_bound', named),
    attested: flag(explicit.attested, preset?.attested ?? false, 'attested', named),
    userVerified: uv,
    aaguids:
      explicit.aaguids === undefined
        ? undefined
        : {
            value: explicit.aaguids.map((id) => id.toLowerCase()),
            source: 'authenticator.aaguids',
          },
  };
}

/** Whether a rule asks anything of the key itself: only issuers that name the key can say. */
export function needsKeyEvidence(requirements: RuleRequirements): boolean {
  return (
    requirements.deviceBound !== undefined ||
    requirements.attested !== undefined ||
    requirements.userVerified?.value === 'required' ||
    requirements.aaguids !== undefined
  );
}
