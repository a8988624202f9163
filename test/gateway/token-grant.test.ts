import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PolicyRuleConfig } from '../../src/config/schema.ts';
import type { Identity } from '../../src/identity/identity.ts';
import { authorizeRestricted } from '../../src/gateway/token-grant.ts';

const RULES: PolicyRuleConfig[] = [
  {
    name: 'deployers',
    match: { groups: ['deploy'] },
    databases: ['app'],
    roles: ['deployer', 'reader'],
    max_session: 600_000,
  },
  { name: 'anyone', match: {}, databases: ['*'], roles: ['reader'] },
];

const service = {
  issuerName: 'pgkey-sts',
  subject: 'svc:ci-deploy',
  kind: 'workload',
  restrictedTo: { database: 'app', role: 'deployer', rule: 'deployers' },
} as Identity;

describe('service-token grants at the gateway', () => {
  it('leave every other identity to the policy', () => {
    assert.equal(
      authorizeRestricted(
        RULES,
        { ...service, restrictedTo: undefined },
        { database: 'app', role: 'reader' },
      ),
      undefined,
    );
  });

  it('open exactly the granted pair, with the granting rule’s limits', () => {
    assert.deepEqual(authorizeRestricted(RULES, service, { database: 'app', role: 'deployer' }), {
      allowed: true,
      rule: 'minted:deployers',
      role: 'deployer',
      database: 'app',
      maxSessionMs: 600_000,
      idleTimeoutMs: undefined,
      reauthenticateAt: undefined,
      assurance: undefined,
      queryAudit: undefined,
    });
  });

  it('carry the rule’s idle limit (its own or its assurance preset’s) to the session', () => {
    const strict = [{ ...RULES[0]!, assurance: 'aal3' as const }];
    const decision = authorizeRestricted(strict, service, { database: 'app', role: 'deployer' });
    assert.ok(decision?.allowed === true);
    assert.equal(decision.idleTimeoutMs, 15 * 60_000);
    assert.equal(decision.assurance, 'aal3');
    // The token has no login of its own: the minter's was checked when it was minted.
    assert.equal(decision.reauthenticateAt, undefined);
    const own = [{ ...RULES[0]!, assurance: 'aal3' as const, idle_timeout: 60_000 }];
    const shorter = authorizeRestricted(own, service, { database: 'app', role: 'deployer' });
    assert.equal(shorter?.allowed === true ? shorter.idleTimeoutMs : undefined, 60_000);
  });

  it('refuse any other database or role, even one a rule would allow', () => {
    for (const request of [
      { database: 'app', role: 'reader' },
      { database: 'other', role: 'deployer' },
    ]) {
      const decision = authorizeRestricted(RULES, service, request);
      assert.ok(decision !== undefined && !decision.allowed);
      assert.equal(decision.code, 'ERR_ACCESS_DENIED');
      assert.equal(
        decision.message,
        'access denied: this service token opens only role "deployer" on database "app"',
      );
    }
  });

  it('stop when the rule that allowed the mint no longer grants the pair', () => {
    const changed = [{ ...RULES[0]!, roles: ['reader'] }];
    for (const rules of [changed, RULES.slice(1)]) {
      const decision = authorizeRestricted(rules, service, { database: 'app', role: 'deployer' });
      assert.ok(decision !== undefined && !decision.allowed);
      assert.match(decision.message, /policy rule "deployers", which allowed minting this token/);
    }
  });
});
