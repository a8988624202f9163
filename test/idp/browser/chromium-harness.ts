/**
 * Real-browser tests of the provider: Debian Chromium (/usr/bin/chromium) driven by
 * playwright-core, with a CDP virtual authenticator (fido-oidc.md §5) doing the WebAuthn
 * part, against the whole provider on http://localhost:<port> (a secure context, so no TLS).
 *
 * Attestation: chromium-attestation.ts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type CDPSession, type Page } from 'playwright-core';
import type { IdpConfig } from '../../../src/config/schema.ts';
import type { LiveSessions } from '../../../src/idp/pages/admin-hooks.ts';
import {
  startIdentityProvider,
  type IdentityProvider,
} from '../../../src/idp/provider/identity-provider.ts';
import { createInvite } from '../../../src/idp/pages/invites.ts';
import { idpSettings } from '../../../src/idp/provider/settings.ts';
import { WebAuthnCeremonies } from '../../../src/idp/webauthn/ceremonies.ts';
import { DEFAULT_CHALLENGE_TTL_MS } from '../../../src/idp/webauthn/settings.ts';
import { systemClock } from '../../../src/runtime/clock.ts';
import { silentLogger } from '../../../src/runtime/logger.ts';
import { cryptoRandom } from '../../../src/runtime/random.ts';
import type { Directory } from '../../../src/store/directory.ts';
import { openSqliteDirectory } from '../../../src/store/sqlite-directory.ts';
import { idpConfig } from '../provider/harness.ts';

export const CHROMIUM = '/usr/bin/chromium';
/** The one reason to skip: no browser on this machine (CI installs it). */
export const NO_CHROMIUM = existsSync(CHROMIUM)
  ? false
  : `Debian Chromium is not installed at ${CHROMIUM} (apt-get install chromium); CI installs it`;

/** Screenshots go here (.tmp/ is git-ignored). */
export const OUTPUT_DIR = join(import.meta.dirname, '../../../.tmp/test-output/browser');

const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Chromium {
  readonly context: BrowserContext;
  readonly page: Page;
  close(): Promise<void>;
}

/** Headless Chromium with a fresh user-data directory, one page, generous timeouts. */
export async function launchChromium(): Promise<Chromium> {
  const profile = await mkdtemp(join(tmpdir(), 'pgkey-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 900 },
  });
  context.setDefaultTimeout(30_000);
  context.setDefaultNavigationTimeout(30_000);
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    async close() {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}

export interface VirtualAuthenticator {
  readonly id: string;
  remove(): Promise<void>;
}

/** A CTAP2.1 authenticator with resident keys and user verification that always agrees. */
export async function addVirtualAuthenticator(
  cdp: CDPSession,
  flags: { backupEligible: boolean; backupState: boolean },
): Promise<VirtualAuthenticator> {
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      ctap2Version: 'ctap2_1',
      transport: flags.backupEligible ? 'internal' : 'usb',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
      defaultBackupEligibility: flags.backupEligible,
      defaultBackupState: flags.backupState,
    },
  });
  return {
    id: authenticatorId,
    async remove() {
      await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId });
    },
  };
}

/** A tiny local server: `/probe` (a blank page on a secure origin) and the OAuth callback. */
export interface LocalServer {
  readonly origin: string;
  readonly redirectUri: string;
  /** Query strings the callback received, oldest first. */
  readonly callbacks: URLSearchParams[];
  close(): Promise<void>;
}

export async function startLocalServer(): Promise<LocalServer> {
  const callbacks: URLSearchParams[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/callback') callbacks.push(url.searchParams);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!DOCTYPE html><title>${url.pathname}</title><p id="done">${url.pathname}</p>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://localhost:${port}`,
    redirectUri: `http://127.0.0.1:${port}/callback`,
    callbacks,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface Provider {
  readonly issuer: string;
  readonly directory: Directory;
  readonly idp: IdentityProvider;
  readonly config: IdpConfig;
  close(): Promise<void>;
}

/**
 * The provider as `pgkey serve` would run it from `idp:` (attestation direct, trusted roots
 * from a file), with a test client whose redirect URI is the local server's callback.
 */
export async function startProvider(options: {
  trustedRootPem: string;
  redirectUri: string;
  sessions?: LiveSessions;
}): Promise<Provider> {
  const dir = await mkdtemp(join(tmpdir(), 'pgkey-browser-idp-'));
  const directory = await openSqliteDirectory(join(dir, 'directory.db'));
  const rootsFile = join(dir, 'trusted-roots.pem');
  await writeFile(rootsFile, options.trustedRootPem);
  const port = await new Promise<number>((resolve) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as AddressInfo;
      probe.close(() => resolve(free));
    });
  });
  const config = idpConfig({
    issuer: `http://localhost:${port}`,
    address: `127.0.0.1:${port}`,
    session_max: '1h',
    clients: [
      { client_id: 'browser-app', redirect_uris: [options.redirectUri], gateway_tokens: true },
    ],
    authenticators: { attestation: 'direct', trusted_roots: rootsFile },
  });
  const settings = idpSettings(config);
  const roots = (await readFile(rootsFile, 'utf8')).match(
    /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g,
  );
  const ceremonies = new WebAuthnCeremonies({
    directory,
    clock: systemClock,
    settings: {
      rpId: settings.rpId,
      rpName: config.rp_name,
      origins: settings.origins,
      userVerification: config.user_verification,
      challengeTtlMs: DEFAULT_CHALLENGE_TTL_MS,
      policy: {
        attestation: config.authenticators.attestation,
        requireAttested: config.authenticators.require_attested,
        aaguids: config.authenticators.aaguids,
        trustedRoots: roots ?? [],
      },
    },
  });
  const idp = await startIdentityProvider({
    config,
    directory,
    ceremonies,
    logger: silentLogger,
    ...(options.sessions === undefined ? {} : { sessions: options.sessions }),
  });
  return {
    issuer: config.issuer,
    directory,
    idp,
    config,
    async close() {
      await idp.close();
      await directory.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** PKCE S256 pair (RFC 7636 §4.1–4.2). */
export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(OUTPUT_DIR, { recursive: true });
  const path = join(OUTPUT_DIR, name);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * A person enrolled through the real invite page: a device-bound virtual key (BE=0) is added
 * to `chrome`, an invite for `email` is created, the person gets `groups`, and the page's
 * "Register your key" ceremony runs until "My keys" says enrolled. The browser stays signed in.
 */
export async function enrollWithVirtualKey(
  chrome: Chromium,
  idp: { readonly directory: Directory; readonly issuer: string },
  options: { readonly email: string; readonly groups: readonly string[]; readonly by: string },
): Promise<void> {
  const { page, context } = chrome;
  await addVirtualAuthenticator(await context.newCDPSession(page), {
    backupEligible: false,
    backupState: false,
  });
  const { link } = await createInvite(idp.directory, {
    email: options.email,
    createdBy: options.by,
    ttlMs: 600_000,
    now: Date.now(),
    random: cryptoRandom,
    issuer: idp.issuer,
  });
  const user = await idp.directory.users.findByEmail(options.email);
  for (const group of options.groups) await idp.directory.users.addGroup(user!.id, group);
  await page.goto(link);
  await page.waitForFunction(`!document.querySelector('[data-ceremony] button').disabled`);
  await Promise.all([
    page.waitForURL(/\/me\?notice=enrolled$/),
    page.getByRole('button', { name: 'Register your key' }).click(),
  ]);
}
