/**
 * A running built-in provider for tests: a real node:sqlite directory in a temp dir, a user
 * with a key registered through the real WebAuthn ceremonies (soft authenticator, packed
 * attestation chained to a test root, so the key is attested and device-bound: `phrh`), the
 * provider listening on http://localhost:<port>, and a cookie-keeping "browser" made of
 * fetch with manual redirects that drives authorize → sign-in page → ceremony → callback.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema, type IdpConfig } from '../../../src/config/schema.ts';
import {
  startIdentityProvider,
  type IdentityProvider,
} from '../../../src/idp/provider/identity-provider.ts';
import { WebAuthnCeremonies } from '../../../src/idp/webauthn/ceremonies.ts';
import {
  DEFAULT_AUTHENTICATOR_POLICY,
  DEFAULT_CHALLENGE_TTL_MS,
} from '../../../src/idp/webauthn/settings.ts';
import { createTokenVerifier, type TokenVerifier } from '../../../src/identity/token-verifier.ts';
import { systemClock } from '../../../src/runtime/clock.ts';
import { silentLogger } from '../../../src/runtime/logger.ts';
import type { Credential, Directory, User } from '../../../src/store/directory.ts';
import { openSqliteDirectory } from '../../../src/store/sqlite-directory.ts';
import {
  createAttestationCa,
  SoftAuthenticator,
  type GetOverrides,
  type SoftAuthenticatorOptions,
} from '../../support/soft-authenticator.ts';

export const CLI = 'pgkey-cli';
export const CLI_REDIRECT = 'http://127.0.0.1:53682/callback';

export type IdpInput = Record<string, unknown>;

export interface HarnessOptions {
  /** Extra `idp:` keys (issuer and address are filled in). */
  readonly idp?: IdpInput;
  readonly authenticator?: SoftAuthenticatorOptions;
  readonly keyPollMs?: number;
  /** Mount the issuer below this path, e.g. `/idp`. */
  readonly issuerPath?: string;
}

/** A browser: a cookie jar (name + path) and fetch that never follows redirects by itself. */
export class Browser {
  readonly #cookies = new Map<string, { name: string; value: string; path: string }>();

  /** The Cookie header this browser sends to `url`. */
  cookieHeader(url: string | URL): string {
    const { pathname } = new URL(url);
    return [...this.#cookies.values()]
      .filter((c) => pathname === c.path || pathname.startsWith(c.path.replace(/\/?$/, '/')))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  async fetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const target = new URL(url);
    const headers = new Headers(init.headers);
    const cookie = this.cookieHeader(target);
    if (cookie !== '' && !headers.has('cookie')) headers.set('cookie', cookie);
    const response = await fetch(target, { ...init, headers, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';').map((part) => part.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const pathAttr = attributes.find((a) => a.toLowerCase().startsWith('path='));
      const path = pathAttr === undefined ? '/' : pathAttr.slice(5);
      const expired = attributes.some(
        (a) => a.toLowerCase().startsWith('expires=') && Date.parse(a.slice(8)) <= Date.now(),
      );
      const key = `${name}\u0000${path}`;
      if (value === '' || expired) this.#cookies.delete(key);
      else this.#cookies.set(key, { name, value, path });
    }
    return response;
  }
}

export interface Pkce {
  readonly verifier: string;
  readonly challenge: string;
}

export function pkce(): Pkce {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export interface SignInResult {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export interface Harness {
  readonly issuer: string;
  readonly origin: string;
  readonly directory: Directory;
  readonly idp: IdentityProvider;
  readonly config: IdpConfig;
  readonly ceremonies: WebAuthnCeremonies;
  readonly user: User;
  readonly credential: Credential;
  readonly authenticator: SoftAuthenticator;
  verifier(): Promise<TokenVerifier>;
  /** Follows redirects inside the provider until one leaves it or a page renders. */
  follow(browser: Browser, url: string): Promise<{ response: Response; url: string }>;
  /** The sign-in page's two POSTs with the soft authenticator; returns the verify response. */
  signIn(
    browser: Browser,
    interaction: string,
    overrides?: Partial<GetOverrides>,
  ): Promise<SignInResult>;
  /** GET /auth with PKCE, following redirects inside the provider. */
  start(
    params: Record<string, string>,
    browser: Browser,
  ): Promise<{ pkce: Pkce; response: Response; url: string }>;
  /** authorize → sign in → callback; returns the callback URL. */
  authorize(
    params?: Record<string, string>,
    browser?: Browser,
  ): Promise<{ callback: URL; pkce: Pkce; browser: Browser }>;
  /** POST /token as a public client. */
  token(
    body: Record<string, string>,
    headers?: Record<string, string>,
  ): Promise<{ status: number; json: Record<string, unknown> }>;
  /** A whole login for pgkey-cli; returns the token response. */
  login(params?: Record<string, string>, browser?: Browser): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export function idpConfig(input: IdpInput): IdpConfig {
  return configSchema.shape.idp.unwrap().parse(input);
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'pgkey-idp-'));
  const directory = await openSqliteDirectory(join(dir, 'directory.db'));
  const port = await freePort();
  const origin = `http://localhost:${port}`;
  const issuer = `${origin}${options.issuerPath ?? ''}`;
  const ca = await createAttestationCa();
  const config = idpConfig({ issuer, address: `127.0.0.1:${port}`, ...options.idp });
  const ceremonies = new WebAuthnCeremonies({
    directory,
    clock: systemClock,
    settings: {
      rpId: 'localhost',
      rpName: 'pgkey tests',
      origins: [origin],
      userVerification: config.user_verification,
      challengeTtlMs: DEFAULT_CHALLENGE_TTL_MS,
      policy: {
        ...DEFAULT_AUTHENTICATOR_POLICY,
        attestation: 'direct',
        trustedRoots: [ca.certPem],
      },
    },
  });
  let user = await directory.users.create({
    id: randomBytes(16).toString('base64url'),
    email: 'ada@example.com',
    displayName: 'Ada',
    now: Date.now() - 60_000,
  });
  user = await directory.users.addGroup(user.id, 'dba');
  const authenticator = new SoftAuthenticator({
    attestation: 'packed-x5c',
    attestationIssuer: ca,
    ...options.authenticator,
  });
  const enrol = await ceremonies.beginRegistration(user, { flow: 'test' });
  const { credential } = await ceremonies.finishRegistration(
    enrol.challengeId,
    await authenticator.create(enrol.options, { origin }),
  );
  const idp = await startIdentityProvider({
    config,
    directory,
    ceremonies,
    logger: silentLogger,
    ...(options.keyPollMs === undefined ? {} : { keyPollMs: options.keyPollMs }),
  });

  const follow = async (browser: Browser, url: string) => {
    let response = await browser.fetch(url);
    for (let hops = 0; hops < 10; hops++) {
      const location = response.headers.get('location');
      if (response.status < 300 || response.status >= 400 || location === null) {
        return { response, url };
      }
      const next = new URL(location, url);
      if (next.origin !== origin) return { response, url };
      url = next.href;
      response = await browser.fetch(url);
    }
    assert.fail('too many redirects');
  };

  const post = (browser: Browser, url: string, body: unknown) =>
    browser.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin },
      body: JSON.stringify(body),
    });

