import { AuditLog } from '../audit/audit-log.ts';
import { FileSink } from '../audit/file-sink.ts';
import type { Config } from '../config/schema.ts';
import { startGateway, type Gateway } from '../gateway/gateway.ts';
import { startIdentityProvider, type IdentityProvider } from '../idp/provider/identity-provider.ts';
import { WebAuthnCeremonies } from '../idp/webauthn/ceremonies.ts';
import { systemClock, type Clock } from '../runtime/clock.ts';
import type { Logger } from '../runtime/logger.ts';
import { cryptoRandom, type Random } from '../runtime/random.ts';
import type { Directory } from '../store/directory.ts';
import { openDirectory } from '../store/open-directory.ts';
import { idpBridges } from './idp-bridges.ts';
import { webauthnSettings } from './webauthn-settings.ts';

export interface PgkeyServer {
  readonly gateway: Gateway;
  /** The built-in identity provider, when `idp:` is configured. */
  readonly idp: IdentityProvider | undefined;
  readonly directory: Directory | undefined;
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
 * FIDO2 identity provider (when `idp:` is set), and the gateway, which checks the provider's
 * tokens against the directory and ends sessions when it changes. The gateway starts first,
 * so the provider's admin pages can list and end its live sessions.
 */
export async function startPgkeyServer(options: PgkeyServerOptions): Promise<PgkeyServer> {
  const { config, logger } = options;
  const clock = options.clock ?? systemClock;
  const random = options.random ?? cryptoRandom;
  const audit = new AuditLog({
    sink: await FileSink.open({ file: config.audit.file }),
    clock,
    random,
  });
  let directory: Directory | undefined;
  let gateway: Gateway | undefined;
  let idp: IdentityProvider | undefined;
  try {
    if (config.idp !== undefined) directory = await openDirectory(config.directory, { clock });
    gateway = await startGateway({
      config,
      logger,
      clock,
      random,
      audit,
      ...(directory === undefined ? {} : { directory }),
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
  } catch (error) {
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
    await idp?.close();
    await running.close();
    await directory?.close();
    await audit.close();
  };
  return {
    gateway: running,
    idp,
    directory,
    async reload(next) {
      await running.reload(next);
      await idp?.reloadKeys();
    },
    async drain() {
      await running.drain();
      await close();
    },
    close,
  };
}
