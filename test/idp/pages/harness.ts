/**
 * The account pages for tests: a real node:sqlite directory, the real WebAuthn ceremonies
 * (soft authenticators with packed attestation chained to a test root), the whole provider
 * listening on http://localhost:<port>, a clock the test can move (the pages, ceremonies
 * and stores read it; oidc-provider is not involved here), a fake gateway session registry
 * and a record of every AdminActionEvent.
 *
 * Requests go through the provider harness's cookie-keeping Browser; `form` and `json` send
 * what a same-origin page would (Origin, Sec-Fetch-Site) unless told otherwise.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AdminActionEvent } from '../../../src/idp/pages/admin-hooks.ts';
import { createInvite } from '../../../src/idp/pages/invites.ts';
import {
  startIdentityProvider,
  type IdentityProvider,
} from '../../../src/idp/provider/identity-provider.ts';
import { WebAuthnCeremonies } from '../../../src/idp/webauthn/ceremonies.ts';
import {
  DEFAULT_AUTHENTICATOR_POLICY,
  DEFAULT_CHALLENGE_TTL_MS,
} from '../../../src/idp/webauthn/settings.ts';
import { cryptoRandom } from '../../../src/runtime/random.ts';
import { silentLogger } from '../../../src/runtime/logger.ts';
import type { Directory, User } from '../../../src/store/directory.ts';
import { openSqliteDirectory } from '../../../src/store/sqlite-directory.ts';
import {
  createAttestationCa,
  SoftAuthenticator,
  type AttestationCa,
  type SoftAuthenticatorOptions,
} from '../../support/soft-authenticator.ts';
import { Browser, idpConfig, type IdpInput } from '../provider/harness.ts';
import { FakeLiveSessions, ShiftedClock } from './fakes.ts';

export { Browser };
export { FakeLiveSessions, ShiftedClock };

export interface Reply {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly response: Response;
}

export interface PagesHarness {
  readonly issuer: string;
  readonly origin: string;
  readonly directory: Directory;
  readonly idp: IdentityProvider;
  readonly clock: ShiftedClock;
  readonly ca: AttestationCa;
  readonly events: AdminActionEvent[];
  readonly live: FakeLiveSessions;
  url(path: string): string;
  authenticator(options?: SoftAuthenticatorOptions): SoftAuthenticator;
  /** An invite link's secret for `email` (the user is created when missing). */
  invite(email: string, createdBy?: string): Promise<{ secret: string; user: User }>;
  enroll(browser: Browser, secret: string, key: SoftAuthenticator, name?: string): Promise<Reply>;
  login(browser: Browser, key: SoftAuthenticator, next?: string): Promise<Reply>;
  /** A person with one key, signed in: invite → enroll. */
  person(email: string, groups?: readonly string[]): Promise<Person>;
  get(
    browser: Browser,
    path: string,
  ): Promise<{ status: number; text: string; response: Response }>;
  form(
    browser: Browser,
    path: string,
    fields: Record<string, string>,
    headers?: Record<string, string>,
  ): Promise<{ status: number; text: string; response: Response }>;
  json(
    browser: Browser,
    path: string,
    body: unknown,
    headers?: Record<string, string>,
  ): Promise<Reply>;
  /** The CSRF token of the page at `path` (from its sign-out form). */
  csrf(browser: Browser, path?: string): Promise<string>;
  close(): Promise<void>;
}

