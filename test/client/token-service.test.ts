// The client against pgkey's real token service (src/sts) rather than the stand-in: the
// bootstrap document it publishes becomes a working profile, and its whoami drives
// `pgkey status` and the role choice of `pgkey psql` (the one role a database allows is
// taken, several must be chosen); `--ca` supplies the gateway's CA when the document
// publishes none.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { loadProfile } from '../../src/client/profiles.ts';
import type { EnrolledUser } from '../support/builtin-idp.ts';
import {
  DEFAULT_POLICY,
  startGatewayHarness,
  type GatewayHarness,
} from '../support/gateway-harness.ts';
import { approveLoopbackLogin, ClientHome, LOGIN_URL } from './client-fixture.ts';

describe('pgkey login and status with the real token service', { timeout: 180_000 }, () => {
  let h: GatewayHarness;
  let home: ClientHome;
  let person: EnrolledUser;

  before(async () => {
    h = await startGatewayHarness({
      idp: true,
      tokenService: true,
      policy: [
        ...DEFAULT_POLICY,
        // One role on this database: `pgkey psql postgres` needs no --role.
        {
          name: 'postgres-readers',
          match: { groups: ['analytics'] },
          databases: ['postgres'],
          roles: ['reporting'],
        },
      ],
    });
    home = await ClientHome.create();
    person = await h.idp!.enroll('grace@example.com', ['analytics']);
  });
  after(async () => {
    await home?.close();
    await h?.close();
  });

  it('bootstrap, login, whoami grants, role choice', async () => {
    const running = home.start(
      'login',
      h.tokenService!,
      '--ca',
      h.clientCaFile,
      '--no-browser',
      '--profile',
      'sts',
    );
    const [, url] = await running.stderr.waitFor(LOGIN_URL);
    await approveLoopbackLogin(h.idp!.issuer, url!, person.authenticator);
    const login = await running.done;
    assert.equal(login.code, 0, login.stderr);
    const profile = await loadProfile(home.env, 'sts');
    assert.equal(profile.issuer, h.idp!.issuer);
    assert.equal(profile.token_service, h.tokenService);
    assert.equal(
      profile.gateway_ca_file,
      h.clientCaFile,
      '--ca: the gateway CA the document lacks',
    );

    const status = await home.run('status', '--json');
    assert.equal(status.code, 0, status.stderr);
    const body = JSON.parse(status.stdout) as {
      policy: { grants: { database: string; role: string; rule: string }[] } | null;
      policy_problem: string | null;
    };
    assert.equal(body.policy_problem, null);
    assert.deepEqual(
      body.policy?.grants.filter((g) => g.database === 'warehouse').map((g) => g.role),
      ['analyst', 'reporting'],
    );

    const ambiguous = await home.run('psql', 'warehouse', '--', '-X', '-Atc', 'select 1');
    assert.equal(ambiguous.code, 2);
    assert.equal(
      ambiguous.stderr,
      'pgkey: choose a role for database "warehouse": analyst, reporting\n' +
        'hint: --role analyst, or set role: in profile "sts"\n',
      'the hint says what to add; no usage line under it',
    );
    const psql = await home.run(
      'psql',
      'warehouse',
      '-r',
      'reporting',
      '--',
      '-X',
      '-Atc',
      'select current_user',
    );
    assert.equal(psql.stdout, 'reporting\n', psql.stderr);

    const only = await home.run('psql', 'postgres', '--', '-X', '-Atc', 'select current_user');
    assert.equal(only.code, 0, only.stderr);
    assert.equal(only.stdout, 'reporting\n', 'the one role the policy gives on postgres');
  });
});
