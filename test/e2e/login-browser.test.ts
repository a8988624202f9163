// The daily path in a real browser: an invite, a key registered with Chromium's virtual
// authenticator, `pgkey login <token service URL> --no-browser` (bootstrap, loopback redirect,
// PKCE) with Chromium following the printed URL, then every command that uses the cached
// token — psql (role choice, --role, the profile's role, exit codes), env, token, connstr
// with node-postgres, status with and without the token service — `--fresh` for a new touch
// of the key, and logout revoking the refresh token at the provider.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { loadProfile, saveProfile } from '../../src/client/profiles.ts';
import { readTokenCache, tokenCacheFile } from '../../src/client/token-cache.ts';
import { ClientHome, LOGIN_URL } from '../client/client-fixture.ts';
import {
  enrollWithVirtualKey,
  launchChromium,
  NO_CHROMIUM,
  type Chromium,
} from '../idp/browser/chromium-harness.ts';
import { startFakeTokenService, type FakeTokenService } from '../support/fake-token-service.ts';
import {
  DEFAULT_POLICY,
  run,
  startGatewayHarness,
  type GatewayHarness,
} from '../support/gateway-harness.ts';

const SELECT_USER = ['-X', '-Atc', 'select current_user'];

describe(
  'pgkey login in Chromium, then psql, env, token, connstr, status, logout',
  {
    skip: NO_CHROMIUM,
    timeout: 300_000,
  },
  () => {
    let h: GatewayHarness;
    let chrome: Chromium;
    let sts: FakeTokenService;
    let home: ClientHome;
    const email = `lin-${randomBytes(3).toString('hex')}@example.com`;

    before(async () => {
      h = await startGatewayHarness({ idp: true });
      sts = await startFakeTokenService({
        issuer: h.idp!.issuer,
        gateway: { host: 'localhost', port: h.gateway.port },
        gatewayCaPem: await readFile(h.clientCaFile, 'utf8'),
        policy: DEFAULT_POLICY,
      });
      home = await ClientHome.create();
      chrome = await launchChromium();
      await enrollWithVirtualKey(chrome, h.idp!, {
        email,
        groups: ['analytics'],
        by: 'login-browser-test',
      });
    });
    after(async () => {
      await chrome?.close();
      await sts?.close();
      await home?.close();
      await h?.close();
    });

    /** Chromium follows the URL the CLI printed and signs in with the virtual key. */
    async function signInAt(url: string): Promise<void> {
      const { page } = chrome;
      const redirect = new URL(url).searchParams.get('redirect_uri')!;
      await page.goto(url);
      await page.waitForURL(/\/interaction\/[\w-]+$/);
      await page.waitForFunction(`!document.getElementById('signin').disabled`);
      await Promise.all([page.waitForURL(`${redirect}?**`), page.locator('#signin').click()]);
      assert.equal(await page.locator('#outcome').textContent(), 'Signed in');
    }

    const profile = () => loadProfile(home.env, 't');

    it('login from the token service URL: bootstrap, loopback, cache 0600', async () => {
      const running = home.start('login', sts.url, '--no-browser', '--profile', 't');
      const [, url] = await running.stderr.waitFor(LOGIN_URL);
      const params = new URL(url!).searchParams;
      assert.equal(params.get('client_id'), 'pgkey-cli');
      assert.equal(params.get('code_challenge_method'), 'S256');
      assert.equal(params.get('acr_values'), 'phrh phr');
      assert.equal(params.get('scope'), 'openid email groups offline_access');
      assert.match(params.get('redirect_uri') ?? '', /^http:\/\/127\.0\.0\.1:\d+\/callback$/);
      assert.ok(params.get('state') && params.get('nonce'));
      assert.equal(params.get('max_age'), null);
      await signInAt(url!);
      const result = await running.done;
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, new RegExp(`^Logged in as ${email} \\(profile t\\)`));
      assert.match(
        result.stderr,
        /profile "t": issuer http:\/\/localhost:\d+, gateway localhost:\d+/,
      );

      const p = await profile();
      assert.equal(p.token_service, sts.url);
      assert.equal(p.gateway_ca_file, join(home.configDir, 't-gateway-ca.pem'));
      assert.equal((await stat(tokenCacheFile(p))).mode & 0o777, 0o600);
      const cached = await readTokenCache(p);
      assert.equal(cached?.identity.email, email);
      assert.ok(cached?.refresh_token);
      assert.ok(!result.stdout.includes(cached.access_token), 'login never prints the token');
      assert.ok(!result.stderr.includes(cached.access_token));
    });

    it('psql: two roles on warehouse → choose; --role; the profile role; exit codes pass through', async () => {
      const ambiguous = await home.run('psql', 'warehouse', '--', ...SELECT_USER);
      assert.equal(ambiguous.code, 2);
      assert.match(
        ambiguous.stderr,
        /^pgkey: choose a role for database "warehouse": analyst, reporting$/m,
      );
      assert.match(ambiguous.stderr, /^hint: --role analyst, or set role: in profile "t"$/m);
      assert.doesNotMatch(ambiguous.stderr, /^usage:/m, 'the hint is enough');

      const analyst = await home.run(
        'psql',
        'warehouse',
        '--role',
        'analyst',
        '--',
        ...SELECT_USER,
      );
      assert.equal(analyst.code, 0, analyst.stderr);
      assert.equal(analyst.stdout, 'analyst\n');

      await saveProfile(home.configDir, 't', { database: 'warehouse', role: 'reporting' });
      const reporting = await home.run('psql', '--', ...SELECT_USER);
      assert.equal(reporting.stdout, 'reporting\n', reporting.stderr);
      await saveProfile(home.configDir, 't', { database: undefined, role: undefined });

      const script = join(home.dir, 'fail.sql');
      await writeFile(script, 'select 1/0;\n');
      const failed = await home.run(
        'psql',
        'warehouse',
        '-r',
        'analyst',
        '--',
        '-X',
        '-v',
        'ON_ERROR_STOP=1',
        '-f',
        script,
      );
      assert.equal(failed.code, 3, "psql's own exit status");
      assert.match(failed.stderr, /division by zero/);

      const denied = await home.run(
        'psql',
        'warehouse',
        '--role',
        'app_owner',
        '--',
        ...SELECT_USER,
      );
      assert.equal(denied.code, 2, 'psql: the connection was refused');
      assert.match(denied.stderr, /access denied/);
    });

    it('env (shell and --json), token, connstr with node-postgres', async () => {
      const json = await home.run('env', 'warehouse', '--role', 'analyst', '--json');
      assert.equal(json.code, 0, json.stderr);
      const vars = JSON.parse(json.stdout) as Record<string, string>;
      assert.equal(vars.PGSSLMODE, 'verify-full');
      assert.equal(vars.PGUSER, 'analyst');
      assert.match(json.stderr, /PGPASSWORD holds an access token that expires at/);
      const viaJson = await run('psql', SELECT_USER, { PATH: process.env.PATH, ...vars });
      assert.equal(viaJson.stdout, 'analyst\n', viaJson.stderr);

      const shell = await home.run('env', 'warehouse', '--role', 'reporting');
      assert.match(shell.stdout, /^unset PGSERVICE PGHOSTADDR\nexport PGHOST='localhost'\n/);
      const viaShell = await run(
        'sh',
        ['-c', `${shell.stdout}psql -X -Atc 'select current_user'`],
        { PATH: process.env.PATH, PGSERVICE: 'nonexistent' },
      );
      assert.equal(viaShell.stdout, 'reporting\n', viaShell.stderr);

      const token = await home.run('token');
      assert.equal(token.code, 0, token.stderr);
      assert.equal(token.stdout, `${vars.PGPASSWORD}\n`);
      assert.equal(token.stderr, '');

      const connstr = await home.run('connstr', 'warehouse', '--role', 'reporting');
      assert.equal(connstr.code, 0, connstr.stderr);
      assert.match(connstr.stderr, /this URI holds an access token that expires at/);
      const uri = connstr.stdout.trim();
      assert.match(
        uri,
        /^postgresql:\/\/reporting:[^@]+@localhost:\d+\/warehouse\?sslmode=verify-full&sslrootcert=/,
      );
      const client = new pg.Client({ connectionString: uri });
      await client.connect();
      try {
        const { rows } = await client.query<{ u: string }>('select current_user as u');
        assert.equal(rows[0]?.u, 'reporting');
      } finally {
        await client.end();
      }
    });

    it('status: who I am, token times, and the policy from whoami — or why not', async () => {
      const text = await home.run('status');
      assert.equal(text.code, 0, text.stderr);
      assert.match(text.stdout, /^profile {3}t$/m);
      assert.match(text.stdout, new RegExp(`^email {5}${email}$`, 'm'));
      assert.match(text.stdout, /^groups {4}analytics$/m);
      assert.match(text.stdout, /^key used {2}.*Z \(\d+s ago\)$/m);
      assert.match(
        text.stdout,
        /^token {5}valid until .*Z \(in \d+m.*\), refreshed automatically$/m,
      );
      assert.match(text.stdout, /^warehouse +analyst +analysts$/m);
      assert.match(text.stdout, /^warehouse +reporting +analysts$/m);

      const json = await home.run('status', '--json');
      const body = JSON.parse(json.stdout) as {
        logged_in: boolean;
        email: string;
        groups: string[];
        auth_age_seconds: number;
        policy: { grants: { role: string }[] };
      };
      assert.equal(body.logged_in, true);
      assert.equal(body.email, email);
      assert.deepEqual(body.groups, ['analytics']);
      assert.equal(typeof body.auth_age_seconds, 'number');
      assert.deepEqual(
        body.policy.grants.map((g) => g.role),
        ['analyst', 'reporting'],
      );

      const p = await profile();
      await saveProfile(home.configDir, 't', { token_service: 'http://127.0.0.1:1' });
      const down = await home.run('status');
      assert.equal(down.code, 0);
      assert.match(
        down.stdout,
        /^What the gateway gives you: unknown \(cannot reach the token service at http:\/\/127\.0\.0\.1:1\)$/m,
      );
      assert.match(down.stdout, /^groups {4}analytics$/m, 'the token part is still shown');
      await saveProfile(home.configDir, 't', { token_service: undefined });
      const none = await home.run('status');
      assert.match(none.stdout, /this profile has no token service/);
      const noRole = await home.run('psql', 'warehouse', '--', ...SELECT_USER);
      assert.equal(noRole.code, 2);
      assert.match(noRole.stderr, /name the role: profile "t" has no token service/);
      await saveProfile(home.configDir, 't', { token_service: p.token_service });
    });

    it('--fresh sends max_age=0 and prompt=login and gets a newer auth_time', async () => {
      const before = (await readTokenCache(await profile()))!;
      await saveProfile(home.configDir, 't', { authorization_params: { ui_locales: 'en' } });
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      const running = home.start('login', '--fresh', '--no-browser', '--profile', 't');
      const [, url] = await running.stderr.waitFor(LOGIN_URL);
      const params = new URL(url!).searchParams;
      assert.equal(params.get('max_age'), '0');
      assert.equal(params.get('prompt'), 'login');
      assert.equal(params.get('ui_locales'), 'en', "the profile's authorization_params");
      await signInAt(url!);
      const result = await running.done;
      assert.equal(result.code, 0, result.stderr);
      const after = (await readTokenCache(await profile()))!;
      assert.ok(
        after.identity.auth_time! > before.identity.auth_time!,
        `auth_time ${after.identity.auth_time} after ${before.identity.auth_time}`,
      );
    });

    it('--device where the provider does not offer it: a clear refusal', async () => {
      const result = await home.run('login', '--device', '--profile', 't');
      assert.equal(result.code, 1);
      assert.match(result.stderr, /offers no device login/);
      assert.match(result.stderr, /idp\.cli_device_flow: true/);
      assert.ok(await readTokenCache(await profile()), 'the cache is untouched');
    });

    it('logout revokes the refresh token and deletes the cache', async () => {
      const p = await profile();
      const cached = (await readTokenCache(p))!;
      const result = await home.run('logout');
      assert.equal(result.code, 0, result.stderr);
      assert.equal(
        result.stdout,
        'Logged out of profile t: cached tokens deleted, the refresh token is revoked at the provider\n',
      );
      assert.equal(await readTokenCache(p), undefined);
      const refresh = await fetch(`${h.idp!.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          client_id: 'pgkey-cli',
          refresh_token: cached.refresh_token!,
        }),
      });
      assert.equal(((await refresh.json()) as { error?: string }).error, 'invalid_grant');

      const token = await home.run('token');
      assert.equal(token.code, 1);
      assert.match(
        token.stderr,
        /^pgkey: profile "t": not logged in\nhint: pgkey login --profile t\n$/,
      );
      const status = await home.run('status');
      assert.equal(status.code, 1);
      assert.match(status.stdout, /Not logged in: pgkey login --profile t/);
      const again = await home.run('logout');
      assert.equal(again.stdout, 'Not logged in (profile t): nothing to remove\n');
    });
  },
);
