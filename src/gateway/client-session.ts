import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { PgkeyError, asPgkeyError, isPgkeyError } from '../errors/pgkey-error.ts';
import type { Identity } from '../identity/identity.ts';
import {
  authenticationOk,
  backendKeyData,
  errorResponse,
  negotiateProtocolVersion,
  parameterStatus,
  readyForQuery,
} from '../protocol/backend-serializer.ts';
import { FRONTEND, LATEST_MINOR, MAX_AUTH_MESSAGE_LENGTH } from '../protocol/constants.ts';
import { MessageReader, startupBodyCap } from '../protocol/message-reader.ts';
import { protocolViolation } from '../protocol/protocol-error.ts';
import { decodeStartupPacket, type StartupPacket } from '../protocol/startup-packet.ts';
import type { GatewayContext, Peer } from './context.ts';
import { FrameSource } from './frame-source.ts';
import { openSession } from './open-session.ts';
import { parseStartupParameters, type StartupRequest } from './startup-parameters.ts';
import { upgradeToTls } from './tls-upgrade.ts';
import { DOOR, exchangeToken, type Door } from './token-auth.ts';
import { loginUpstream } from './upstream-login.ts';

/** The steps of one client connection, in order (DESIGN.md "The journey of one connection"). */
export const STEP = {
  Negotiating: 'negotiating',
  Authenticating: 'authenticating',
  Authorizing: 'authorizing',
  Connecting: 'connecting',
  Relaying: 'relaying',
  Closed: 'closed',
} as const;
export type Step = (typeof STEP)[keyof typeof STEP];

type StartupMessage = Extract<StartupPacket, { kind: 'startup' }>;

/**
 * Drives one accepted connection from its first byte to the relay: TLS negotiation, the
 * StartupMessage, the token through the listener's door (a cleartext password over TLS, or
 * SASL OAUTHBEARER: token-auth.ts), policy, the upstream login, and the post-auth burst.
 * Every failure ends in exactly one place (`#fail`).
 */
export class ClientSession {
  readonly id: string;
  readonly #ctx: GatewayContext;
  readonly #socket: Socket;
  readonly #peer: Peer;
  readonly #acceptedAt: number;
  readonly #door: Door;
  #step: Step = STEP.Negotiating;
  #stream: Duplex;
  #secured = false;
  /** The protocol version is known, so errors can be sent as ErrorResponse. */
  #speaksProtocol = false;
  #request: StartupRequest | undefined;
  #identity: Identity | undefined;
  #cancelHandshakeTimer: (() => void) | undefined;

  constructor(ctx: GatewayContext, socket: Socket, door: Door = DOOR.Password) {
    this.#ctx = ctx;
    this.#socket = socket;
    this.#door = door;
    this.#stream = socket;
    this.#peer = { address: socket.remoteAddress ?? 'unknown', port: socket.remotePort ?? 0 };
    this.#acceptedAt = ctx.clock.now();
    this.id = ctx.random.bytes(9).toString('base64url');
  }

  get step(): Step {
    return this.#step;
  }

  get peer(): Peer {
    return this.#peer;
  }

