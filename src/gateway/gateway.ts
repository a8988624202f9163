import type { AuditLog } from '../audit/audit-log.ts';
import { identityFields } from '../audit/events.ts';
import { openAuditLog } from '../audit/open-audit.ts';
import type { Config } from '../config/schema.ts';
import type { Identity } from '../identity/identity.ts';
import type { InternalIssuer } from '../identity/token-verifier.ts';
import { decide, type AccessRequest, type Decision } from '../policy/decide.ts';
import { startAdminServer } from '../ops/admin-server.ts';
import { createMetrics } from '../ops/metrics.ts';
import { systemClock, type Clock } from '../runtime/clock.ts';
import type { Logger } from '../runtime/logger.ts';
import type { Directory } from '../store/directory.ts';
import { cryptoRandom, type Random } from '../runtime/random.ts';
import { Provisioner } from '../provision/provisioner.ts';
import { sendUpstreamCancel } from '../upstream/cancel.ts';
import { HandshakeSlots, RateLimiter } from './address-limits.ts';
import { CancelKeys } from './cancel-keys.ts';
import type { GatewayContext } from './context.ts';
import { startListener, type ConnectionCount, type Listener } from './listener.ts';
import { buildRuntimeState, type RuntimeState } from './runtime-state.ts';
import { createSessionObserver } from './session-observer.ts';
import { checkAgainstDirectory, watchRevocations } from './revocation.ts';
import { SessionRegistry } from './session-registry.ts';
import { authorizeRestricted } from './token-grant.ts';
import { DOOR } from './token-auth.ts';

export interface GatewayOptions {
  readonly config: Config;
  readonly logger: Logger;
  readonly clock?: Clock;
  readonly random?: Random;
  readonly fetch?: typeof globalThis.fetch;
  /** The audit trail; opened from `config.audit` when not given (tests, the gateway alone). */
  readonly audit?: AuditLog;
  /**
   * The built-in provider's directory: tokens it issued are checked against it at login, and
   * its changes (revoked keys, disabled users, lost groups) end live sessions.
   */
  readonly directory?: Directory;
  /** Issuers pgkey runs itself (the token service), trusted besides `config.issuers`. */
  readonly internalIssuers?: (config: Config) => readonly InternalIssuer[];
}

