import type { Socket } from 'node:net';
import type { Profile } from '../client/profiles.ts';
import type { FreshToken } from '../client/session-tokens.ts';
import { PgkeyError, asPgkeyError } from '../errors/pgkey-error.ts';
import type { FrameSource } from '../gateway/frame-source.ts';
import { Relay } from '../gateway/relay.ts';
import {
  authenticationOk,
  backendKeyData,
  errorResponse,
  negotiateProtocolVersion,
  parameterStatus,
  readyForQuery,
  type ErrorFields,
} from '../protocol/backend-serializer.ts';
import { LATEST_MINOR } from '../protocol/constants.ts';
import type { Clock } from '../runtime/clock.ts';
import type { UpstreamConnection } from '../upstream/connector.ts';
import { GatewayRefusal, type GatewayDialer } from './gateway-dialer.ts';
import { askLocalPassword } from './local-password.ts';
import { readLocalStartup, type StartupMessage } from './local-startup.ts';
import type { TunnelEvent } from './tunnel-events.ts';

export interface ConnectionDeps {
  readonly profile: Profile;
  readonly dialer: GatewayDialer;
  /** `--local-password-file`: what local clients must send; undefined trusts them all. */
  readonly password: string | undefined;
  readonly clock: Clock;
  /** The profile's access token with at least two minutes left (freshAccessToken). */
  readonly token: () => Promise<FreshToken>;
  readonly emit: (event: TunnelEvent) => void;
}

/** A local client that sends nothing has this long before it is dropped. */
const HANDSHAKE_TIMEOUT_MS = 30_000;

/**
 * One local client, from its first byte to the end of its session: the startup phase
 * (local-startup.ts), the optional local password, a fresh token, the gateway login
 * (gateway-dialer.ts), then the gateway's greeting and the relay. The client never sees a
 * token: it is asked for nothing, and every connection gets the token fresh from the cache,
 * refreshed first when less than two minutes are left — so an expiring token is never the
 * reason a new connection fails.
 */
export class TunnelConnection {
  readonly id: number;
  readonly #socket: Socket;
  readonly #deps: ConnectionDeps;
  #relay: Relay | undefined;
  #stopping = false;

  constructor(id: number, socket: Socket, deps: ConnectionDeps) {
    this.id = id;
    this.#socket = socket;
    this.#deps = deps;
  }

