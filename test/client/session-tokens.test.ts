// The token cache against the real built-in provider (the whole server, harness `idp: true`):
// `pgkey login` over the loopback redirect with the soft authenticator, then
// freshAccessToken — the cached token while it lasts, one refresh (rotating the refresh
// token) when it does not, single-flight in a process and across processes, and a clear
// "log in again" when the provider ends the grant. The refreshed token works at the gateway.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadProfile } from '../../src/client/profiles.ts';
import { freshAccessToken } from '../../src/client/session-tokens.ts';
import {
  readTokenCache,
  tokenCacheFile,
  writeTokenCache,
  type CachedTokens,
} from '../../src/client/token-cache.ts';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';
import type { EnrolledUser } from '../support/builtin-idp.ts';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';
import { approveLoopbackLogin, ClientHome, LOGIN_URL } from './client-fixture.ts';

const PGKEY = join(import.meta.dirname, '../../bin/pgkey.js');

describe('freshAccessToken against the built-in provider', { timeout: 180_000 }, () => {
  let h: GatewayHarness;
  let home: ClientHome;
  let person: EnrolledUser;

  before(async () => {
    h = await startGatewayHarness({ idp: true });
    home = await ClientHome.create();
    person = await h.idp!.enroll('ada@example.com', ['analytics']);
  });
  after(async () => {
    await home?.close();
    await h?.close();
  });

  /** `pgkey login --no-browser` with the soft key approving in the "browser". */
  async function login(): Promise<CachedTokens> {
    const running = home.start(
      'login',
      '--no-browser',
      '--profile',
      't',
      '--issuer',
      h.idp!.issuer,
      '--gateway',
      `localhost:${h.gateway.port}`,
      '--ca',
      h.clientCaFile,
    );
    const [, url] = await running.stderr.waitFor(LOGIN_URL);
    const answered = await approveLoopbackLogin(h.idp!.issuer, url!, person.authenticator);
    assert.equal(answered.status, 200);
    assert.match(answered.page, /You may close this tab/);
    const result = await running.done;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^Logged in as ada@example\.com \(profile t\)/);
    const cached = await readTokenCache(await profile());
    assert.ok(cached);
    return cached;
  }

  const profile = () => loadProfile(home.env, 't');

  /** The cache with the access token made to look nearly expired. */
  async function nearlyExpired(): Promise<CachedTokens> {
    const p = await profile();
    const cached = (await readTokenCache(p))!;
    const aged = { ...cached, expires_at: Date.now() + 5_000 };
    await writeTokenCache(p, aged);
    return aged;
  }

  it('login writes a 0600 cache with a refresh token and the login summary', async () => {
    const cached = await login();
    const p = await profile();
    const file = tokenCacheFile(p);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(join(home.configDir, 'tokens'))).mode & 0o777, 0o700);
    assert.equal(cached.via, 'loopback');
    assert.ok(cached.refresh_token, 'the provider issues pgkey-cli a refresh token');
    assert.equal(cached.identity.email, 'ada@example.com');
    assert.equal(typeof cached.identity.auth_time, 'number');
    assert.ok(cached.expires_at > Date.now() + 60_000);
  });

  it('returns the cached token while it has minValidityMs left', async () => {
    const p = await profile();
    const before = (await readTokenCache(p))!;
    const fresh = await freshAccessToken(p, { minValidityMs: 60_000 });
    assert.equal(fresh.token, before.access_token);
    assert.equal(fresh.expiresAt, before.expires_at);
    assert.deepEqual(fresh.claims.groups, ['analytics']);
  });

  it('refreshes before expiry, once for concurrent callers, keeping auth_time', async () => {
    const aged = await nearlyExpired();
    const p = await profile();
    const results = await Promise.all(
      Array.from({ length: 5 }, () => freshAccessToken(p, { minValidityMs: 60_000 })),
    );
    const tokens = new Set(results.map((r) => r.token));
    assert.equal(tokens.size, 1, 'one refresh served every caller');
    const [token] = tokens;
    assert.notEqual(token, aged.access_token);
    const cached = (await readTokenCache(p))!;
    assert.equal(cached.access_token, token);
    assert.equal(cached.via, 'refresh');
    assert.notEqual(cached.refresh_token, aged.refresh_token, 'the refresh token rotated');
    assert.equal(cached.identity.auth_time, aged.identity.auth_time);
    assert.equal(results[0]?.claims.auth_time, aged.identity.auth_time);
    assert.equal((await stat(tokenCacheFile(p))).mode & 0o777, 0o600);

    const psql = await h.psql(token!, ['-Atc', 'select current_user']);
    assert.equal(psql.stdout.trim(), 'analyst', psql.stderr);
  });

  it('refreshes once across processes (rotating refresh tokens survive concurrent pgkey)', async () => {
    const aged = await nearlyExpired();
    const outputs = await Promise.all(
      Array.from(
        { length: 4 },
        () =>
          new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
            const child = spawn(process.execPath, [PGKEY, 'token', '--profile', 't'], {
              env: home.env,
            });
            let stdout = '';
            let stderr = '';
            child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
            child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
            child.on('close', (code) => resolve({ code, stdout, stderr }));
          }),
      ),
    );
    for (const out of outputs) assert.equal(out.code, 0, out.stderr);
    const printed = new Set(outputs.map((o) => o.stdout.trim()));
    assert.equal(printed.size, 1, 'every process got the one refreshed token');
    assert.notEqual([...printed][0], aged.access_token);
    const cached = (await readTokenCache(await profile()))!;
    assert.equal(cached.access_token, [...printed][0]);
    // The grant is still alive: a reused refresh token would have revoked it.
    await nearlyExpired();
    const again = await freshAccessToken(await profile(), { minValidityMs: 60_000 });
    assert.notEqual(again.token, cached.access_token);
  });

  it('without a refresh token, an expiring token means log in again', async () => {
    const p = await profile();
    const cached = (await readTokenCache(p))!;
    await writeTokenCache(p, {
      ...cached,
      refresh_token: undefined,
      expires_at: Date.now() + 5_000,
    });
    await assert.rejects(freshAccessToken(p, { minValidityMs: 60_000 }), (error: unknown) => {
      assert.ok(isPgkeyError(error, 'ERR_LOGIN_REQUIRED'));
      assert.equal(error.sqlstate, '28000');
      assert.equal(error.httpStatus, 401);
      assert.equal(error.hint, 'pgkey login --profile t');
      return true;
    });
    // A still-valid token is enough when the caller needs less.
    const fresh = await freshAccessToken(p, { minValidityMs: 1_000 });
    assert.equal(fresh.token, cached.access_token);
  });

  it('a refresh the provider refuses (invalid_grant) drops the refresh token', async () => {
    await login();
    const p = await profile();
    const cached = (await readTokenCache(p))!;
    await writeTokenCache(p, {
      ...cached,
      refresh_token: 'not-a-refresh-token',
      expires_at: Date.now() + 5_000,
    });
    await assert.rejects(freshAccessToken(p, { minValidityMs: 60_000 }), (error: unknown) => {
      assert.ok(isPgkeyError(error, 'ERR_LOGIN_REQUIRED'), String(error));
      assert.match(error.message, /refresh refused/);
      return true;
    });
    assert.equal((await readTokenCache(p))?.refresh_token, undefined);
  });
});
