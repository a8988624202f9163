import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PolicyRuleConfig } from '../../src/config/schema.ts';
import type { Identity } from '../../src/identity/identity.ts';
import {
  decide,
  FRESH_LOGIN_HINT,
  type AccessRequest,
  type Decision,
} from '../../src/policy/decide.ts';
import { personIdentity } from '../support/identities.ts';

const NOW = Date.parse('2025-06-01T12:00:00Z');
const MIN = 60_000;

function person(overrides: Partial<Identity> = {}): Identity {
  return personIdentity(NOW, overrides);
}

function workload(claims: Record<string, unknown>): Identity {
  return person({
    issuerName: 'ci',
    kind: 'workload',
    email: undefined,
    groups: [],
    authTime: undefined,
    fido2: false,
    subject: 'repo:acme/app',
    claims,
  });
}

function rule(name: string, fields: Partial<PolicyRuleConfig> = {}): PolicyRuleConfig {
  return { name, match: {}, databases: ['app'], roles: ['app'], ...fields };
}

/** The rules of the example. */
const EXAMPLE: PolicyRuleConfig[] = [
  rule('dba', {
    match: { groups: ['dba'] },
    databases: ['*'],
    roles: ['postgres'],
    fresh_auth: 10 * MIN,
  }),
  rule('analysts', {
    match: { groups: ['analytics'] },
    databases: ['warehouse'],
    roles: ['analyst', 'reporting'],
  }),
];

const req = (role: string, database: string): AccessRequest => ({ role, database });

function granted(decision: Decision): string | undefined {
  return decision.allowed ? decision.rule : undefined;
}

function denied(decision: Decision) {
  assert.equal(decision.allowed, false);
  if (decision.allowed) throw new Error('unreachable');
  return decision;
}

