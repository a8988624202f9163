import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { checkConfig, formatDiagnostic } from '../../src/config/load.ts';
import type { ConfigInput } from '../../src/config/schema.ts';

/** A config with one provisioning rule that is valid as it stands. */
function base(): ConfigInput {
  return {
    listen: { address: '127.0.0.1:6432', tls: { cert: 'gw.pem', key: 'gw-key.pem' } },
    issuers: [
      { name: 'corp', issuer: 'https://idp.example.com', audience: 'pgkey', profile: 'okta' },
    ],
    upstream: { tls: { ca: 'pg-ca.pem' }, auth: 'cert', ca: { cert: 'ca.pem', key: 'ca-key.pem' } },
    policy: [
      {
        name: 'analysts',
        match: { groups: ['analytics'] },
        databases: ['warehouse'],
        roles: ['analyst', 'reporting'],
        provision: { mode: 'keep' },
      },
      { name: 'dba', match: { groups: ['dba'] }, databases: ['*'], roles: ['postgres'] },
    ],
    provisioning: {},
  };
}

function check(edit: (c: ConfigInput) => void = () => undefined) {
  const input = base();
  edit(input);
  const result = checkConfig(stringify(input), '/etc/pgkey');
  return {
    ...result,
    errors: result.errors.map((d) => formatDiagnostic(d)),
    warnings: result.warnings.map((d) => formatDiagnostic(d)),
  };
}

describe('provisioning config', () => {
  it('defaults: pgkey_provisioner in postgres, the e-mail claim, two admin connections', () => {
    const result = check();
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.warnings, []);
    assert.deepEqual(result.config?.provisioning, {
      admin_role: 'pgkey_provisioner',
      admin_database: 'postgres',
      name_claim: 'email',
      pool_size: 2,
    });
    assert.deepEqual(result.config?.policy[0]?.provision, { mode: 'keep' });
  });

  const errors: [string, (c: ConfigInput) => void, string][] = [
    [
      'provisioned roles have no password to log in with',
      (c) =>
        Object.assign(c.upstream, {
          auth: 'scram',
          ca: undefined,
          scram: { secrets_file: 's.yaml' },
        }),
      'policy[0].provision: needs upstream.auth "cert": provisioned roles have no password, pgkey logs them in with certificates',
    ],
    [
      'a rule grants the admin role',
      (c) => c.policy[1]!.roles.push('pgkey_provisioner'),
      'policy[1].roles[1]: "pgkey_provisioner" is provisioning.admin_role: no rule may grant it',
    ],
    [
      'a rule grants the owner of dropped roles’ objects',
      (c) => {
        c.provisioning = { reassign_to: 'orphans' };
        c.policy[1]!.roles = ['orphans'];
      },
      'policy[1].roles[0]: "orphans" is provisioning.reassign_to: no rule may grant it',
    ],
    [
      'a reserved admin role',
      (c) => (c.provisioning = { admin_role: 'pg_monitor' }),
      'provisioning.admin_role: "pg_monitor" is a reserved PostgreSQL role name',
    ],
    [
      'objects of dropped roles given to pgkey itself',
      (c) => (c.provisioning = { reassign_to: 'pgkey_provisioner' }),
      'provisioning.reassign_to: must not be the admin role: dropped roles’ objects would belong to pgkey',
    ],
    [
      'an unknown mode',
      (c) => (c.policy[0]!.provision = { mode: 'delete' as 'drop' }),
      'policy[0].provision.mode: must be one of keep, drop; got "delete"',
    ],
    [
      'a 64-byte admin role name',
      (c) => (c.provisioning = { admin_role: 'p'.repeat(64) }),
      'provisioning.admin_role: must be 1-63 bytes without NUL (a PostgreSQL name)',
    ],
  ];
  for (const [title, edit, expected] of errors) {
    it(`refuses ${title}`, () => {
      const result = check(edit);
      assert.deepEqual(result.errors, [expected]);
      assert.equal(result.config, undefined);
    });
  }

  it('accepts drop with an owner for what dropped roles leave', () => {
    const result = check((c) => {
      c.policy[0]!.provision = { mode: 'drop' };
      c.provisioning = { reassign_to: 'pgkey_orphans', name_claim: 'preferred_username' };
    });
    assert.deepEqual(result.errors, []);
    assert.equal(result.config?.provisioning?.reassign_to, 'pgkey_orphans');
  });

  it('warns about a provisioning section no rule uses', () => {
    const result = check((c) => delete c.policy[0]!.provision);
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.warnings, ['provisioning: ignored: no policy rule has `provision`']);
  });
});
