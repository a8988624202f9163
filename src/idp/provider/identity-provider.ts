/**
 * `pgkey serve`'s built-in FIDO2 OpenID provider: the entry point that wires the directory,
 * the WebAuthn ceremonies, oidc-provider and the listener together.
 *
 * Signing keys and the running provider. oidc-provider reads its keys once, in the
 * constructor, so `reloadKeys()` re-reads the directory and, when the published set or the
 * signer changed, builds a new Provider and swaps it in; requests already inside the old
 * instance finish there (both share the directory, so no state is lost). Reloads happen:
 * - at the next key transition (a pending key activates, a retired key expires), on a timer;
 * - every `keyPollMs` (default 60 s), to pick up `pgkey idp rotate-keys` run by another
 *   process or on another node;
 * - whenever the caller asks (e.g. right after rotating in-process, or on SIGHUP).
 * The same tick sweeps expired provider records and WebAuthn challenges from the directory.
 *
 * The same listener serves the account pages (src/idp/pages): sign-in, enrollment from an
 * invite, "My keys", administration. The process may hand them the gateway's live sessions
 * and an audit listener.
 *
 * oidc-provider reads the system clock (Date.now) for token times; `clock` must agree with it
 * (systemClock in production; tests that move time mock Date).
 */
import { readFile } from 'node:fs/promises';
import type { IdpConfig } from '../../config/schema.ts';
import { systemClock, type Clock } from '../../runtime/clock.ts';
import type { Logger } from '../../runtime/logger.ts';
import { cryptoRandom, type Random } from '../../runtime/random.ts';
import type { Directory } from '../../store/directory.ts';
import { loadAssets } from '../http/assets.ts';
import { startIdpServer } from '../http/server.ts';
import type { AccountCeremonies } from '../pages/account-context.ts';
import { accountPages } from '../pages/account-pages.ts';
import type { AdminActionListener, LiveSessions } from '../pages/admin-hooks.ts';
import type { DescribedAuthenticators } from '../webauthn/aaguid-names.ts';
import { createAccounts } from './accounts.ts';
import { directoryAdapter } from './adapter.ts';
import { loadClients } from './clients.ts';
import { OIDC_SCOPES } from './configuration.ts';
import { createInteractionHandlers } from './interactions.ts';
import { loginRecords } from './logins.ts';
import { buildProvider, type Provider } from './provider.ts';
import { idpSettings } from './settings.ts';
import { loadProviderKeys, type ProviderKeys } from './signing-keys.ts';
import { createTokenPolicy } from './token-claims.ts';

export const DEFAULT_KEY_POLL_MS = 60_000;

export interface IdentityProviderOptions {
  readonly config: IdpConfig;
  readonly directory: Directory;
  /** Sign-in for the provider and the pages; registration for enrollment and new keys. */
  readonly ceremonies: AccountCeremonies;
  readonly clock?: Clock;
  readonly random?: Random;
  readonly logger: Logger;
  /** How often to look for keys changed by another process; default 60 s. */
  readonly keyPollMs?: number;
  /** The gateway's live sessions, listed on the admin page with a terminate button. */
  readonly sessions?: LiveSessions;
  /** Told of every change made on the account pages, after it is committed (audit). */
  readonly onAdminAction?: AdminActionListener;
  /** Loaded FIDO MDS statements, for authenticator model names on the pages. */
  readonly authenticatorMetadata?: DescribedAuthenticators;
}

export interface IdentityProvider {
  readonly issuer: string;
  /** The bound listener address, `host:port`. */
  readonly address: string;
  /** The kid that signs right now. */
  signingKid(): string;
  /** Re-reads the signing keys; rebuilds the provider when they changed. */
  reloadKeys(): Promise<void>;
  close(): Promise<void>;
}

const sameKeys = (a: ProviderKeys, b: ProviderKeys): boolean =>
  a.signingKid === b.signingKid && a.publishedKids.join(' ') === b.publishedKids.join(' ');

