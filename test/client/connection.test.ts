// From profile and token to a connection: which database and role (flag, profile, or the
// one choice the policy leaves), the libpq environment, the driver URI and shell quoting.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import {
  connectionUri,
  libpqEnv,
  resolveTarget,
  shellExports,
  shellQuote,
} from '../../src/client/connection.ts';
import type { Profile } from '../../src/client/profiles.ts';
import type { GatewayView } from '../../src/client/whoami.ts';
import { isPgkeyError, PgkeyError } from '../../src/errors/pgkey-error.ts';

const profile: Profile = {
  name: 't',
  home: '/home/ada/.config/pgkey',
  issuer: 'https://login.example.com',
  client_id: 'pgkey-cli',
  scopes: ['openid'],
  acr_values: 'phrh phr',
  gateway: { host: 'db.example.com', port: 6432 },
  gateway_ca_file: '/home/ada/.config/pgkey/t-gateway-ca.pem',
  token_service: 'https://login.example.com',
};

const view: GatewayView = {
  identity: {},
  grants: [
    { database: 'warehouse', role: 'analyst', rule: 'analysts' },
    { database: 'warehouse', role: 'reporting', rule: 'analysts' },
    { database: 'crm', role: 'crm_reader', rule: 'sales' },
    { database: '*', role: 'auditor', rule: 'audit' },
  ],
};
const lookup = (v: GatewayView) => () => Promise.resolve(v);
const never = () => Promise.reject(new Error('the policy must not be asked'));

describe('choosing the database and role', () => {
  it('flags win, then the profile; neither asks the token service', async () => {
    assert.deepEqual(await resolveTarget(profile, 't', { database: 'crm', role: 'x' }, never), {
      database: 'crm',
      role: 'x',
    });
    assert.deepEqual(
      await resolveTarget({ ...profile, database: 'warehouse', role: 'analyst' }, 't', {}, never),
      { database: 'warehouse', role: 'analyst' },
    );
  });

  it('the only role the policy gives for the database is chosen', async () => {
    assert.deepEqual(
      await resolveTarget(
        profile,
        't',
        { database: 'crm' },
        lookup({ identity: {}, grants: view.grants.slice(2, 3) }),
      ),
      {
        database: 'crm',
        role: 'crm_reader',
      },
    );
    const one = { identity: {}, grants: [view.grants[0]!] };
    assert.deepEqual(await resolveTarget(profile, 't', {}, lookup(one)), {
      database: 'warehouse',
      role: 'analyst',
    });
  });

  it('several roles: an error listing them and how to choose', async () => {
    await assert.rejects(
      resolveTarget(profile, 't', { database: 'warehouse' }, lookup(view)),
      (error: unknown) => {
        assert.ok(isPgkeyError(error, 'ERR_USAGE'));
        assert.equal(
          error.message,
          'choose a role for database "warehouse": analyst, reporting, auditor',
        );
        assert.equal(error.hint, '--role analyst, or set role: in profile "t"');
        // The CLI prints the hint and no usage line for this reason (cli/main.ts).
        assert.equal(error.reason, 'role_choice_needed');
        return true;
      },
    );
  });

  it('no role, no database, no token service: each says what to do', async () => {
    await assert.rejects(
      resolveTarget(
        profile,
        't',
        { database: 'hr' },
        lookup({ identity: {}, grants: view.grants.slice(0, 3) }),
      ),
      /gives you no role on database "hr"/,
    );
    await assert.rejects(
      resolveTarget(profile, 't', {}, lookup(view)),
      /name the database: the gateway's policy gives you warehouse, crm/,
    );
    await assert.rejects(
      resolveTarget(profile, 't', { database: 'warehouse' }, () =>
        Promise.reject(
          new PgkeyError('ERR_NOT_FOUND', { message: 'profile "t" has no token service' }),
        ),
      ),
      (error: unknown) => {
        assert.ok(isPgkeyError(error, 'ERR_USAGE'));
        assert.match(error.message, /^name the role: profile "t" has no token service/);
        assert.match(error.hint ?? '', /--role ROLE/);
        return true;
      },
    );
  });
});

describe('handing the connection to clients', () => {
  const target = { database: 'ware house', role: 'analyst' };
  const token = 'eyJ.a+b/c=.sig';

  it('libpq environment: verify-full with the profile CA', () => {
    assert.deepEqual(libpqEnv(profile, target, token), {
      PGHOST: 'db.example.com',
      PGPORT: '6432',
      PGUSER: 'analyst',
      PGDATABASE: 'ware house',
      PGPASSWORD: token,
      PGSSLMODE: 'verify-full',
      PGSSLROOTCERT: '/home/ada/.config/pgkey/t-gateway-ca.pem',
    });
    const noCa: Profile = { ...profile, gateway_ca_file: undefined };
    assert.equal(libpqEnv(noCa, target, token).PGSSLROOTCERT, 'system');
  });

  it('URI: percent-encoded token and database, IPv6 literal in brackets', () => {
    const uri = connectionUri(profile, target, token);
    assert.equal(
      uri,
      'postgresql://analyst:eyJ.a%2Bb%2Fc%3D.sig@db.example.com:6432/ware%20house?sslmode=verify-full&sslrootcert=%2Fhome%2Fada%2F.config%2Fpgkey%2Ft-gateway-ca.pem',
    );
    const parsed = new URL(uri);
    assert.equal(decodeURIComponent(parsed.password), token);
    assert.match(
      connectionUri({ ...profile, gateway: { host: '::1', port: 7 } }, target, token),
      /@\[::1\]:7\//,
    );
  });

  it('shell exports survive quotes and $ in values (checked by sh itself)', () => {
    const hostile = `it's $(rm -rf /) "x" \`y\``;
    assert.equal(shellQuote("a'b"), `'a'\\''b'`);
    const script = `${shellExports({ PGHOST: hostile })}printf %s "$PGHOST"`;
    assert.equal(execFileSync('sh', ['-c', script], { encoding: 'utf8' }), hostile);
  });
});