  /** Runs the handshake; resolves when the session is relaying or closed. */
  async run(): Promise<void> {
    this.#cancelHandshakeTimer = this.#ctx.clock.setTimer(
      this.#ctx.listen().handshake_timeout,
      () =>
        this.#socket.destroy(new PgkeyError('ERR_AUTH_TIMEOUT', { reason: 'handshake_timeout' })),
    );
    // Module-level: a closure made here would keep this ClientSession alive for as long as
    // the socket lives (the whole session), and with it the handshake's state.
    this.#socket.on('error', ignoreError);
    try {
      const startup = await this.#negotiate();
      if (startup === undefined) return this.#close();
      await this.#authenticateAndConnect(startup.packet, startup.frames);
    } catch (error) {
      await this.#fail(error);
    } finally {
      this.#cancelHandshakeTimer?.();
      this.#cancelHandshakeTimer = undefined;
    }
  }

  /**
   * Startup-phase packets until a StartupMessage (backend_startup.c ProcessStartupPacket):
   * SSLRequest → 'S' + TLS, GSSENCRequest → 'N', CancelRequest handled and closed. A first
   * byte of 0x16 is a TLS ClientHello: PostgreSQL 17 direct TLS.
   */
  async #negotiate(): Promise<{ packet: StartupMessage; frames: FrameSource } | undefined> {
    const first = await firstChunk(this.#socket);
    if (first === undefined) return undefined;
    let reader = startupReader();
    if (first[0] === 0x16) {
      this.#stream = await this.#startTls(first, true);
    } else {
      reader.push(first);
    }
    let frames = new FrameSource(this.#stream, reader, HANDSHAKE_BUFFER_LIMIT);
    // backend_startup.c: one SSLRequest per connection. After SSLRequest + TLS another is an
    // unknown protocol (ssl_done); inside direct TLS the first one gets 'N', the next is fatal.
    let sslDone = false;
    let gssDone = false;
    for (;;) {
      const frame = await frames.next();
      if (frame === undefined) return undefined;
      const packet = this.#decode(frame.body);
      switch (packet.kind) {
        case 'ssl-request': {
          if (sslDone) throw unsupportedRequest(packet.kind);
          sslDone = true;
          if (this.#secured) {
            // Already inside direct TLS: PostgreSQL answers 'N' and keeps reading.
            this.#stream.write(Buffer.from('N'));
            continue;
          }
          // CVE-2021-23214: bytes queued behind the SSLRequest were sent before encryption.
          if (reader.buffered > 0) throw unencryptedData();
          frames.detach();
          this.#socket.write(Buffer.from('S'));
          this.#stream = await this.#startTls(undefined, false);
          reader = startupReader();
          frames = new FrameSource(this.#stream, reader, HANDSHAKE_BUFFER_LIMIT);
          continue;
        }
        case 'gssenc-request':
          if (gssDone || this.#secured) throw unsupportedRequest(packet.kind);
          gssDone = true;
          if (reader.buffered > 0) throw unencryptedData();
          // pgkey has no GSSAPI: 'N', as PostgreSQL without GSS does; libpq then tries SSL.
          this.#stream.write(Buffer.from('N'));
          continue;
        case 'cancel-request':
          frames.detach();
          this.#cancel(packet.processId, packet.secretKey);
          return undefined;
        case 'startup':
          return { packet, frames };
        default:
          throw new TypeError(`unhandled packet ${JSON.stringify(packet satisfies never)}`);
      }
    }
  }

  /**
   * backend_startup.c sets FrontendProtocol before it reads a StartupMessage's parameters, so
   * a malformed one (layout, duplicates, UTF-8) is answered with a FATAL; a malformed special
   * request (cancel, SSL, GSS) is dropped without a reply.
   */
  #decode(body: Buffer): StartupPacket {
    try {
      return decodeStartupPacket(body);
    } catch (error) {
      if (body.length >= 4 && body.readUInt32BE(0) >>> 16 === 3) this.#speaksProtocol = true;
      throw error;
    }
  }

  async #startTls(prefix: Buffer | undefined, direct: boolean): Promise<Duplex> {
    const context = this.#ctx.tlsContext();
    if (context === undefined) {
      if (direct) throw protocolViolation('tls_not_configured', 'TLS is not configured');
      // Unreachable by config rules (require_tls needs listen.tls); refuse rather than 'S'.
      throw protocolViolation('tls_not_configured', 'TLS is not configured');
    }
    const secure = await upgradeToTls(this.#socket, context, {
      ...(prefix === undefined ? {} : { prefix }),
      requireAlpn: direct,
    });
    this.#secured = true;
    return secure;
  }

  async #authenticateAndConnect(startup: StartupMessage, frames: FrameSource): Promise<void> {
    this.#speaksProtocol = true;
    if (startup.major !== 3) {
      throw new PgkeyError('ERR_UNSUPPORTED_PROTOCOL', {
        message: `unsupported frontend protocol ${startup.major}.${startup.minor}: server supports 3.0 to 3.${LATEST_MINOR}`,
        reason: 'unsupported_protocol',
      });
    }
    if (this.#ctx.listen().require_tls && !this.#secured) throw new PgkeyError('ERR_TLS_REQUIRED');
    this.#request = parseStartupParameters(startup.parameters);
    if (this.#ctx.isDraining()) throw new PgkeyError('ERR_SHUTTING_DOWN');

    // The auth exchange is typed messages; only 'p' may arrive, capped like
    // PG_MAX_AUTH_TOKEN_LENGTH before any of it is buffered.
    frames.reader.setTyped(true);
    const preamble: Buffer[] = [];
    if (startup.minor > LATEST_MINOR || startup.protocolOptions.length > 0) {
      // The version we will speak: min(asked, 3.2). PostgreSQL 18 sends FrontendProtocol
      // here, and libpq 18 refuses a "downgrade" to a version above the one it asked for.
      const minor = Math.min(startup.minor, LATEST_MINOR);
      preamble.push(negotiateProtocolVersion((3 << 16) | minor, startup.protocolOptions));
    }
    this.#step = STEP.Authenticating;
    const outcome = await exchangeToken(
      this.#door,
      {
        stream: this.#stream,
        frames,
        preamble,
        user: this.#request.user,
        presented: () => {
          this.#step = STEP.Authorizing;
        },
        // A token refused for a revocation is still someone's: auth.failure names them.
        verify: (token) =>
          this.#ctx.verifyToken(token, (identity) => {
            this.#identity = identity;
          }),
      },
      this.#ctx.listen().oauth,
    );
    switch (outcome.kind) {
      case 'hung-up':
        return this.#close();
      case 'discovered':
        return this.#abandon(outcome.error);
      case 'verified':
        this.#identity = outcome.identity;
        break;
      default:
        throw new TypeError(`unhandled outcome ${String(outcome satisfies never)}`);
    }

    // Still STEP.Authorizing (set when the token was presented): a denial is audited.
    const decision = this.#ctx.authorize(this.#identity, {
      database: this.#request.database,
      role: this.#request.user,
    });
    if (!decision.allowed) {
      throw new PgkeyError(decision.code, {
        message: decision.message,
        hint: decision.hint,
        reason: decision.reason,
      });
    }

    this.#step = STEP.Connecting;
    const upstreamStarted = this.#ctx.clock.now();
    // Rules with `provision`: the person's own role, created or updated first (src/provision).
    const { upstream, lease } = await loginUpstream(this.#ctx, {
      identity: this.#identity,
      granted: decision,
      parameters: this.#request.forwarded,
      session: { id: this.id, peer: this.#peer },
    });
    const upstreamMs = this.#ctx.clock.now() - upstreamStarted;
    const leftover = frames.detach();
    this.#cancelHandshakeTimer?.();
    this.#step = STEP.Relaying;
    await openSession(this.#ctx, {
      id: this.id,
      client: this.#stream,
      peer: this.#peer,
      identity: this.#identity,
      decision,
      upstream,
      provisioned: lease,
      clientLeftover: leftover,
      protocolMinor: Math.min(startup.minor, LATEST_MINOR),
      handshakeMs: this.#ctx.clock.now() - this.#acceptedAt,
      upstreamMs,
      greeting: (processId, secretKey) =>
        Buffer.concat([
          authenticationOk(),
          ...upstream.parameters.map(([name, value]) => parameterStatus(name, value)),
          backendKeyData(processId, secretKey),
          readyForQuery(upstream.transactionStatus),
        ]),
    });
  }

  #cancel(processId: number, secretKey: Buffer): void {
    // Nothing is ever written back to a CancelRequest (protocol-flow.html); rate-limited per
    // address so a 32-bit secret cannot be brute-forced by flooding.
    if (this.#ctx.cancelLimiter.allow(this.#peer.address)) {
      this.#ctx.cancelKeys.find(processId, secretKey)?.();
    }
    this.#close();
  }

  /**
   * An OAUTHBEARER discovery exchange is over: it fails like any refused login (FATAL 28000)
   * but is no authentication failure, so it is neither audited nor logged above debug
   * (auth-oauth.c: "OAuth issuer discovery requested", DEBUG1).
   */
  #abandon(error: PgkeyError): void {
    this.#step = STEP.Closed;
    this.#ctx.logger.debug({ session: this.id, peer: this.#peer }, 'OAuth discovery requested');
    this.#sendFatal(error);
  }

  async #fail(raw: unknown): Promise<void> {
    const error = asPgkeyError(raw);
    const step = this.#step;
    this.#step = STEP.Closed;
    if (step === STEP.Relaying) {
      // The session opened but could not be recorded as started: fail closed.
      this.#sendFatal(error);
      return;
    }
    if (this.#request !== undefined && (step === STEP.Authorizing || step === STEP.Connecting)) {
      await this.#ctx.observer
        .authFailure({
          sessionId: this.id,
          peer: this.#peer,
          user: this.#request.user,
          database: this.#request.database,
          identity: this.#identity,
          error,
        })
        .catch((auditError: unknown) =>
          this.#ctx.logger.error({ err: auditError }, 'audit write failed'),
        );
    }
    // A verifier that broke is an internal error also when the OAUTHBEARER door wraps it.
    const internal = [error, error.cause].some((e) => isPgkeyError(e, 'ERR_INTERNAL'));
    const level = internal ? 'error' : 'info';
    this.#ctx.logger[level](
      {
        session: this.id,
        peer: this.#peer,
        step,
        code: error.code,
        reason: error.reason,
        err: error.cause,
      },
      'connection refused',
    );
    if (this.#speaksProtocol) this.#sendFatal(error);
    else {
      this.#ctx.observer.rejected(error.reason);
      // PostgreSQL answers these two in the v3 format although no version was agreed yet.
      if (
        (isPgkeyError(raw, 'ERR_PROTOCOL_VIOLATION') && raw.reason === 'unencrypted_data') ||
        (isPgkeyError(raw, 'ERR_UNSUPPORTED_PROTOCOL') && raw.reason === 'repeated_negotiation')
      ) {
        this.#sendFatal(error);
        return;
      }
      this.#close();
    }
  }

  #sendFatal(error: PgkeyError): void {
    const stream = this.#stream;
    if (stream.destroyed || !stream.writable) return this.#close();
    stream.end(
      errorResponse({
        severity: 'FATAL',
        code: error.sqlstate,
        message: error.message,
        detail: error.detail,
        hint: error.hint,
      }),
    );
    this.#ctx.clock.setTimer(1000, () => this.#socket.destroy());
  }

  #close(): void {
    this.#step = STEP.Closed;
    this.#stream.destroy();
    this.#socket.destroy();
  }
}