export async function startIdentityProvider(
  options: IdentityProviderOptions,
): Promise<IdentityProvider> {
  const { config, directory, logger } = options;
  const clock = options.clock ?? systemClock;
  const keyPollMs = options.keyPollMs ?? DEFAULT_KEY_POLL_MS;
  const settings = idpSettings(config);
  const clients = await loadClients(config);
  const tls =
    config.tls === undefined
      ? undefined
      : { cert: await readFile(config.tls.cert), key: await readFile(config.tls.key) };
  const assets = await loadAssets();
  const logins = loginRecords(directory.oidc, clock, config.session_max);
  const accounts = createAccounts(directory, logins, clock, settings.sessionMaxSeconds);
  const tokens = createTokenPolicy(settings, accounts, clock);
  const adapter = directoryAdapter(directory.oidc, clock);
  const build = (keys: ProviderKeys): Provider =>
    buildProvider({
      ...{ settings, keys, clients, adapter, accounts, tokens, logger },
      trustProxy: config.trust_proxy,
    });

  let keys = await loadProviderKeys(directory.signingKeys, clock);
  let provider = build(keys);
  let callback = provider.callback();
  let closed = false;
  let cancelTimer = (): void => {};
  let inFlight: Promise<void> | undefined;

  const schedule = (): void => {
    cancelTimer();
    if (closed) return;
    const untilChange =
      keys.nextChangeAt === undefined ? keyPollMs : keys.nextChangeAt - clock.now();
    cancelTimer = clock.setTimer(Math.max(0, Math.min(keyPollMs, untilChange)), () => {
      const now = clock.now();
      void Promise.all([directory.oidc.sweep(now), directory.challenges.sweep(now)]).catch(
        (error: unknown) => logger.warn({ err: error }, 'idp sweep failed'),
      );
      reloadKeys().catch((error: unknown) => logger.error({ err: error }, 'idp key reload failed'));
    });
  };

  const reload = async (): Promise<void> => {
    try {
      const next = await loadProviderKeys(directory.signingKeys, clock);
      if (!sameKeys(next, keys)) {
        provider = build(next);
        callback = provider.callback();
        logger.info(
          { signingKid: next.signingKid, published: next.publishedKids },
          'idp signing keys changed',
        );
      }
      keys = next;
    } finally {
      schedule();
    }
  };

  // Single flight: concurrent callers share one reload.
  const reloadKeys = (): Promise<void> => {
    inFlight ??= reload().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };

  const handlers = createInteractionHandlers({
    provider: () => provider,
    ceremonies: options.ceremonies,
    logins,
    settings,
    clientNames: new Map(
      clients.metadata.map((c) => [String(c.client_id), String(c.client_name ?? c.client_id)]),
    ),
    oidcScopes: OIDC_SCOPES,
    logger,
  });

  const pages = accountPages({
    ...{ config, settings, directory, clock, logger },
    ceremonies: options.ceremonies,
    random: options.random ?? cryptoRandom,
    liveSessions: options.sessions,
    onAdminAction: options.onAdminAction,
    metadata: options.authenticatorMetadata,
  });

  const server = await startIdpServer({
    address: config.address,
    tls,
    settings,
    handlers,
    provider: () => callback,
    assets,
    pages,
    logger,
  });
  schedule();
  if (new URL(settings.issuer).protocol === 'http:') {
    logger.warn({ issuer: settings.issuer }, 'idp issuer is plain http: for local use only');
  }
  logger.info(
    { issuer: settings.issuer, address: server.address, signingKid: keys.signingKid },
    'idp listening',
  );

  return {
    issuer: settings.issuer,
    address: server.address,
    signingKid: () => keys.signingKid,
    reloadKeys,
    async close() {
      closed = true;
      cancelTimer();
      await inFlight?.catch(() => undefined);
      await server.close();
    },
  };
}