  /** Resolves when the session has ended (or never started). */
  async run(): Promise<void> {
    const socket = this.#socket;
    socket.on('error', () => undefined);
    const cancelTimer = this.#deps.clock.setTimer(HANDSHAKE_TIMEOUT_MS, () => socket.destroy());
    let user: string | undefined;
    let database: string | undefined;
    try {
      const startup = await readLocalStartup(socket);
      if (startup === undefined) return this.#close();
      switch (startup.kind) {
        case 'invalid':
          return startup.answer ? this.#fatal(startup.error) : this.#close();
        case 'cancel': {
          const forwarded = await this.#deps.dialer.cancel(startup.processId, startup.secretKey);
          this.#deps.emit({ kind: 'cancel', id: this.id, forwarded });
          return this.#close();
        }
        case 'startup':
          break;
        default:
          throw new TypeError(`unhandled startup ${JSON.stringify(startup satisfies never)}`);
      }
      const { message, frames } = startup;
      if (message.major !== 3) {
        throw new PgkeyError('ERR_UNSUPPORTED_PROTOCOL', {
          message: `unsupported frontend protocol ${message.major}.${message.minor}: server supports 3.0 to 3.${LATEST_MINOR}`,
        });
      }
      const { profile } = this.#deps;
      user = message.parameters.get('user') || profile.role;
      database = message.parameters.get('database') || profile.database || user;
      if (user === undefined || database === undefined) {
        throw new PgkeyError('ERR_NO_USER', {
          hint: `connect with a user (the database role), or set role: in profile "${profile.name}"`,
        });
      }
      // Sent before the first authentication message: the password request, or the greeting.
      let preamble = negotiation(message);
      if (this.#deps.password !== undefined) {
        const expected = this.#deps.password;
        const outcome = await askLocalPassword(socket, frames, expected, user, preamble);
        if (outcome === 'hung-up') return this.#close();
        preamble = [];
      }
      cancelTimer();
      await this.#connect(message, frames, { user, database }, preamble);
    } catch (raw) {
      const error = asPgkeyError(raw);
      this.#deps.emit({
        kind: 'refused',
        id: this.id,
        user,
        database,
        by: error instanceof GatewayRefusal ? 'gateway' : 'tunnel',
        error,
      });
      if (error instanceof GatewayRefusal) this.#end(error.response);
      else this.#fatal(error);
    } finally {
      cancelTimer();
    }
  }

  /**
   * Ends the session with a FATAL between two messages (Relay.terminate), or drops a
   * connection still in its handshake: the tunnel is stopping.
   */
  terminate(fields: ErrorFields): void {
    this.#stopping = true;
    if (this.#relay === undefined) this.#socket.destroy();
    else this.#relay.terminate(fields);
  }

  /** Drops the connection now (after terminate() had its chance). */
  abort(): void {
    this.#socket.destroy();
  }

  async #connect(
    message: StartupMessage,
    frames: FrameSource,
    target: { readonly user: string; readonly database: string },
    preamble: readonly Buffer[],
  ): Promise<void> {
    const fresh = await this.#deps.token();
    const gateway = await this.#deps.dialer.login({
      ...target,
      parameters: [...message.parameters].filter(([name]) => !OWN.has(name)),
      protocolMinor: Math.min(message.minor, LATEST_MINOR),
      token: fresh.token,
    });
    const leftover = frames.detach();
    if (this.#socket.destroyed || this.#stopping) {
      // The client left (or the tunnel stopped) while the gateway was logging it in.
      gateway.socket.destroy();
      return;
    }
    this.#socket.write(Buffer.concat([...preamble, greeting(gateway)]));
    this.#deps.emit({
      kind: 'connected',
      id: this.id,
      ...target,
      application: message.parameters.get('application_name'),
    });
    this.#relay = this.#relayTo(gateway, leftover);
    this.#relay.start();
    await new Promise<void>((resolve) => this.#socket.once('close', () => resolve()));
  }

  #relayTo(gateway: UpstreamConnection, leftover: Buffer): Relay {
    const started = this.#deps.clock.now();
    return new Relay({
      client: this.#socket,
      upstream: gateway.socket,
      clientLeftover: leftover,
      upstreamLeftover: gateway.leftover,
      clock: this.#deps.clock,
      // The gateway keeps its own idle timeout; the tunnel adds none.
      idleTimeoutMs: 0,
      // On a stop mid-statement: the gateway's key cancels it at the gateway, as psql would.
      cancelUpstream: () => void this.#deps.dialer.cancel(gateway.processId, gateway.secretKey),
      onEnd: (result) =>
        this.#deps.emit({
          kind: 'closed',
          id: this.id,
          reason: result.reason,
          durationMs: this.#deps.clock.now() - started,
          bytesFromClient: result.bytesFromClient,
          bytesFromServer: result.bytesFromServer,
        }),
    });
  }

  #fatal(error: PgkeyError): void {
    this.#end(
      errorResponse({
        severity: 'FATAL',
        code: error.sqlstate,
        message: error.message,
        detail: error.detail,
        hint: error.hint,
      }),
    );
  }

  #end(last: Buffer): void {
    const socket = this.#socket;
    if (socket.destroyed || !socket.writable) return this.#close();
    socket.end(last);
    this.#deps.clock.setTimer(1000, () => socket.destroy());
  }

  #close(): void {
    this.#socket.destroy();
  }
}

/** Parameters the tunnel sets itself in the gateway's StartupMessage. */
const OWN: ReadonlySet<string> = new Set(['user', 'database']);

/**
 * NegotiateProtocolVersion when the client asked for more than 3.2 or for `_pq_.` options:
 * the tunnel speaks at most 3.2 to both sides and implements no option (protocol.md §1.2).
 */
function negotiation(message: StartupMessage): Buffer[] {
  if (message.minor <= LATEST_MINOR && message.protocolOptions.length === 0) return [];
  const minor = Math.min(message.minor, LATEST_MINOR);
  return [negotiateProtocolVersion((3 << 16) | minor, message.protocolOptions)];
}

/**
 * What the gateway sent after the token, for the client in one write: AuthenticationOk,
 * every ParameterStatus, the gateway's own BackendKeyData — so the client's CancelRequest
 * to the tunnel carries the key the gateway knows — and ReadyForQuery.
 */
function greeting(gateway: UpstreamConnection): Buffer {
  return Buffer.concat([
    authenticationOk(),
    ...gateway.parameters.map(([name, value]) => parameterStatus(name, value)),
    backendKeyData(gateway.processId, gateway.secretKey),
    readyForQuery(gateway.transactionStatus),
  ]);
}
