import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PolicyRuleConfig } from '../../src/config/schema.ts';
import type { Identity } from '../../src/identity/identity.ts';
import { decide } from '../../src/policy/decide.ts';
import { explainDecision } from '../../src/policy/explain.ts';
import { personIdentity } from '../support/identities.ts';

const NOW = Date.parse('2025-06-01T12:00:00Z');
const MIN = 60_000;

const ann: Identity = personIdentity(NOW, {
  authTime: NOW - 133 * MIN,
  claims: { dept: 'bi' },
});

const RULES: PolicyRuleConfig[] = [
  {
    name: 'dba',
    match: { groups: ['dba'] },
    databases: ['*'],
    roles: ['postgres'],
    fresh_auth: 10 * MIN,
  },
  {
    name: 'analysts',
    match: { groups: ['analytics'] },
    databases: ['warehouse'],
    roles: ['analyst', 'reporting'],
    max_session: 8 * 60 * MIN,
  },
  { name: 'everyone', match: {}, databases: ['*'], roles: ['readonly'] },
];

describe('explainDecision', () => {
  it('prints identity, every rule with ✓/✗, and the message and hint the client sees', () => {
    const { decision, text } = explainDecision(
      RULES,
      ann,
      { role: 'postgres', database: 'warehouse' },
      NOW,
    );
    assert.deepEqual(
      decision,
      decide(RULES, ann, { role: 'postgres', database: 'warehouse' }, NOW),
    );
    assert.equal(
      text,
      [
        'identity',
        '  issuer    corp (https://idp.example.com)',
        '  subject   00u1ann',
        '  email     ann@example.com',
        '  kind      human',
        '  groups    analytics',
        '  FIDO2     yes (amr pop; acr phr)',
        '  key       not reported by this issuer',
        '  login     2h13m ago',
        'request     role "postgres" on database "warehouse"',
        '',
        'rules (in order; the first that grants wins)',
        '  1. dba: does not grant',
        '     ✗ missing group "dba"',
        '     ✓ database "warehouse" in [*]',
        '     ✓ role "postgres" in [postgres]',
        '     ✗ auth_time 2h13m ago exceeds fresh_auth 10m',
        '  2. analysts: does not grant',
        '     ✓ in group "analytics"',
        '     ✓ database "warehouse" in [warehouse]',
        '     ✗ role "postgres" not in [analyst, reporting]',
        '  3. everyone: does not grant',
        '     ✓ empty match: any person',
        '     ✓ database "warehouse" in [*]',
        '     ✗ role "postgres" not in [readonly]',
        '',
        'outcome     denied (ERR_ACCESS_DENIED, SQLSTATE 28000)',
        '  message   access denied: ann@example.com may not use role "postgres" on database "warehouse"',
        '  hint      rule "dba" grants this to group "dba" and a security-key login within the last 10m (you are in: analytics; yours was 2h13m ago). Roles you may use: analyst, reporting on warehouse; readonly on any database',
        '',
      ].join('\n'),
    );
  });

  it('marks rules after the granting one as not consulted and shows the session limit', () => {
    const { decision, text, json } = explainDecision(
      RULES,
      ann,
      { role: 'analyst', database: 'warehouse' },
      NOW,
    );
    assert.equal(decision.allowed, true);
    assert.match(text, /^ {2}2\. analysts: grants \(sessions end after 8h\)$/m);
    assert.match(text, /^ {2}3\. everyone: not consulted$/m);
    assert.match(
      text,
      /^outcome {5}allowed by rule "analysts": role "analyst" on database "warehouse"; sessions end after 8h$/m,
    );
    assert.deepEqual(
      json.rules.map((r) => [r.rule, r.consulted, r.grants]),
      [
        ['dba', true, false],
        ['analysts', true, true],
        ['everyone', false, false],
      ],
    );
  });

  it('says when the granting rule audits statements', () => {
    const audited = RULES.map((rule) =>
      rule.name === 'analysts'
        ? {
            ...rule,
            audit: { queries: true, parameters: 'hash', statement_max_bytes: 4096 } as const,
          }
        : rule,
    );
    const { text } = explainDecision(audited, ann, { role: 'analyst', database: 'warehouse' }, NOW);
    assert.match(text, /; sessions end after 8h; statements audited \(parameters: hash\)$/m);
  });

  it('shows stale logins and missing login times', () => {
    const stale = explainDecision(
      RULES,
      { ...ann, groups: ['dba'] },
      { role: 'postgres', database: 'x' },
      NOW,
    );
    assert.match(stale.text, /^outcome {5}denied \(ERR_STALE_AUTH, SQLSTATE 28000\)$/m);
    assert.match(
      stale.text,
      /^ {2}hint {6}log in again with your security key \(pgkey login --fresh\), then reconnect$/m,
    );
    const unknown = explainDecision(
      RULES,
      { ...ann, authTime: undefined, fido2: false, amr: [], acr: undefined },
      { role: 'readonly', database: 'x' },
      NOW,
    );
    assert.match(unknown.text, /^ {2}login {5}unknown \(no auth_time in the token\)$/m);
    assert.match(unknown.text, /^ {2}FIDO2 {5}no$/m);
    assert.equal(unknown.json.identity.authAgeMs, undefined);
  });

  it('gives a JSON form with the identity summary but no raw claims', () => {
    const { json } = explainDecision(RULES, ann, { role: 'analyst', database: 'warehouse' }, NOW);
    assert.equal(json.now, '2025-06-01T12:00:00.000Z');
    assert.equal(json.identity.authAgeMs, 133 * MIN);
    assert.deepEqual(json.request, { role: 'analyst', database: 'warehouse' });
    assert.ok(!JSON.stringify(json).includes('"dept"'));
    assert.equal(json.rules[0]?.checks.length, 4);
  });
});