/**
 * Startup packets are capped at 10,000 bytes like PostgreSQL's; once typed, only the auth
 * reply ('p') may be large (a JWT up to 64 KiB); anything else before login is tiny.
 */
function startupReader(): MessageReader {
  return new MessageReader({
    typed: false,
    maxBodyLength: (type) =>
      type === -1 ? startupBodyCap() : type === FRONTEND.Password ? MAX_AUTH_MESSAGE_LENGTH : 1024,
  });
}

const ignoreError = (): void => undefined;

/** All a client may have buffered with pgkey before it is logged in. */
const HANDSHAKE_BUFFER_LIMIT = MAX_AUTH_MESSAGE_LENGTH + 16 * 1024;

/** The first chunk of a connection, or undefined for a silent EOF (health checks). */
function firstChunk(socket: Socket): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      cleanup();
      socket.pause();
      resolve(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(undefined);
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onError);
  });
}

function unencryptedData(): PgkeyError {
  return new PgkeyError('ERR_PROTOCOL_VIOLATION', {
    reason: 'unencrypted_data',
    message: 'received unencrypted data after SSL request',
    detail:
      'This could be either a client-software bug or evidence of an attempted man-in-the-middle attack.',
  });
}

function unsupportedRequest(kind: 'ssl-request' | 'gssenc-request'): PgkeyError {
  // PostgreSQL 004_negotiate.pl: a repeated request is an unknown protocol version.
  const code = kind === 'ssl-request' ? '1234.5679' : '1234.5680';
  return new PgkeyError('ERR_UNSUPPORTED_PROTOCOL', {
    reason: 'repeated_negotiation',
    message: `unsupported frontend protocol ${code}: server supports 3.0 to 3.${LATEST_MINOR}`,
  });
}