describe('decide: matching', () => {
  const cases: [string, PolicyRuleConfig[], Identity, AccessRequest, string | undefined][] = [
    ['group grants', EXAMPLE, person(), req('analyst', 'warehouse'), 'analysts'],
    ['second role of the rule', EXAMPLE, person(), req('reporting', 'warehouse'), 'analysts'],
    [
      'missing group',
      EXAMPLE,
      person({ groups: ['sales'] }),
      req('analyst', 'warehouse'),
      undefined,
    ],
    [
      'groups are case-sensitive',
      EXAMPLE,
      person({ groups: ['Analytics'] }),
      req('analyst', 'warehouse'),
      undefined,
    ],
    [
      'any of several groups',
      [rule('r', { match: { groups: ['x', 'analytics'] } })],
      person(),
      req('app', 'app'),
      'r',
    ],
    [
      'subject any-of',
      [rule('r', { match: { subjects: ['00u9bob', '00u1ann'] } })],
      person(),
      req('app', 'app'),
      'r',
    ],
    [
      'subject mismatch',
      [rule('r', { match: { subjects: ['00u9bob'] } })],
      person(),
      req('app', 'app'),
      undefined,
    ],
    [
      'e-mail ignores case',
      [rule('r', { match: { emails: ['Ann@Example.COM'] } })],
      person(),
      req('app', 'app'),
      'r',
    ],
    [
      'e-mail mismatch',
      [rule('r', { match: { emails: ['bob@example.com'] } })],
      person(),
      req('app', 'app'),
      undefined,
    ],
    [
      'no e-mail in token',
      [rule('r', { match: { emails: ['ann@example.com'] } })],
      person({ email: undefined }),
      req('app', 'app'),
      undefined,
    ],
    [
      'issuer any-of',
      [rule('r', { match: { issuers: ['offline', 'corp'] } })],
      person(),
      req('app', 'app'),
      'r',
    ],
    [
      'issuer mismatch',
      [rule('r', { match: { issuers: ['offline'] } })],
      person(),
      req('app', 'app'),
      undefined,
    ],
    ['kind equal', [rule('r', { match: { kind: 'human' } })], person(), req('app', 'app'), 'r'],
    [
      'kind differs',
      [rule('r', { match: { kind: 'delegated' } })],
      person(),
      req('app', 'app'),
      undefined,
    ],
    [
      'all conditions must hold',
      [rule('r', { match: { groups: ['analytics'], issuers: ['offline'] } })],
      person(),
      req('app', 'app'),
      undefined,
    ],
    ['empty match admits people', [rule('r')], person(), req('app', 'app'), 'r'],
    [
      'claim equals',
      [rule('r', { match: { claims: { dept: 'bi' } } })],
      person({ claims: { dept: 'bi' } }),
      req('app', 'app'),
      'r',
    ],
    [
      'claim differs',
      [rule('r', { match: { claims: { dept: 'bi' } } })],
      person({ claims: { dept: 'hr' } }),
      req('app', 'app'),
      undefined,
    ],
    [
      'claim one of a list',
      [rule('r', { match: { claims: { dept: ['hr', 'bi'] } } })],
      person({ claims: { dept: 'bi' } }),
      req('app', 'app'),
      'r',
    ],
    [
      'claim number compared as string',
      [rule('r', { match: { claims: { level: '3' } } })],
      person({ claims: { level: 3 } }),
      req('app', 'app'),
      'r',
    ],
    [
      'claim boolean compared as string',
      [rule('r', { match: { claims: { admin: 'true' } } })],
      person({ claims: { admin: true } }),
      req('app', 'app'),
      'r',
    ],
    [
      'claim list never equals a string',
      [rule('r', { match: { claims: { dept: 'bi' } } })],
      person({ claims: { dept: ['bi'] } }),
      req('app', 'app'),
      undefined,
    ],
    [
      'claim missing',
      [rule('r', { match: { claims: { dept: 'bi' } } })],
      person(),
      req('app', 'app'),
      undefined,
    ],
    [
      'every claim must hold',
      [rule('r', { match: { claims: { a: '1', b: '2' } } })],
      person({ claims: { a: '1', b: '3' } }),
      req('app', 'app'),
      undefined,
    ],
    [
      'workload with matching claims',
      [rule('r', { match: { claims: { repository: 'acme/app' } } })],
      workload({ repository: 'acme/app' }),
      req('app', 'app'),
      'r',
    ],
    [
      'workload never matches an empty match',
      [rule('r')],
      workload({ repository: 'acme/app' }),
      req('app', 'app'),
      undefined,
    ],
    [
      'workload never matches group-only rules',
      [rule('r', { match: { issuers: ['ci'] } })],
      workload({}),
      req('app', 'app'),
      undefined,
    ],
    ['wildcard database', EXAMPLE, person({ groups: ['dba'] }), req('postgres', 'anything'), 'dba'],
    ['database not listed', EXAMPLE, person(), req('analyst', 'postgres'), undefined],
    ['databases are exact', EXAMPLE, person(), req('analyst', 'Warehouse'), undefined],
    ['role not listed', EXAMPLE, person(), req('postgres', 'warehouse'), undefined],
    [
      'later rule grants when an earlier one lacks the role',
      EXAMPLE,
      person({ groups: ['dba', 'analytics'] }),
      req('analyst', 'warehouse'),
      'analysts',
    ],
    [
      'first rule that grants wins',
      [rule('first', { max_session: MIN }), rule('second')],
      person(),
      req('app', 'app'),
      'first',
    ],
    ['no rules, no access', [], person(), req('app', 'app'), undefined],
  ];
  for (const [title, rules, identity, request, expected] of cases) {
    it(title, () => assert.equal(granted(decide(rules, identity, request, NOW)), expected));
  }

  it('returns the grant with the rule, request and session limit', () => {
    const rules = [rule('first', { max_session: 8 * 60 * MIN }), rule('second')];
    assert.deepEqual(decide(rules, person(), req('app', 'app'), NOW), {
      allowed: true,
      rule: 'first',
      role: 'app',
      database: 'app',
      maxSessionMs: 8 * 60 * MIN,
      idleTimeoutMs: undefined,
      reauthenticateAt: undefined,
      assurance: undefined,
      queryAudit: undefined,
    });
  });

  it("carries the granting rule's query audit settings, and none when queries is off", () => {
    const audit = { queries: true, parameters: 'hash', statement_max_bytes: 512 } as const;
    const rules = [
      rule('off', { match: { groups: ['dba'] }, audit: { ...audit, queries: false } }),
      rule('on', { audit }),
    ];
    const on = decide(rules, person(), req('app', 'app'), NOW);
    assert.deepEqual(on.allowed && on.queryAudit, audit);
    const off = decide(rules, person({ groups: ['dba'] }), req('app', 'app'), NOW);
    assert.equal(off.allowed && off.rule, 'off');
    assert.equal(off.allowed && off.queryAudit, undefined);
  });
});