  const signIn = async (
    browser: Browser,
    interaction: string,
    overrides: Partial<GetOverrides> = {},
  ): Promise<SignInResult> => {
    const start = await post(browser, `${interaction}/webauthn/options`, {});
    const begun = (await start.json()) as Record<string, unknown>;
    assert.equal(start.status, 200, JSON.stringify(begun));
    const response = await authenticator.get(begun.options as never, { origin, ...overrides });
    const verify = await post(browser, `${interaction}/webauthn/verify`, {
      challengeId: begun.challengeId,
      response,
    });
    return { status: verify.status, body: (await verify.json()) as Record<string, unknown> };
  };

  const start = async (params: Record<string, string>, browser: Browser) => {
    const proof = pkce();
    const url = new URL(`${issuer}/auth`);
    url.search = new URLSearchParams({
      client_id: CLI,
      redirect_uri: CLI_REDIRECT,
      response_type: 'code',
      scope: 'openid email groups',
      code_challenge: proof.challenge,
      code_challenge_method: 'S256',
      state: randomBytes(8).toString('hex'),
      ...params,
    }).toString();
    return { pkce: proof, ...(await follow(browser, url.href)) };
  };

  const authorize = async (params: Record<string, string> = {}, browser = new Browser()) => {
    const { pkce: proof, ...page } = await start(params, browser);
    assert.equal(page.response.status, 200, await page.response.text());
    const interaction = page.url;
    assert.match(interaction, /\/interaction\/[\w-]+$/);
    const result = await signIn(browser, interaction);
    assert.equal(result.status, 200, JSON.stringify(result.body));
    const { response: done } = await follow(browser, String(result.body.redirectTo));
    assert.equal(done.status, 303, await done.text());
    return { callback: new URL(String(done.headers.get('location'))), pkce: proof, browser };
  };

  const token = async (body: Record<string, string>, headers: Record<string, string> = {}) => {
    const response = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(body),
    });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  };

  return {
    issuer,
    origin,
    directory,
    idp,
    config,
    ceremonies,
    user,
    credential,
    authenticator,
    follow,
    signIn,
    start,
    authorize,
    token,
    verifier: () =>
      createTokenVerifier({
        issuers: [
          configSchema.shape.issuers.element.parse({
            name: 'builtin',
            issuer,
            audience: 'pgkey',
            profile: 'builtin',
            jwks_cooldown: '0s',
          }),
        ],
        clock: systemClock,
      }),
    async login(params = {}, browser) {
      const { callback, pkce: proof } = await authorize(params, browser);
      const code = callback.searchParams.get('code');
      assert.ok(code !== null, `no code in ${callback.href}`);
      const { status, json } = await token({
        grant_type: 'authorization_code',
        client_id: CLI,
        code,
        redirect_uri: CLI_REDIRECT,
        code_verifier: proof.verifier,
      });
      assert.equal(status, 200, JSON.stringify(json));
      return json;
    },
    async close() {
      await idp.close();
      await directory.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The JWT payload and header, unverified (tests check what the verifier also checks). */
export function decodeJwt(token: unknown): {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
} {
  assert.equal(typeof token, 'string');
  const [header = '', payload = ''] = String(token).split('.');
  return {
    header: JSON.parse(Buffer.from(header, 'base64url').toString()) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>,
  };
}