export interface Person {
  readonly user: User;
  readonly browser: Browser;
  readonly key: SoftAuthenticator;
  readonly credentialId: string;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startPagesHarness(options: { idp?: IdpInput } = {}): Promise<PagesHarness> {
  const dir = await mkdtemp(join(tmpdir(), 'pgkey-pages-'));
  const directory = await openSqliteDirectory(join(dir, 'directory.db'));
  const clock = new ShiftedClock();
  const ca = await createAttestationCa();
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  const ceremonies = new WebAuthnCeremonies({
    directory,
    clock,
    settings: {
      rpId: 'localhost',
      rpName: 'pgkey tests',
      origins: [origin],
      userVerification: 'required',
      challengeTtlMs: DEFAULT_CHALLENGE_TTL_MS,
      policy: {
        ...DEFAULT_AUTHENTICATOR_POLICY,
        attestation: 'direct',
        trustedRoots: [ca.certPem],
      },
    },
  });
  const config = idpConfig({
    issuer: origin,
    address: `127.0.0.1:${port}`,
    session_max: '1h',
    ...options.idp,
  });
  const events: AdminActionEvent[] = [];
  const live = new FakeLiveSessions();
  const idp = await startIdentityProvider({
    config,
    directory,
    ceremonies,
    clock,
    logger: silentLogger,
    sessions: live,
    onAdminAction: (event) => events.push(event),
  });

  const url = (path: string) => `${origin}${path}`;
  const sameOrigin = { origin, 'sec-fetch-site': 'same-origin' };
  const json = async (
    browser: Browser,
    path: string,
    body: unknown,
    headers: Record<string, string> = {},
  ): Promise<Reply> => {
    const response = await browser.fetch(url(path), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...sameOrigin, ...headers },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? {} : JSON.parse(text), response };
  };
  const get = async (browser: Browser, path: string) => {
    const response = await browser.fetch(url(path));
    return { status: response.status, text: await response.text(), response };
  };
  const form = async (
    browser: Browser,
    path: string,
    fields: Record<string, string>,
    headers: Record<string, string> = {},
  ) => {
    const response = await browser.fetch(url(path), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...sameOrigin, ...headers },
      body: new URLSearchParams(fields).toString(),
    });
    return { status: response.status, text: await response.text(), response };
  };
  const authenticator = (opts: SoftAuthenticatorOptions = {}) =>
    new SoftAuthenticator({ attestation: 'packed-x5c', attestationIssuer: ca, ...opts });

  const invite = async (email: string, createdBy = 'test') => {
    const created = await createInvite(directory, {
      email,
      createdBy,
      ttlMs: config.invite_ttl,
      now: clock.now(),
      random: cryptoRandom,
      issuer: origin,
    });
    return { secret: created.link.split('/enroll/')[1] ?? '', user: created.user };
  };

  const enroll = async (
    browser: Browser,
    secret: string,
    key: SoftAuthenticator,
    name?: string,
  ) => {
    const start = await json(browser, `/enroll/${secret}/options`, {});
    if (start.status !== 200) return start;
    const response = await key.create(start.body.options as never, { origin });
    return json(browser, `/enroll/${secret}/verify`, {
      challengeId: start.body.challengeId,
      response,
      ...(name === undefined ? {} : { name }),
    });
  };

  const login = async (browser: Browser, key: SoftAuthenticator, next?: string) => {
    const start = await json(browser, '/login/options', {});
    assert.equal(start.status, 200, JSON.stringify(start.body));
    const response = await key.get(start.body.options as never, { origin });
    return json(browser, '/login/verify', {
      challengeId: start.body.challengeId,
      response,
      ...(next === undefined ? {} : { next }),
    });
  };

  const csrf = async (browser: Browser, path = '/me') => {
    const page = await get(browser, path);
    const token = /name="csrf" value="([^"]+)"/.exec(page.text)?.[1];
    assert.ok(token !== undefined, `no CSRF token on ${path} (${page.status})`);
    return token;
  };

  return {
    issuer: origin,
    origin,
    directory,
    idp,
    clock,
    ca,
    events,
    live,
    url,
    authenticator,
    invite,
    enroll,
    login,
    get,
    form,
    json,
    csrf,
    async person(email, groups = []) {
      const { secret, user } = await invite(email);
      for (const group of groups) await directory.users.addGroup(user.id, group);
      const browser = new Browser();
      const key = authenticator();
      const done = await enroll(browser, secret, key);
      assert.equal(done.status, 200, JSON.stringify(done.body));
      const fresh = await directory.users.get(user.id);
      assert.ok(fresh !== undefined);
      return { user: fresh, browser, key, credentialId: key.credentials[0]?.id ?? '' };
    },
    async close() {
      await idp.close();
      await directory.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh random e-mail, so tests in one harness never collide. */
export const someone = (name = 'user'): string =>
  `${name}-${randomBytes(4).toString('hex')}@example.com`;
