import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { loadProfile, type Profile } from '../../src/client/profiles.ts';
import { readTokenCache } from '../../src/client/token-cache.ts';
import type { TunnelEvent } from '../../src/tunnel/tunnel-events.ts';
import { startTunnel, type Tunnel } from '../../src/tunnel/tunnel.ts';
import { approveLoopbackLogin, ClientHome, LOGIN_URL } from '../client/client-fixture.ts';
import type { EnrolledUser } from './builtin-idp.ts';
import { run, type GatewayHarness, type RunResult } from './gateway-harness.ts';

/**
 * `pgkey tunnel` end to end: a person logged in with `pgkey login` (the soft key approving
 * in the "browser", no Chromium), their profile, a tunnel on a free loopback port started
 * in-process, and psql/pgbench pointed at it the way a person would — no password, no TLS
 * settings, nothing but host, port, user and database.
 */
export interface TunnelFixture {
  readonly home: ClientHome;
  readonly profile: Profile;
  readonly tunnel: Tunnel;
  readonly events: TunnelEvent[];
  /** libpq environment for the tunnel: no PGPASSWORD, no PGSSL*, an empty HOME (no .pgpass). */
  env(extra?: Record<string, string>): NodeJS.ProcessEnv;
  psql(
    args: readonly string[],
    o?: { user?: string; database?: string; env?: Record<string, string> },
  ): Promise<RunResult>;
  spawnPsql(args: readonly string[], o?: { user?: string }): ChildProcess;
  close(): Promise<void>;
}

export const PROFILE = 'work';

/** `pgkey login --no-browser` for `person` into a fresh client home, profile `work`. */
export async function loggedIn(h: GatewayHarness, person: EnrolledUser): Promise<ClientHome> {
  const home = await ClientHome.create();
  const running = home.start(
    'login',
    '--no-browser',
    '--profile',
    PROFILE,
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
  const result = await running.done;
  assert.equal(result.code, 0, result.stderr);
  assert.ok(await readTokenCache(await loadProfile(home.env, PROFILE)));
  return home;
}

export async function startTunnelFixture(
  h: GatewayHarness,
  person: EnrolledUser,
  options: { password?: string } = {},
): Promise<TunnelFixture> {
  const home = await loggedIn(h, person);
  const profile = await loadProfile(home.env, PROFILE);
  const events: TunnelEvent[] = [];
  const tunnel = await startTunnel({
    profile,
    address: { host: '127.0.0.1', port: 0 },
    password: options.password,
    onEvent: (event) => events.push(event),
  });
  const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    HOME: home.dir,
    PGHOST: '127.0.0.1',
    PGPORT: String(tunnel.address.port),
    PGCONNECT_TIMEOUT: '10',
    PGAPPNAME: 'pgkey-tunnel-e2e',
    ...extra,
  });
  const userArgs = (o: { user?: string; database?: string }) => [
    '-U',
    o.user ?? 'analyst',
    '-d',
    o.database ?? 'warehouse',
  ];
  return {
    home,
    profile,
    tunnel,
    events,
    env,
    psql: (args, o = {}) =>
      run('psql', ['-X', '-v', 'ON_ERROR_STOP=1', ...userArgs(o), ...args], env(o.env)),
    spawnPsql: (args, o = {}) =>
      spawn('psql', ['-X', ...userArgs(o), ...args], {
        env: env(),
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    async close() {
      await tunnel.close();
      await home.close();
    },
  };
}

/** The identities of the gateway's live sessions for `role`: which token each was opened with. */
export function liveTokens(
  h: GatewayHarness,
  role: string,
): Array<{ jti: string | undefined; expiresAt: number }> {
  return h.gateway.sessions
    .list()
    .filter((s) => s.role === role)
    .map((s) => ({ jti: s.identity.tokenId, expiresAt: s.identity.expiresAt }));
}
