// Step-up and assurance in the policy: the NIST SP 800-63B-4 presets and how they combine
// with a rule's own keys, each `authenticator:` condition met, not met and unverifiable,
// the denials a client sees (code, audit reason, message, HINT), and `pgkey policy explain`.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PolicyRuleConfig } from '../../src/config/schema.ts';
import { ERROR_CODES } from '../../src/errors/codes.ts';
import type { Identity } from '../../src/identity/identity.ts';
import { ASSURANCE_PRESETS, requirementsOf } from '../../src/policy/assurance.ts';
import { decide, UNVERIFIABLE_HINT, type Decision } from '../../src/policy/decide.ts';
import { explainDecision } from '../../src/policy/explain.ts';

const NOW = Date.parse('2026-11-28T12:00:00Z');
const MIN = 60_000;
const HOUR = 60 * MIN;
const YUBIKEY = 'cb69481e-8ff7-4039-93ec-0a2729a154a8';

/** A login at the built-in provider with an attested, device-bound key that verified the person. */
function keyLogin(overrides: Partial<Identity> = {}): Identity {
  return {
    issuerName: 'builtin',
    issuer: 'https://login.example.com',
    subject: 'u-ada',
    kind: 'human',
    email: 'ada@example.com',
    groups: ['dba'],
    authTime: NOW - 5 * MIN,
    acr: 'phrh',
    amr: ['pop', 'hwk', 'user', 'mfa'],
    fido2: true,
    credentialId: 'cred-1',
    aaguid: YUBIKEY,
    deviceBound: true,
    attested: true,
    userVerified: true,
    actor: undefined,
    tokenId: undefined,
    issuedAt: undefined,
    expiresAt: NOW + 10 * MIN,
    claims: {},
    ...overrides,
  };
}

/** A FIDO2 login at an issuer whose tokens do not name the key (Okta: `amr` pop). */
const oktaLogin = (overrides: Partial<Identity> = {}): Identity =>
  keyLogin({
    issuerName: 'okta',
    issuer: 'https://acme.okta.com',
    acr: undefined,
    amr: ['pop'],
    credentialId: undefined,
    aaguid: undefined,
    deviceBound: undefined,
    attested: undefined,
    userVerified: undefined,
    ...overrides,
  });

function rule(fields: Partial<PolicyRuleConfig> = {}): PolicyRuleConfig {
  return {
    name: 'prod-dba',
    match: { groups: ['dba'] },
    databases: ['prod'],
    roles: ['dba'],
    ...fields,
  };
}

const REQUEST = { database: 'prod', role: 'dba' };

function denied(decision: Decision): Extract<Decision, { allowed: false }> {
  if (decision.allowed) assert.fail(`granted by ${decision.rule}`);
  return decision;
}

function grant(decision: Decision): Extract<Decision, { allowed: true }> {
  if (!decision.allowed) assert.fail(`denied: ${decision.message} / ${decision.hint}`);
  return decision;
}