describe('decide: fresh FIDO2 login', () => {
  const dba = person({ groups: ['dba'] });
  const at = (ms: number) =>
    decide(EXAMPLE, person({ groups: ['dba'], authTime: NOW - ms }), req('postgres', 'db'), NOW);

  it('grants exactly at fresh_auth and refuses one millisecond later', () => {
    assert.equal(granted(at(10 * MIN)), 'dba');
    assert.equal(denied(at(10 * MIN + 1)).code, 'ERR_STALE_AUTH');
  });

  it('accepts a login time slightly in the future (clock skew)', () => {
    assert.equal(granted(at(-5000)), 'dba');
  });

  it('says how old the login was and how to fix it', () => {
    const decision = denied(at(2 * 60 * MIN + 13 * MIN + 20_000));
    assert.equal(
      decision.message,
      'rule "dba" requires a security-key login within the last 10m; yours was 2h13m ago',
    );
    assert.equal(decision.hint, FRESH_LOGIN_HINT);
    assert.equal(
      decision.hint,
      'log in again with your security key (pgkey login --fresh), then reconnect',
    );
    assert.deepEqual(decision.verdicts[0]?.reasons, ['auth_time 2h13m ago exceeds fresh_auth 10m']);
  });

  it('treats a token without auth_time as stale', () => {
    const decision = denied(
      decide(EXAMPLE, { ...dba, authTime: undefined }, req('postgres', 'db'), NOW),
    );
    assert.equal(decision.code, 'ERR_STALE_AUTH');
    assert.equal(
      decision.message,
      'rule "dba" requires a security-key login within the last 10m; your token does not say when you logged in',
    );
    assert.deepEqual(decision.verdicts[0]?.reasons, ['no auth_time (fresh_auth 10m)']);
  });

  it('is plain access denied when freshness is not the only thing missing', () => {
    const decision = denied(
      decide(EXAMPLE, person({ authTime: NOW - 60 * MIN }), req('postgres', 'db'), NOW),
    );
    assert.equal(decision.code, 'ERR_ACCESS_DENIED');
  });
});

