/**
 * The token service (DESIGN.md `sts`), served by `pgkey serve` on its own listener next to
 * the gateway: people mint service tokens, delegate to agents (RFC 8693), ask what the
 * gateway gives them, and `pgkey login` bootstraps from it. It signs with keys kept in the
 * directory (service-keys.ts) and judges every caller with the gateway's own verifier and
 * policy, so it never grants what a login would not.
 *
 * node:https when the issuer is https:// (`token_service.tls`, else `listen.tls`), plain
 * node:http only for a loopback issuer (config/sts-rules.ts). Timeouts bound slow clients.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Config } from '../config/schema.ts';
import { PgkeyError } from '../errors/pgkey-error.ts';
import type { Gateway } from '../gateway/gateway.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Logger } from '../runtime/logger.ts';
import { closeGracefully, listenOn } from '../runtime/http-server.ts';
import type { Random } from '../runtime/random.ts';
import type { Directory } from '../store/directory.ts';
import type { StsContext } from './context.ts';
import { createRouter } from './routes.ts';
import type { ServiceKeys } from './service-keys.ts';
import { loadTokenServiceSettings, readConfigFile, type TokenServiceSettings } from './settings.ts';
import { createTokenSigner } from './token-signer.ts';

export interface TokenServiceOptions {
  readonly config: Config;
  readonly directory: Directory;
  readonly keys: ServiceKeys;
  readonly gateway: Pick<Gateway, 'verifyToken' | 'authorize' | 'port'>;
  readonly audit: AuditLog;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
}

export interface TokenService {
  readonly issuer: string;
  /** The bound `host:port`. */
  readonly address: string;
  /** New lifetimes, policy, CA document; a new issuer, address or TLS needs a restart. */
  reload(config: Config): Promise<void>;
  close(): Promise<void>;
}

const CLOSE_GRACE_MS = 5000;

export async function startTokenService(options: TokenServiceOptions): Promise<TokenService> {
  const { keys, logger } = options;
  let config = options.config;
  let settings = await settingsOf(config);
  const ctx: StsContext = {
    settings: () => settings,
    policy: () => config.policy,
    issuers: () => config.issuers,
    verify: (token) => options.gateway.verifyToken(token),
    authorize: (identity, request) => options.gateway.authorize(identity, request),
    signer: createTokenSigner({
      keys,
      issuer: () => settings.issuer,
      audience: () => settings.audience,
      clock: options.clock,
      random: options.random,
    }),
    jwks: () => keys.jwks,
    directory: options.directory,
    audit: options.audit,
    clock: options.clock,
    logger,
    gatewayPort: () => options.gateway.port,
  };
  const router = createRouter(ctx);
  const listener = (req: Parameters<typeof router>[0], res: Parameters<typeof router>[1]) => {
    router(req, res).catch((error: unknown) => {
      logger.error({ err: error }, 'token service request failed');
      res.destroy();
    });
  };
  const server: Server = settings.https
    ? createHttpsServer({ ...(await tlsFiles(config)), minVersion: 'TLSv1.2' }, listener)
    : createHttpServer(listener);
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;

  const at = settings.address.lastIndexOf(':');
  const host = settings.address.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  const address = await listenOn(server, host, Number(settings.address.slice(at + 1)));
  if (!settings.https) logger.warn({ issuer: settings.issuer }, 'token service over plain http');
  logger.info({ issuer: settings.issuer, address }, 'pgkey token service ready');

  return {
    issuer: settings.issuer,
    address,
    async reload(next) {
      if (next.token_service === undefined) {
        logger.warn('token_service removed from the config: restart pgkey to stop the service');
        return;
      }
      const nextSettings = await settingsOf(next);
      if (nextSettings.issuer !== settings.issuer || nextSettings.address !== settings.address) {
        logger.warn('token_service.issuer or address changed: restart pgkey to apply it');
      }
      await keys.refresh();
      config = next;
      settings = { ...nextSettings, issuer: settings.issuer, mountPath: settings.mountPath };
    },
    close: () => closeGracefully(server, CLOSE_GRACE_MS).catch(() => undefined),
  };
}

async function settingsOf(config: Config): Promise<TokenServiceSettings> {
  if (config.token_service === undefined) {
    throw new PgkeyError('ERR_CONFIG', {
      message: 'token_service: removed from the config; restart pgkey to stop the token service',
      reason: 'token_service_removed',
    });
  }
  return loadTokenServiceSettings(config, config.token_service);
}

async function tlsFiles(config: Config): Promise<{ cert: string; key: string }> {
  const sts = config.token_service;
  const files = sts?.tls ?? config.listen.tls;
  const key = sts?.tls === undefined ? 'listen.tls' : 'token_service.tls';
  if (files === undefined) {
    throw new PgkeyError('ERR_CONFIG', {
      message: 'token_service.tls (or listen.tls) is required for an https:// issuer',
    });
  }
  return {
    cert: await readConfigFile(files.cert, `${key}.cert`),
    key: await readConfigFile(files.key, `${key}.key`),
  };
}