describe('assurance presets (NIST SP 800-63B-4)', () => {
  it('aal3: device-bound, attested, user-verified key; login ≤ 12h; 15m idle', () => {
    assert.deepEqual(ASSURANCE_PRESETS.aal3, {
      reauthenticateMs: 12 * HOUR,
      idleTimeoutMs: 15 * MIN,
      deviceBound: true,
      attested: true,
      userVerified: 'required',
    });
    const aal3 = requirementsOf(rule({ assurance: 'aal3' }));
    assert.deepEqual(aal3, {
      assurance: 'aal3',
      freshAuth: { value: 12 * HOUR, source: 'assurance aal3' },
      reauthenticateMs: 12 * HOUR,
      idleTimeoutMs: 15 * MIN,
      fido2: { value: true, source: 'assurance aal3' },
      deviceBound: { value: true, source: 'assurance aal3' },
      attested: { value: true, source: 'assurance aal3' },
      userVerified: { value: 'required', source: 'assurance aal3' },
      aaguids: undefined,
    });
  });

  it('aal2: phishing-resistant FIDO2, UV unless the issuer cannot say; login ≤ 24h; 1h idle', () => {
    assert.deepEqual(requirementsOf(rule({ assurance: 'aal2' })), {
      assurance: 'aal2',
      freshAuth: { value: 24 * HOUR, source: 'assurance aal2' },
      reauthenticateMs: 24 * HOUR,
      idleTimeoutMs: HOUR,
      fido2: { value: true, source: 'assurance aal2' },
      deviceBound: undefined,
      attested: undefined,
      userVerified: { value: 'unless-unreported', source: 'assurance aal2' },
      aaguids: undefined,
    });
  });

  it('no preset: only what the rule says', () => {
    const plain = requirementsOf(rule({ fresh_auth: 5 * MIN }));
    assert.deepEqual(plain.freshAuth, { value: 5 * MIN, source: 'fresh_auth' });
    assert.equal(plain.reauthenticateMs, undefined, 'fresh_auth alone does not end sessions');
    assert.equal(plain.idleTimeoutMs, undefined);
    assert.equal(plain.deviceBound, undefined);
    assert.equal(plain.userVerified, undefined);
  });

  it('combined with explicit keys, the stricter value wins each time', () => {
    const tighter = requirementsOf(
      rule({ assurance: 'aal3', fresh_auth: 15 * MIN, idle_timeout: 5 * MIN }),
    );
    assert.deepEqual(tighter.freshAuth, { value: 15 * MIN, source: 'fresh_auth' });
    assert.equal(tighter.idleTimeoutMs, 5 * MIN);
    assert.equal(tighter.reauthenticateMs, 12 * HOUR, 'the session still ends at 12h');

    const looser = requirementsOf(
      rule({ assurance: 'aal3', fresh_auth: 24 * HOUR, idle_timeout: HOUR }),
    );
    assert.deepEqual(looser.freshAuth, { value: 12 * HOUR, source: 'assurance aal3' });
    assert.equal(looser.idleTimeoutMs, 15 * MIN);

    const aal2 = requirementsOf(
      rule({
        assurance: 'aal2',
        authenticator: {
          device_bound: true,
          user_verified: true,
          aaguids: [YUBIKEY.toUpperCase()],
        },
      }),
    );
    assert.deepEqual(aal2.deviceBound, { value: true, source: 'authenticator.device_bound' });
    assert.deepEqual(aal2.userVerified, {
      value: 'required',
      source: 'authenticator.user_verified',
    });
    assert.deepEqual(aal2.aaguids, { value: [YUBIKEY], source: 'authenticator.aaguids' });
    assert.equal(aal2.attested, undefined);
  });
});

