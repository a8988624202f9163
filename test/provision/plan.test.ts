import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PolicyRuleConfig, ProvisioningConfig } from '../../src/config/schema.ts';
import type { Identity } from '../../src/identity/identity.ts';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';
import { planProvisioning } from '../../src/provision/plan.ts';
import { personIdentity } from '../support/identities.ts';

const NOW = Date.parse('2025-06-01T12:00:00Z');
const MIN = 60_000;

const SETTINGS: ProvisioningConfig = {
  admin_role: 'pgkey_provisioner',
  admin_database: 'postgres',
  name_claim: 'email',
  pool_size: 2,
};

function person(overrides: Partial<Identity> = {}): Identity {
  return personIdentity(NOW, {
    authTime: NOW - 30 * MIN,
    claims: { email: 'ann@example.com', sub: '00u1ann' },
    ...overrides,
  });
}

function rule(name: string, fields: Partial<PolicyRuleConfig>): PolicyRuleConfig {
  return { name, match: {}, databases: ['warehouse'], roles: ['app'], ...fields };
}

const POLICY: PolicyRuleConfig[] = [
  rule('dba', {
    match: { groups: ['dba'] },
    databases: ['*'],
    roles: ['dba_role'],
    fresh_auth: 10 * MIN,
    provision: { mode: 'keep' },
  }),
  rule('analysts', {
    match: { groups: ['analytics'] },
    roles: ['analyst', 'reporting'],
    provision: { mode: 'drop' },
  }),
  rule('ops', {
    match: { groups: ['ops'] },
    databases: ['opsdb'],
    roles: ['operator'],
    provision: { mode: 'keep' },
  }),
  rule('shared', { match: { groups: ['analytics'] }, roles: ['reporting', 'viewer'] }),
];

const plan = (identity: Identity, ruleName: string, database = 'warehouse') =>
  planProvisioning(POLICY, SETTINGS, identity, { rule: ruleName, database }, NOW);

describe('provisioning plan', () => {
  it('names the role from the claim and grants the rule’s roles, sorted', () => {
    assert.deepEqual(plan(person(), 'analysts'), {
      role: 'ann@example.com',
      owner: { issuer: 'https://idp.example.com', subject: '00u1ann' },
      grants: ['analyst', 'reporting'],
      mode: 'drop',
      rules: ['analysts'],
    });
  });

  it('nothing when the granting rule does not provision, even if another one would', () => {
    assert.equal(plan(person(), 'shared'), undefined);
    assert.equal(
      planProvisioning(
        POLICY,
        undefined,
        person(),
        { rule: 'analysts', database: 'warehouse' },
        NOW,
      ),
      undefined,
    );
  });

  it('nothing for a minted service token, which opens the shared role it names', () => {
    const minted = person({
      restrictedTo: { database: 'warehouse', role: 'analyst', rule: 'analysts' },
    });
    assert.equal(plan(minted, 'minted:analysts'), undefined);
    assert.equal(plan(minted, 'analysts'), undefined);
  });

  it('grants the union of every provisioning rule that grants the person, on any of its databases', () => {
    const both = person({ groups: ['analytics', 'ops'] });
    const p = plan(both, 'analysts');
    assert.deepEqual(p?.grants, ['analyst', 'operator', 'reporting']);
    assert.deepEqual(p?.rules, ['analysts', 'ops']);
    // The same memberships whichever database the session asked for: membership is cluster-wide.
    assert.deepEqual(plan(both, 'ops', 'opsdb')?.grants, p?.grants);
    // A rule that does not provision adds nothing, though it matches.
    assert.ok(!p?.grants.includes('viewer'));
  });

  it('leaves out a rule whose login conditions this login does not meet', () => {
    const stale = person({ groups: ['analytics', 'dba'], authTime: NOW - 30 * MIN });
    assert.deepEqual(plan(stale, 'analysts')?.grants, ['analyst', 'reporting']);
    const fresh = person({ groups: ['analytics', 'dba'], authTime: NOW - 2 * MIN });
    assert.deepEqual(plan(fresh, 'analysts')?.grants, ['analyst', 'dba_role', 'reporting']);
  });

  it('keep wins over drop among the rules that grant', () => {
    assert.equal(plan(person(), 'analysts')?.mode, 'drop');
    assert.equal(plan(person({ groups: ['analytics', 'ops'] }), 'analysts')?.mode, 'keep');
  });

  it('refuses a login whose claim cannot name a role', () => {
    assert.throws(
      () => plan(person({ claims: {} }), 'analysts'),
      (e) => isPgkeyError(e, 'ERR_ROLE_NAME_INVALID'),
    );
    assert.throws(
      () => plan(person({ claims: { email: `${'x'.repeat(60)}@ab.c` } }), 'analysts'),
      (e) => isPgkeyError(e, 'ERR_ROLE_NAME_TOO_LONG'),
    );
  });

  it('refuses a name that is a role the configuration uses, existing yet or not', () => {
    const settings = { ...SETTINGS, reassign_to: 'pgkey_orphans' };
    // Granted by a provisioning rule, by a shared rule only, the admin role, reassign_to.
    for (const name of ['dba_role', 'viewer', 'pgkey_provisioner', 'pgkey_orphans']) {
      assert.throws(
        () =>
          planProvisioning(
            POLICY,
            settings,
            person({ claims: { email: name } }),
            { rule: 'analysts', database: 'warehouse' },
            NOW,
          ),
        (e) =>
          isPgkeyError(e, 'ERR_ROLE_CONFLICT') &&
          e.sqlstate === '42710' &&
          e.reason === 'role_name_configured' &&
          e.message.includes(`"${name}"`),
        name,
      );
    }
    // Exact, case-sensitive names: "Viewer" is another role.
    assert.equal(plan(person({ claims: { email: 'Viewer' } }), 'analysts')?.role, 'Viewer');
  });
});