export interface Gateway {
  readonly host: string;
  readonly port: number;
  /** The SASL OAUTHBEARER listener (`listen.oauth`), when configured. */
  readonly oauth: { readonly host: string; readonly port: number } | undefined;
  readonly adminAddress: string;
  readonly sessions: SessionRegistry;
  readonly audit: AuditLog;
  /** Verifies a token as a login does: issuers, FIDO2 evidence, the directory's revocations. */
  verifyToken(token: string): Promise<Identity>;
  /** The decision a login for `request` would get now (service-token grants, then policy). */
  authorize(identity: Identity, request: AccessRequest): Decision;
  /** Applies a new config to new connections: TLS, issuers, policy, upstream credentials. */
  reload(config: Config): Promise<void>;
  /** Stops accepting, lets sessions finish for drain_timeout, then ends the rest. */
  drain(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The composition root of a running gateway: builds the runtime state from config, the
 * audit log, metrics and the listeners, and wires them into the GatewayContext every
 * session receives. Nothing below this file reads config files or signals.
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? cryptoRandom;
  const { logger } = options;
  const metrics = createMetrics();
  const onKeyFetch = (issuer: string, outcome: string): void =>
    metrics.keyFetchTotal.inc({ issuer, outcome });
  const runtimeDeps = {
    clock,
    random,
    logger,
    onKeyFetch,
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
    ...(options.internalIssuers === undefined ? {} : { internalIssuers: options.internalIssuers }),
  };
  let state: RuntimeState = await buildRuntimeState(options.config, runtimeDeps);
  let certIssuer = (state as Awaited<ReturnType<typeof buildRuntimeState>>).certIssuer;
  let draining = false;

  // Opened before the listener: sessions a crash left open are closed in the trail first.
  const audit =
    options.audit ??
    (await openAuditLog(options.config.audit, {
      writer: 'gateway',
      gateway: true,
      clock,
      random,
      logger,
      stdout: process.stdout,
    }));
  const ownsAudit = options.audit === undefined;
  metrics.audit.status = () => audit.status();
  const builtinIssuer = options.config.idp?.issuer;
  const directoryCheck =
    options.directory === undefined
      ? undefined
      : checkAgainstDirectory(options.directory, builtinIssuer);
  const sessions = new SessionRegistry();
  // audit.on_failure: refuse — a trail that cannot be written ends every live session, as
  // Teleport's synchronous audit does (reliability.md §5.3); new ones are refused (58030).
  const stopAuditWatch = audit.onStateChange((status) => {
    if (status.state !== 'failed') return;
    const ended = sessions.terminateWhere(() => true, 'audit_unavailable');
    logger.error({ sessions: ended }, 'audit trail unavailable: ended every live session');
  });
  const cancelKeys = new CancelKeys(random);
  // Rules with `provision`: per-person roles over an admin connection of their own.
  const provisioner = new Provisioner({
    settings: () => state.config.provisioning,
    policy: () => state.config.policy,
    target: () => state.target,
    timeoutMs: () => state.config.upstream.connect_timeout,
    credential: (role) => state.credential(role),
    emit: (event) => audit.emit(event),
    clock,
    logger,
  });
  const ctx: GatewayContext = {
    clock,
    random,
    logger,
    listen: () => state.config.listen,
    session: () => state.config.session,
    tlsContext: () => state.tlsContext,
    verifyToken: async (token, onVerified) => {
      const identity = await state.verifier.verify(token);
      onVerified?.(identity);
      await directoryCheck?.(identity);
      return identity;
    },
    authorize: (identity, request) =>
      authorizeRestricted(state.config.policy, identity, request) ??
      decide(state.config.policy, identity, request, clock.now()),
    upstreamTarget: () => state.target,
    upstreamTimeoutMs: () => state.config.upstream.connect_timeout,
    upstreamCredential: (role) => state.credential(role),
    provision: async (identity, granted, session) => {
      const plan = provisioner.plan(identity, granted);
      if (plan === undefined) return undefined;
      return provisioner.acquire(plan, { identity, session: session.id, client: session.peer });
    },
    cancelUpstream: (remote, pid, secret) => sendUpstreamCancel(state.target, remote, pid, secret),
    cancelKeys,
    sessions,
    handshakes: new HandshakeSlots(() => state.config.listen.max_unauthenticated_per_address),
    cancelLimiter: new RateLimiter(clock, 20, 5),
    observer: createSessionObserver(audit, metrics, clock, logger),
    isDraining: () => draining,
  };

  const [host, port] = splitAddress(options.config.listen.address);
  const maxConnections = (): number => state.config.listen.max_connections;
  const count: ConnectionCount = { open: 0 };
  const listener = await startListener(ctx, host, port, maxConnections, { count });
  // docs/decisions/0007: OAUTHBEARER gets a listener of its own; the main one keeps cleartext.
  const oauthAddress = options.config.listen.oauth?.address;
  let oauthListener: Listener | undefined;
  if (oauthAddress !== undefined) {
    const [oauthHost, oauthPort] = splitAddress(oauthAddress);
    oauthListener = await startListener(ctx, oauthHost, oauthPort, maxConnections, {
      count,
      door: DOOR.OAuthBearer,
    }).catch(async (error: unknown) => {
      await listener.close();
      throw error;
    });
  }
  const listeners = oauthListener === undefined ? [listener] : [listener, oauthListener];
  const [adminHost, adminPort] = splitAddress(options.config.admin.address);
  const admin = await startAdminServer({
    address: `${adminHost}:${adminPort}`,
    metrics,
    logger,
    health: () => {
      const trail = audit.status();
      return {
        ok: !draining && trail.state !== 'failed',
        detail: {
          draining,
          sessions: sessions.size,
          connections: listener.connections,
          audit: trail.state,
        },
      };
    },
  });
  if (!options.config.listen.require_tls) {
    logger.warn('listen.require_tls is false: tokens may cross the network in plaintext');
  }
  logger.info(
    {
      listen: `${listener.host}:${listener.port}`,
      ...(oauthListener === undefined
        ? {}
        : { oauthbearer: `${oauthListener.host}:${oauthListener.port}` }),
      admin: admin.address,
      upstream: `${state.target.host}:${state.target.port}`,
    },
    'pgkey gateway ready',
  );

  const stopWatching =
    options.directory === undefined
      ? undefined
      : watchRevocations({
          directory: options.directory,
          sessions,
          builtinIssuer,
          policy: () => state.config.policy,
          clock,
          logger,
          onTerminated: (session, detail) => {
            audit
              .emit({
                type: 'session.terminated',
                session: session.id,
                client: session.client,
                reason: 'revoked',
                role: session.role,
                database: session.database,
                detail,
                ...identityFields(session.identity),
              })
              .catch((error: unknown) => logger.error({ err: error }, 'audit write failed'));
          },
        });

  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    draining = true;
    stopWatching?.();
    stopAuditWatch();
    for (const open of listeners) await open.close();
    for (const open of listeners) open.abortHandshakes();
    sessions.terminateWhere(() => true, 'shutdown');
    await waitFor(() => sessions.size === 0, 2000);
    // The sessions' ends retire their people's roles before the admin connection closes.
    await provisioner.close();
    await admin.close();
    if (ownsAudit) await audit.close();
  };

  return {
    host: listener.host,
    port: listener.port,
    oauth:
      oauthListener === undefined
        ? undefined
        : { host: oauthListener.host, port: oauthListener.port },
    adminAddress: admin.address,
    sessions,
    audit,
    verifyToken: ctx.verifyToken,
    authorize: ctx.authorize,
    async reload(config) {
      const next = await buildRuntimeState(config, {
        ...runtimeDeps,
        ...(certIssuer ? { certIssuer } : {}),
      });
      certIssuer = next.certIssuer;
      if (config.listen.address !== state.config.listen.address) {
        logger.warn('listen.address changed: restart pgkey to move the listener');
      }
      if (config.listen.oauth?.address !== state.config.listen.oauth?.address) {
        logger.warn('listen.oauth.address changed: restart pgkey to move the OAUTHBEARER listener');
      }
      state = next;
      logger.info('configuration reloaded');
    },
    async drain() {
      draining = true;
      for (const open of listeners) await open.close();
      const drained = await waitFor(() => sessions.size === 0, state.config.session.drain_timeout);
      if (!drained) sessions.terminateWhere(() => true, 'shutdown');
      await close();
    },
    close,
  };
}

function splitAddress(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at).replace(/^\[|\]$/g, ''), Number(address.slice(at + 1))];
}

function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const started = Date.now();
    const tick = (): void => {
      if (condition()) resolve(true);
      else if (Date.now() - started >= timeoutMs) resolve(false);
      else setTimeout(tick, 25).unref();
    };
    tick();
  });
}