describe('authenticator conditions', () => {
  interface Case {
    readonly condition: string;
    readonly authenticator: NonNullable<PolicyRuleConfig['authenticator']>;
    readonly meets: Partial<Identity>;
    readonly fails: Partial<Identity>;
    readonly reason: string;
    readonly message: string;
    readonly hint: string;
  }
  const CASES: readonly Case[] = [
    {
      condition: 'device_bound',
      authenticator: { device_bound: true },
      meets: { deviceBound: true, attested: false },
      fails: { deviceBound: false, acr: 'phr', amr: ['pop', 'swk', 'user', 'mfa'] },
      reason: 'device_bound_required',
      message: 'rule "prod-dba" requires a device-bound security key; yours is a synced passkey',
      hint: 'log in again (pgkey login --fresh) with a device-bound security key, then reconnect',
    },
    {
      condition: 'attested',
      authenticator: { attested: true },
      meets: { attested: true },
      fails: { attested: false, acr: 'phr' },
      reason: 'attestation_required',
      message:
        'rule "prod-dba" requires an attested key model; your key\'s attestation was not verified when it was enrolled',
      hint: 'log in again (pgkey login --fresh) with an attested key model, then reconnect',
    },
    {
      condition: 'user_verified',
      authenticator: { user_verified: true },
      meets: { userVerified: true },
      fails: { userVerified: false, amr: ['pop', 'hwk', 'user'] },
      reason: 'user_verification_required',
      message:
        'rule "prod-dba" requires the key\'s PIN or biometric (user verification); your login did not use the key\'s PIN or biometric',
      hint: "log in again (pgkey login --fresh) with the key's PIN or biometric (user verification), then reconnect",
    },
    {
      condition: 'aaguids',
      authenticator: { attested: true, aaguids: [YUBIKEY] },
      meets: { aaguid: YUBIKEY.toUpperCase() },
      fails: { aaguid: 'ee882879-721c-4913-9775-3dfcce97072a' },
      reason: 'aaguid_not_allowed',
      message:
        'rule "prod-dba" requires a key model the rule lists; your key model (AAGUID) is ee882879-721c-4913-9775-3dfcce97072a',
      hint: 'log in again (pgkey login --fresh) with a key model the rule lists, then reconnect',
    },
  ];

  for (const c of CASES) {
    it(`${c.condition}: granted when the login's key meets it`, () => {
      const decision = grant(
        decide([rule({ authenticator: c.authenticator })], keyLogin(c.meets), REQUEST, NOW),
      );
      assert.equal(decision.rule, 'prod-dba');
      assert.equal(decision.assurance, undefined);
    });

    it(`${c.condition}: refused with 28000, the condition as audit reason, and a HINT`, () => {
      const decision = denied(
        decide([rule({ authenticator: c.authenticator })], keyLogin(c.fails), REQUEST, NOW),
      );
      assert.equal(decision.code, 'ERR_AUTHENTICATOR_REQUIRED');
      assert.equal(ERROR_CODES[decision.code].sqlstate, '28000');
      assert.equal(decision.reason, c.reason);
      assert.equal(decision.message, c.message);
      assert.equal(decision.hint, c.hint);
      const failed = decision.verdicts[0]?.checks.filter((check) => !check.ok) ?? [];
      assert.deepEqual(
        failed.map((check) => check.condition),
        [c.condition],
      );
      assert.deepEqual(decision.allowedRoles, ['dba'], 'the person is right: only the key is not');
    });

    it(`${c.condition}: unverifiable for an issuer whose tokens do not name the key`, () => {
      const decision = denied(
        decide([rule({ authenticator: c.authenticator })], oktaLogin(), REQUEST, NOW),
      );
      assert.equal(decision.code, 'ERR_AUTHENTICATOR_REQUIRED');
      assert.equal(decision.reason, 'authenticator_unverifiable');
      assert.match(
        decision.message,
        /^rule "prod-dba" requires .+, which issuer "okta" does not report: it cannot be verified for your token$/,
      );
      assert.equal(decision.hint, UNVERIFIABLE_HINT);
      const checks = decision.verdicts[0]?.checks.filter((check) => !check.ok) ?? [];
      assert.ok(checks.length > 0 && checks.every((check) => check.unverifiable === true));
      assert.match(checks[0]?.text ?? '', /^issuer "okta" does not report .+: unverifiable$/);
    });
  }

  it('a synced passkey without attestation hears both; the first condition is the audit reason', () => {
    const passkey = keyLogin({ deviceBound: false, attested: false, acr: 'phr', aaguid: YUBIKEY });
    const decision = denied(
      decide(
        [rule({ authenticator: { device_bound: true, attested: true } })],
        passkey,
        REQUEST,
        NOW,
      ),
    );
    assert.equal(decision.reason, 'device_bound_required');
    assert.equal(
      decision.message,
      'rule "prod-dba" requires a device-bound security key and an attested key model; yours is a synced passkey; your key\'s attestation was not verified when it was enrolled',
    );
  });

  it('a rule that also fails on who the person is stays a plain denial, naming the key too', () => {
    const decision = denied(
      decide(
        [rule({ authenticator: { device_bound: true } })],
        keyLogin({ groups: ['analytics'], deviceBound: false }),
        REQUEST,
        NOW,
      ),
    );
    assert.equal(decision.code, 'ERR_ACCESS_DENIED');
    assert.equal(decision.reason, 'policy_denied');
    assert.equal(
      decision.hint,
      'rule "prod-dba" grants this to group "dba" and a device-bound security key (you are in: analytics; yours is a synced passkey). No rule grants you any role.',
    );
  });

  it('a later rule still grants when an earlier one wants a stronger key', () => {
    const rules = [
      rule({ authenticator: { device_bound: true } }),
      rule({ name: 'prod-read', roles: ['dba'] }),
    ];
    const decision = grant(decide(rules, keyLogin({ deviceBound: false }), REQUEST, NOW));
    assert.equal(decision.rule, 'prod-read');
  });
});

