import { AuditLog } from '../audit/audit-log.ts';
import { identityFields } from '../audit/events.ts';
import { FileSink } from '../audit/file-sink.ts';
import type { Config } from '../config/schema.ts';
import { decide } from '../policy/decide.ts';
import { startAdminServer } from '../ops/admin-server.ts';
import { createMetrics } from '../ops/metrics.ts';
import { systemClock, type Clock } from '../runtime/clock.ts';
import type { Logger } from '../runtime/logger.ts';
import type { Directory } from '../store/directory.ts';
import { cryptoRandom, type Random } from '../runtime/random.ts';
import { sendUpstreamCancel } from '../upstream/cancel.ts';
import { HandshakeSlots, RateLimiter } from './address-limits.ts';
import { CancelKeys } from './cancel-keys.ts';
import type { GatewayContext } from './context.ts';
import { startListener } from './listener.ts';
import { buildRuntimeState, type RuntimeState } from './runtime-state.ts';
import { createSessionObserver } from './session-observer.ts';
import { checkAgainstDirectory, watchRevocations } from './revocation.ts';
import { SessionRegistry } from './session-registry.ts';

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
}

export interface Gateway {
  readonly host: string;
  readonly port: number;
  readonly adminAddress: string;
  readonly sessions: SessionRegistry;
  readonly audit: AuditLog;
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
  };
  let state: RuntimeState = await buildRuntimeState(options.config, runtimeDeps);
  let certIssuer = (state as Awaited<ReturnType<typeof buildRuntimeState>>).certIssuer;
  let draining = false;

  const audit =
    options.audit ??
    new AuditLog({ sink: await FileSink.open({ file: options.config.audit.file }), clock, random });
  const ownsAudit = options.audit === undefined;
  const builtinIssuer = options.config.idp?.issuer;
  const directoryCheck =
    options.directory === undefined || builtinIssuer === undefined
      ? undefined
      : checkAgainstDirectory(options.directory, builtinIssuer);
  const sessions = new SessionRegistry();
  const cancelKeys = new CancelKeys(random);
  const ctx: GatewayContext = {
    clock,
    random,
    logger,
    listen: () => state.config.listen,
    session: () => state.config.session,
    tlsContext: () => state.tlsContext,
    verifyToken: async (token) => {
      const identity = await state.verifier.verify(token);
      await directoryCheck?.(identity);
      return identity;
    },
    authorize: (identity, request) => decide(state.config.policy, identity, request, clock.now()),
    upstreamTarget: () => state.target,
    upstreamTimeoutMs: () => state.config.upstream.connect_timeout,
    upstreamCredential: (role) => state.credential(role),
    cancelUpstream: (remote, pid, secret) => sendUpstreamCancel(state.target, remote, pid, secret),
    cancelKeys,
    sessions,
    handshakes: new HandshakeSlots(() => state.config.listen.max_unauthenticated_per_address),
    cancelLimiter: new RateLimiter(clock, 20, 5),
    observer: createSessionObserver(audit, metrics, clock, logger),
    isDraining: () => draining,
  };

  const [host, port] = splitAddress(options.config.listen.address);
  const listener = await startListener(ctx, host, port, () => state.config.listen.max_connections);
  const [adminHost, adminPort] = splitAddress(options.config.admin.address);
  const admin = await startAdminServer({
    address: `${adminHost}:${adminPort}`,
    metrics,
    logger,
    health: () => ({
      ok: !draining,
      detail: { draining, sessions: sessions.size, connections: listener.connections },
    }),
  });
  if (!options.config.listen.require_tls) {
    logger.warn('listen.require_tls is false: tokens may cross the network in plaintext');
  }
  logger.info(
    {
      listen: `${listener.host}:${listener.port}`,
      admin: admin.address,
      upstream: `${state.target.host}:${state.target.port}`,
    },
    'pgkey gateway ready',
  );

  const stopWatching =
    options.directory === undefined || builtinIssuer === undefined
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
    await listener.close();
    listener.abortHandshakes();
    sessions.terminateWhere(() => true, 'shutdown');
    await waitFor(() => sessions.size === 0, 2000);
    await admin.close();
    if (ownsAudit) await audit.close();
  };

  return {
    host: listener.host,
    port: listener.port,
    adminAddress: admin.address,
    sessions,
    audit,
    async reload(config) {
      const next = await buildRuntimeState(config, {
        ...runtimeDeps,
        ...(certIssuer ? { certIssuer } : {}),
      });
      certIssuer = next.certIssuer;
      if (config.listen.address !== state.config.listen.address) {
        logger.warn('listen.address changed: restart pgkey to move the listener');
      }
      state = next;
      logger.info('configuration reloaded');
    },
    async drain() {
      draining = true;
      await listener.close();
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