describe('decide: denials that explain themselves', () => {
  it('names the rule that would grant, what is missing, and what the person may use', () => {
    const decision = denied(decide(EXAMPLE, person(), req('postgres', 'warehouse'), NOW));
    assert.equal(decision.code, 'ERR_ACCESS_DENIED');
    assert.equal(
      decision.message,
      'access denied: ann@example.com may not use role "postgres" on database "warehouse"',
    );
    assert.equal(
      decision.hint,
      'rule "dba" grants this to group "dba" (you are in: analytics). Roles you may use: analyst, reporting on warehouse',
    );
    assert.deepEqual(decision.allowedRoles, ['analyst', 'reporting']);
  });

  it('names the subject when the token has no e-mail', () => {
    const decision = denied(
      decide(EXAMPLE, person({ email: undefined }), req('postgres', 'warehouse'), NOW),
    );
    assert.equal(
      decision.message,
      'access denied: 00u1ann may not use role "postgres" on database "warehouse"',
    );
  });

  it('records for every rule why it did not grant', () => {
    const decision = denied(
      decide(EXAMPLE, person({ authTime: NOW - 2 * 60 * MIN }), req('postgres', 'sales'), NOW),
    );
    assert.deepEqual(
      decision.verdicts.map((v) => [v.rule, v.matches, v.reasons]),
      [
        ['dba', false, ['missing group "dba"', 'auth_time 2h ago exceeds fresh_auth 10m']],
        [
          'analysts',
          true,
          ['database "sales" not in [warehouse]', 'role "postgres" not in [analyst, reporting]'],
        ],
      ],
    );
    assert.match(
      decision.hint,
      /^rule "dba" grants this to group "dba" and a security-key login within the last 10m \(you are in: analytics; yours was 2h ago\)\./,
    );
  });

  it('says so when no rule grants the database and role', () => {
    const decision = denied(decide(EXAMPLE, person(), req('nobody', 'warehouse'), NOW));
    assert.equal(
      decision.hint,
      'no rule grants role "nobody" on database "warehouse". Roles you may use: analyst, reporting on warehouse',
    );
    const stranger = denied(
      decide(EXAMPLE, person({ groups: [] }), req('analyst', 'warehouse'), NOW),
    );
    assert.equal(
      stranger.hint,
      'rule "analysts" grants this to group "analytics" (you are in no groups). No rule grants you any role.',
    );
    assert.deepEqual(stranger.allowedRoles, []);
  });

  it('picks the rule missing the fewest conditions, the earlier one on a tie', () => {
    const rules = [
      rule('far', { match: { groups: ['ops'], issuers: ['offline'] } }),
      rule('near', { match: { groups: ['ops'] } }),
      rule('also-near', { match: { groups: ['sre'] } }),
    ];
    const decision = denied(decide(rules, person(), req('app', 'app'), NOW));
    assert.match(
      decision.hint,
      /^rule "near" grants this to group "ops" \(you are in: analytics\)/,
    );
  });

  it('names issuer, kind and claim values that are missing', () => {
    const rules = [
      rule('ci', {
        match: { issuers: ['ci'], kind: 'workload', claims: { repository: 'acme/app' } },
      }),
    ];
    const decision = denied(decide(rules, person(), req('app', 'app'), NOW));
    assert.equal(
      decision.hint,
      'rule "ci" grants this to issuer "ci" and workload identities and claim "repository" = "acme/app" (your issuer: corp; you are a human identity). No rule grants you any role.',
    );
    const other = denied(
      decide(rules, workload({ repository: 'acme/other' }), req('app', 'app'), NOW),
    );
    assert.match(other.hint, /^rule "ci" grants this to claim "repository" = "acme\/app"\. /);
  });

  it('tells a workload that only rules with claim conditions apply to it', () => {
    const decision = denied(
      decide([rule('people')], workload({ repository: 'acme/app' }), req('app', 'app'), NOW),
    );
    assert.match(
      decision.hint,
      /^rule "people" grants this to people or workloads named by claim conditions \(you are a workload identity\)/,
    );
  });

  it('lists usable roles per database, merging rules with the same databases', () => {
    const rules = [
      ...EXAMPLE,
      rule('bi', {
        match: { groups: ['analytics'] },
        databases: ['warehouse'],
        roles: ['bi', 'analyst'],
      }),
      rule('all', { databases: ['*'], roles: ['readonly'] }),
    ];
    const decision = denied(decide(rules, person(), req('postgres', 'warehouse'), NOW));
    assert.deepEqual(decision.allowedRoles, ['analyst', 'reporting', 'bi', 'readonly']);
    assert.match(
      decision.hint,
      /Roles you may use: analyst, reporting, bi on warehouse; readonly on any database$/,
    );
  });

  it('keeps hints short and free of other people and of token contents', () => {
    const groups = Array.from({ length: 400 }, (_, i) => `group-with-a-long-name-${i}`);
    const rules = [
      rule('people', { match: { subjects: ['00u9secret-bob'], emails: ['carol@example.com'] } }),
      ...groups
        .slice(0, 50)
        .map((g, i) =>
          rule(`r${i}`, { match: { groups: [g] }, databases: [`db${i}`], roles: [`role${i}`] }),
        ),
    ];
    const identity = person({ groups, claims: { secret_claim: 'token-value-123' } });
    const decision = denied(decide(rules, identity, req('app', 'app'), NOW));
    assert.ok(decision.hint.length <= 300, `${decision.hint.length}: ${decision.hint}`);
    assert.match(
      decision.hint,
      /^rule "people" grants this to specific subjects and specific e-mail addresses \(yours: ann@example.com\)\. Roles you may use: role0 on db0; /,
    );
    assert.match(decision.hint, /…$/);
    for (const secret of ['00u9secret-bob', 'carol@', 'token-value-123', '00u1ann']) {
      assert.ok(!decision.hint.includes(secret) && !decision.message.includes(secret), secret);
    }
  });

  it('escapes control characters from the request', () => {
    const decision = denied(decide(EXAMPLE, person(), req('x\n\u0007', 'db"'), NOW));
    assert.equal(
      decision.message,
      'access denied: ann@example.com may not use role "x\\n\\u0007" on database "db\\""',
    );
  });
});