describe('assurance: aal3', () => {
  const aal3 = [rule({ assurance: 'aal3' })];

  it('grants an attested, device-bound, user-verified key, with the 15m idle limit and 12h end', () => {
    const login = keyLogin();
    const decision = grant(decide(aal3, login, REQUEST, NOW));
    assert.equal(decision.assurance, 'aal3');
    assert.equal(decision.idleTimeoutMs, 15 * MIN);
    assert.equal(decision.reauthenticateAt, (login.authTime ?? 0) + 12 * HOUR);
  });

  it('refuses a synced passkey, an unattested key and a login without UV', () => {
    for (const [fails, reason] of [
      [{ deviceBound: false }, 'device_bound_required'],
      [{ attested: false }, 'attestation_required'],
      [{ userVerified: false }, 'user_verification_required'],
    ] as const) {
      const decision = denied(decide(aal3, keyLogin(fails), REQUEST, NOW));
      assert.equal(decision.code, 'ERR_AUTHENTICATOR_REQUIRED');
      assert.equal(decision.reason, reason);
      assert.match(decision.message, /^rule "prod-dba" \(assurance aal3\) requires /);
      assert.match(decision.hint, /^log in again \(pgkey login --fresh\) with .+, then reconnect$/);
    }
  });

  it('is unverifiable for an issuer whose tokens do not name the key (test/identity: every profile but builtin)', () => {
    const decision = denied(decide(aal3, oktaLogin(), REQUEST, NOW));
    assert.equal(decision.reason, 'authenticator_unverifiable');
    assert.equal(
      decision.message,
      'rule "prod-dba" (assurance aal3) requires a device-bound security key, an attested key model and the key\'s PIN or biometric (user verification), which issuer "okta" does not report: it cannot be verified for your token',
    );
  });

  it('grants a login exactly 12h old, refuses one a millisecond older as stale', () => {
    grant(decide(aal3, keyLogin({ authTime: NOW - 12 * HOUR }), REQUEST, NOW));
    const decision = denied(decide(aal3, keyLogin({ authTime: NOW - 13 * HOUR }), REQUEST, NOW));
    assert.equal(decision.code, 'ERR_STALE_AUTH');
    assert.equal(decision.reason, 'stale_auth');
    assert.equal(
      decision.message,
      'rule "prod-dba" (assurance aal3) requires a security-key login within the last 12h; yours was 13h ago',
    );
    assert.equal(
      decision.hint,
      'log in again with your security key (pgkey login --fresh), then reconnect',
    );
    const edge = denied(decide(aal3, keyLogin({ authTime: NOW - 12 * HOUR - 1 }), REQUEST, NOW));
    assert.equal(edge.code, 'ERR_STALE_AUTH');
  });

  it('a wrong key and a stale login: the key is what a new login must change', () => {
    const decision = denied(
      decide(aal3, keyLogin({ authTime: NOW - 13 * HOUR, deviceBound: false }), REQUEST, NOW),
    );
    assert.equal(decision.code, 'ERR_AUTHENTICATOR_REQUIRED');
    assert.equal(decision.reason, 'device_bound_required');
  });

  it('an explicit fresh_auth shorter than 12h is the step-up limit at connect', () => {
    const rules = [rule({ assurance: 'aal3', fresh_auth: 15 * MIN })];
    const decision = denied(decide(rules, keyLogin({ authTime: NOW - 20 * MIN }), REQUEST, NOW));
    assert.equal(
      decision.message,
      'rule "prod-dba" (assurance aal3) requires a security-key login within the last 15m; yours was 20m ago',
    );
  });
});

describe('assurance: aal2', () => {
  const aal2 = [rule({ assurance: 'aal2' })];

  it('grants a FIDO2 login from an issuer that does not report UV, with the 1h idle limit', () => {
    const login = oktaLogin({ authTime: NOW - 23 * HOUR });
    const decision = grant(decide(aal2, login, REQUEST, NOW));
    assert.equal(decision.idleTimeoutMs, HOUR);
    assert.equal(decision.reauthenticateAt, (login.authTime ?? 0) + 24 * HOUR);
    const { json } = explainDecision(aal2, login, REQUEST, NOW);
    const uv = json.rules[0]?.checks.find((check) => check.condition === 'user_verified');
    assert.deepEqual(uv && [uv.ok, uv.text], [
      true,
      'user verification not reported by issuer "okta": its FIDO2 evidence is trusted (assurance aal2)',
    ]);
  });

  it('grants a synced passkey: AAL2 allows syncable authenticators', () => {
    grant(decide(aal2, keyLogin({ deviceBound: false, attested: false }), REQUEST, NOW));
  });

  it('refuses a login the issuer says was not user-verified (single-factor)', () => {
    const decision = denied(decide(aal2, keyLogin({ userVerified: false }), REQUEST, NOW));
    assert.equal(decision.reason, 'user_verification_required');
    assert.equal(
      decision.message,
      'rule "prod-dba" (assurance aal2) requires the key\'s PIN or biometric (user verification); your login did not use the key\'s PIN or biometric',
    );
  });

  it('refuses a login older than 24h', () => {
    const decision = denied(decide(aal2, oktaLogin({ authTime: NOW - 25 * HOUR }), REQUEST, NOW));
    assert.equal(decision.code, 'ERR_STALE_AUTH');
  });

  it('never grants a workload: no FIDO2 login', () => {
    const rules = [rule({ assurance: 'aal2', match: { claims: { repository: 'acme/app' } } })];
    const ci = oktaLogin({
      kind: 'workload',
      fido2: false,
      authTime: undefined,
      claims: { repository: 'acme/app' },
    });
    const decision = denied(decide(rules, ci, REQUEST, NOW));
    assert.equal(decision.code, 'ERR_ACCESS_DENIED');
    const fido2 = decision.verdicts[0]?.checks.find((check) => check.condition === 'fido2');
    assert.deepEqual(fido2 && [fido2.ok, fido2.text], [false, 'no FIDO2 login (assurance aal2)']);
  });
});

