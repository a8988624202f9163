import { openAuditLog } from '../audit/open-audit.ts';
import type { Config } from '../config/schema.ts';
import { startGateway, type Gateway } from '../gateway/gateway.ts';
import { startIdentityProvider, type IdentityProvider } from '../idp/provider/identity-provider.ts';
import { WebAuthnCeremonies } from '../idp/webauthn/ceremonies.ts';
import { systemClock, type Clock } from '../runtime/clock.ts';
import type { Logger } from '../runtime/logger.ts';
import { cryptoRandom, type Random } from '../runtime/random.ts';
import type { Directory } from '../store/directory.ts';
import { openDirectory } from '../store/open-directory.ts';
import { ServiceKeys } from '../sts/service-keys.ts';
import { startTokenService, type TokenService } from '../sts/token-service.ts';
import { tokenServiceTrust } from '../sts/trust.ts';
import { idpBridges } from './idp-bridges.ts';
import { webauthnSettings } from './webauthn-settings.ts';

export interface PgkeyServer {
  readonly gateway: Gateway;
  /** The built-in identity provider, when `idp:` is configured. */
  readonly idp: IdentityProvider | undefined;
  readonly directory: Directory | undefined;
  /** The token service, when `token_service:` is configured. */
  readonly tokenService: TokenService | undefined;
  reload(config: Config): Promise<void>;
  drain(): Promise<void>;
  close(): Promise<void>;
}

export interface PgkeyServerOptions {
  readonly config: Config;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly random?: Random;
}

/**
 * Everything `pgkey serve` runs in one process: the audit trail, the directory and built-in
 * FIDO2 identity provider (when `idp:` is set), the token service (when `token_service:` is
 * set), and the gateway, which checks the provider's tokens and minted service tokens against
 * the directory and ends sessions when it changes. The token service's keys load first (the
 * gateway trusts its tokens as issuer `pgkey-sts`, keys from memory); then the gateway, so
 * the provider's admin pages can list its live sessions and the token service can use its
 * verifier and policy.
 */
export async function startPgkeyServer(options: PgkeyServerOptions): Promise<PgkeyServer> {
  const { config, logger } = options;
  const clock = options.clock ?? systemClock;
  const random = options.random ?? cryptoRandom;
  // One trail per process, shared by the gateway, the provider's pages and the token
  // service; opening it closes the sessions a crashed predecessor left open.
  const audit = await openAuditLog(config.audit, {
    writer: 'serve',
    gateway: true,
    clock,
    random,
    logger,
    stdout: process.stdout,
  });
  let directory: Directory | undefined;
  let gateway: Gateway | undefined;
  let idp: IdentityProvider | undefined;
  let tokenService: TokenService | undefined;
  try {
    if (config.idp !== undefined || config.token_service !== undefined) {
      directory = await openDirectory(config.directory, { clock });
    }
    const serviceKeys =
      config.token_service === undefined || directory === undefined
        ? undefined
        : await ServiceKeys.load(directory.tokenServiceKeys, clock);
    gateway = await startGateway({
      config,
      logger,
      clock,
      random,
      audit,
      ...(directory === undefined ? {} : { directory }),
      ...(serviceKeys === undefined || config.token_service === undefined
        ? {}
        : { internalIssuers: tokenServiceTrust(serviceKeys, config.token_service.issuer) }),
    });
    if (config.idp !== undefined && directory !== undefined) {
      const settings = await webauthnSettings(config.idp, clock, logger);
      const ceremonies = new WebAuthnCeremonies({ directory, settings, clock, random });
      const bridges = idpBridges(gateway.sessions, audit, logger);
      idp = await startIdentityProvider({
        config: config.idp,
        directory,
        ceremonies,
        clock,
        random,
        logger,
        sessions: bridges.liveSessions,
        onAdminAction: bridges.onAdminAction,
        ...(settings.policy.mds === undefined
          ? {}
          : { authenticatorMetadata: settings.policy.mds }),
      });
      logger.info({ issuer: idp.issuer, address: idp.address }, 'pgkey identity provider ready');
    }
    if (serviceKeys !== undefined && directory !== undefined) {
      tokenService = await startTokenService({
        config,
        directory,
        keys: serviceKeys,
        gateway,
        audit,
        clock,
        random,
        logger,
      });
    }
  } catch (error) {
    await idp?.close();
    await gateway?.close();
    await directory?.close();
    await audit.close();
    throw error;
  }
  const running = gateway;

  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await tokenService?.close();
    await idp?.close();
    await running.close();
    await directory?.close();
    await audit.close();
  };
  return {
    gateway: running,
    idp,
    directory,
    tokenService,
    async reload(next) {
      await running.reload(next);
      await idp?.reloadKeys();
      await tokenService?.reload(next);
    },
    async drain() {
      await running.drain();
      await close();
    },
    close,
  };
}