describe('pgkey policy explain: key conditions', () => {
  const rules = [
    rule({ assurance: 'aal3', authenticator: { aaguids: [YUBIKEY] } }),
    rule({ name: 'prod-read', roles: ['reader'] }),
  ];

  it('shows the key, every condition with ✓/✗ and where it comes from, and the limits', () => {
    const login = keyLogin();
    const { text, json } = explainDecision(rules, login, REQUEST, NOW);
    assert.match(
      text,
      new RegExp(`^ {2}key {7}device-bound, attested, user verified; model ${YUBIKEY}$`, 'm'),
    );
    assert.match(
      text,
      /^ {2}1\. prod-dba \[assurance aal3\]: grants \(sessions end when the login is 12h old; idle limit 15m\)$/m,
    );
    for (const line of [
      '     ✓ auth_time 5m ago within 12h (assurance aal3)',
      '     ✓ phishing-resistant FIDO2 login (assurance aal3)',
      '     ✓ device-bound key (assurance aal3)',
      '     ✓ attested key model (assurance aal3)',
      '     ✓ user verified by PIN or biometric (assurance aal3)',
      `     ✓ key model ${YUBIKEY} allowed (authenticator.aaguids)`,
    ]) {
      assert.ok(text.split('\n').includes(line), `missing: ${line}\n${text}`);
    }
    assert.match(
      text,
      /^outcome {5}allowed by rule "prod-dba": role "dba" on database "prod"; the login reaches the assurance aal3 limit at 2026-11-28T23:55:00\.000Z; idle limit 15m \(session\.idle_timeout if shorter\)$/m,
    );
    assert.deepEqual(
      [
        json.identity.deviceBound,
        json.identity.attested,
        json.identity.userVerified,
        json.identity.aaguid,
      ],
      [true, true, true, YUBIKEY],
    );
  });

  it('marks failed and unverifiable conditions, and prints the message and hint', () => {
    const passkey = explainDecision(rules, keyLogin({ deviceBound: false }), REQUEST, NOW);
    assert.ok(
      passkey.text.includes('     ✗ synced passkey, not a device-bound key (assurance aal3)'),
    );
    assert.match(passkey.text, /^ {2}key {7}synced passkey, attested, user verified; model /m);
    assert.match(
      passkey.text,
      /^outcome {5}denied \(ERR_AUTHENTICATOR_REQUIRED, SQLSTATE 28000\)$/m,
    );
    assert.match(
      passkey.text,
      /^ {2}hint {6}log in again \(pgkey login --fresh\) with a device-bound security key, then reconnect$/m,
    );

    const okta = explainDecision(rules, oktaLogin(), REQUEST, NOW);
    assert.match(okta.text, /^ {2}key {7}not reported by this issuer$/m);
    assert.ok(
      okta.text.includes(
        '     ✗ issuer "okta" does not report whether the key is device-bound (assurance aal3): unverifiable',
      ),
    );
    assert.ok(
      okta.text.includes(
        '     ✗ issuer "okta" does not report the key model (AAGUID) (authenticator.aaguids): unverifiable',
      ),
    );
    assert.ok(okta.json.rules[0]?.checks.some((check) => check.unverifiable === true));
  });
});
