import net from 'node:net';
import tls from 'node:tls';
import { PgkeyError, isPgkeyError } from '../errors/pgkey-error.ts';
import { decodeBackendMessage, decodeSaslMechanisms } from '../protocol/backend-decoder.ts';
import { AUTH } from '../protocol/constants.ts';
import {
  passwordMessage,
  saslInitialResponse,
  saslResponse,
  sslRequest,
  startupMessage,
} from '../protocol/frontend-serializer.ts';
import { MessageReader } from '../protocol/message-reader.ts';
import { alpnProtocols } from '../runtime/owned-buffer.ts';
import { ScramClient } from './scram-client.ts';
import { upstreamLoginError } from './upstream-errors.ts';

/** Where the upstream PostgreSQL is and how its certificate is verified (verify-full). */
export interface UpstreamTarget {
  readonly host: string;
  readonly port: number;
  /** Name the server certificate must carry; defaults to host. */
  readonly servername: string;
  readonly ca: string;
}

export type UpstreamCredential =
  | { readonly kind: 'cert'; readonly key: string; readonly cert: string }
  | { readonly kind: 'scram'; readonly password: string }
  /**
   * A bearer token for a pgkey gateway (`pgkey tunnel`): sent as the cleartext password the
   * gateway asks for, only ever inside verify-full TLS (docs/decisions/0001).
   */
  | { readonly kind: 'token'; readonly token: string };

export interface UpstreamLogin {
  readonly role: string;
  readonly database: string;
  readonly parameters: ReadonlyArray<readonly [string, string]>;
  readonly credential: UpstreamCredential;
  readonly timeoutMs: number;
  /** Minor protocol version of the StartupMessage (3.2: long cancel keys); default 0. */
  readonly protocolMinor?: number;
  /**
   * What a server's ErrorResponse during login becomes. Default: upstreamLoginError, which
   * keeps the server's text away from pgkey's clients; the tunnel passes a pgkey gateway's
   * (already client-safe) refusal on as it came.
   */
  readonly refusal?: (fields: ReadonlyMap<string, string>, body: Buffer) => PgkeyError;
}

export interface UpstreamConnection {
  readonly socket: tls.TLSSocket;
  /** The resolved address, so a cancel goes to the same server (DNS round robin). */
  readonly remote: { readonly address: string; readonly port: number };
  /** ParameterStatus values in the order the server sent them. */
  readonly parameters: ReadonlyArray<readonly [string, string]>;
  readonly processId: number;
  readonly secretKey: Buffer;
  readonly transactionStatus: number;
  /** Bytes the server sent after ReadyForQuery, to relay first (normally empty). */
  readonly leftover: Buffer;
}

/** Messages the server sends before ReadyForQuery are small; cap them all. */
const MAX_LOGIN_MESSAGE = 256 * 1024;

/** Offered to PostgreSQL 17+ (direct TLS needs it; it does no harm after SSLRequest). */
const ALPN = alpnProtocols('postgresql');

/** By credential (a client certificate is part of the context), else by target. */
const contexts = new WeakMap<object, tls.SecureContext>();

/**
 * Logs in to PostgreSQL as `role` and returns the connection ready for the relay: TCP,
 * SSLRequest, TLS verify-full with the role's credential, StartupMessage, the auth exchange,
 * then ParameterStatus/BackendKeyData until ReadyForQuery (protocol-flow.html §Start-up).
 * The upstream is untrusted input like any peer: messages are capped, an 'S' that arrives
 * with extra bytes is refused (CVE-2021-23222), and nothing falls back to plaintext.
 */
export async function connectUpstream(
  target: UpstreamTarget,
  login: UpstreamLogin,
): Promise<UpstreamConnection> {
  const raw = net.connect({ host: target.host, port: target.port, noDelay: true, keepAlive: true });
  let socket: net.Socket | tls.TLSSocket = raw;
  const timer = setTimeout(() => {
    socket.destroy(
      new PgkeyError('ERR_UPSTREAM_UNAVAILABLE', {
        reason: 'upstream_timeout',
        message: 'the database server did not answer in time',
      }),
    );
  }, login.timeoutMs);
  try {
    const reader = new Reader(raw);
    await reader.connected();
    raw.write(sslRequest());
    const reply = await reader.rawChunk();
    // backend_startup.c answers one byte; anything after it arrived before the TLS handshake
    // and could be injected plaintext (CVE-2021-23222). 'N' means no TLS: never continue.
    if (reply.length !== 1 || reply[0] !== 0x53) {
      throw new PgkeyError(reply[0] === 0x4e ? 'ERR_UPSTREAM_TLS' : 'ERR_UPSTREAM_PROTOCOL', {
        reason: reply[0] === 0x4e ? 'upstream_tls_refused' : 'upstream_ssl_response',
        message:
          reply[0] === 0x4e
            ? 'the database server does not accept TLS connections'
            : 'the database server sent an invalid response to SSLRequest',
      });
    }
    if (reader.detach().length > 0) throw injectedBytes();
    const secure = await startTls(raw, target, login.credential);
    socket = secure;
    const remote = {
      address: raw.remoteAddress ?? target.host,
      port: raw.remotePort ?? target.port,
    };
    return { ...(await authenticate(secure, login)), socket: secure, remote };
  } catch (error) {
    socket.destroy();
    throw asUpstreamError(error);
  } finally {
    clearTimeout(timer);
  }
}

function startTls(
  raw: net.Socket,
  target: UpstreamTarget,
  credential: UpstreamCredential,
): Promise<tls.TLSSocket> {
  // A token is not part of TLS: one context serves every token for the same target.
  const owner: object = credential.kind === 'token' ? target : credential;
  let secureContext = contexts.get(owner);
  if (secureContext === undefined) {
    secureContext = tls.createSecureContext({
      ca: target.ca,
      minVersion: 'TLSv1.2',
      // Classic groups only: PostgreSQL's OpenSSL picks one of these, and offering a
      // post-quantum key share it cannot use would cost a key generation per connection.
      ecdhCurve: 'X25519:P-256:P-384',
      ...(credential.kind === 'cert' ? { key: credential.key, cert: credential.cert } : {}),
    });
    contexts.set(owner, secureContext);
  }
  const name = target.servername;
  return new Promise((resolve, reject) => {
    const secure = tls.connect({
      socket: raw,
      secureContext,
      // SNI must not carry an IP address (RFC 6066 §3); identity is still checked against it.
      ...(net.isIP(name) === 0 ? { servername: name } : {}),
      host: name,
      checkServerIdentity: (_host, cert) => tls.checkServerIdentity(name, cert),
      ALPNProtocols: ALPN,
      rejectUnauthorized: true,
    });
    const onError = (error: Error): void =>
      reject(
        new PgkeyError('ERR_UPSTREAM_TLS', {
          reason: 'upstream_tls_failed',
          cause: error,
        }),
      );
    secure.once('secureConnect', () => {
      // Until the relay adds its own, an error must not go unheard (it would crash the
      // process): a shared no-op, so the socket does not hold this handshake's closures.
      secure.off('error', onError);
      secure.on('error', ignoreError);
      resolve(secure);
    });
    secure.once('error', onError);
  });
}

async function authenticate(
  socket: tls.TLSSocket,
  login: UpstreamLogin,
): Promise<Omit<UpstreamConnection, 'socket' | 'remote'>> {
  const reader = new Reader(socket);
  const frames = new MessageReader({ typed: true, maxBodyLength: () => MAX_LOGIN_MESSAGE });
  socket.write(
    startupMessage(
      [['user', login.role], ['database', login.database], ...login.parameters],
      (3 << 16) | (login.protocolMinor ?? 0),
    ),
  );
  const parameters: Array<readonly [string, string]> = [];
  let processId: number | undefined;
  let secretKey: Buffer | undefined;
  let scram: ScramClient | undefined;
  for (;;) {
    let frame = frames.next();
    while (frame === undefined) {
      frames.push(await reader.rawChunk());
      frame = frames.next();
    }
    const message = decodeBackendMessage(frame);
    switch (message.name) {
      case 'authentication':
        switch (message.subtype) {
          case AUTH.Ok:
            // RFC 5802 §5: the server proves it knows the verifier in server-final; an Ok
            // that skips that step is refused (a server that never asked is fine: TLS
            // verify-full already proved who it is).
            if (scram !== undefined && !scram.completed) throw outOfOrder();
            break;
          case AUTH.SASL: {
            if (login.credential.kind !== 'scram')
              throw wrongMethod('SCRAM', login.credential.kind);
            const mechanisms = decodeSaslMechanisms(message.data);
            const der = socket.getPeerX509Certificate()?.raw;
            scram = new ScramClient({
              password: login.credential.password,
              mechanisms,
              serverCertificateDer: der,
            });
            socket.write(saslInitialResponse(scram.mechanism, scram.initialResponse()));
            break;
          }
          case AUTH.SASLContinue:
            if (scram === undefined) throw outOfOrder();
            socket.write(saslResponse(await scram.continue(message.data)));
            break;
          case AUTH.SASLFinal:
            if (scram === undefined) throw outOfOrder();
            scram.final(message.data);
            break;
          case AUTH.CleartextPassword:
            // A pgkey gateway's door (protocol.md §2.2), inside the verify-full TLS above.
            // Never a database password in cleartext, even over TLS: pg_hba must say cert/scram.
            if (login.credential.kind !== 'token')
              throw wrongMethod('password', login.credential.kind);
            socket.write(passwordMessage(login.credential.token));
            break;
          case AUTH.MD5Password:
            throw wrongMethod('md5', login.credential.kind);
          default:
            throw wrongMethod(`method ${message.subtype}`, login.credential.kind);
        }
        break;
      case 'parameterStatus':
        parameters.push([message.parameter, message.value]);
        break;
      case 'backendKeyData':
        processId = message.processId;
        secretKey = message.secretKey;
        break;
      case 'errorResponse':
        throw login.refusal === undefined
          ? upstreamLoginError(message.fields, login)
          : login.refusal(message.fields, frame.body);
      case 'noticeResponse':
      case 'negotiateProtocolVersion':
        break;
      case 'readyForQuery':
        if (processId === undefined || secretKey === undefined) {
          // Without a key, cancel cannot work; PostgreSQL always sends one.
          throw new PgkeyError('ERR_UPSTREAM_PROTOCOL', { reason: 'upstream_no_backend_key' });
        }
        return {
          parameters,
          processId,
          secretKey,
          transactionStatus: message.status,
          leftover: Buffer.concat([frames.drain(), reader.detach()]),
        };
      case 'other':
        throw new PgkeyError('ERR_UPSTREAM_PROTOCOL', {
          reason: 'upstream_unexpected_message',
          cause: new Error(`unexpected message type ${message.type} during login`),
        });
      default:
        throw new TypeError(`unhandled message ${JSON.stringify(message satisfies never)}`);
    }
  }
}

function wrongMethod(asked: string, have: string): PgkeyError {
  return new PgkeyError('ERR_UPSTREAM_AUTH', {
    reason: 'upstream_auth_method',
    cause: new Error(`server asked for ${asked} but pgkey is configured for upstream.auth=${have}`),
  });
}

function injectedBytes(): PgkeyError {
  return new PgkeyError('ERR_UPSTREAM_PROTOCOL', {
    reason: 'upstream_ssl_response',
    message: 'the database server sent an invalid response to SSLRequest',
  });
}

function outOfOrder(): PgkeyError {
  return new PgkeyError('ERR_UPSTREAM_PROTOCOL', { reason: 'upstream_sasl_order' });
}

function asUpstreamError(error: unknown): PgkeyError {
  // The codec's 08P01 describes a peer's bad bytes as the client's; here the server sent them.
  if (isPgkeyError(error, 'ERR_PROTOCOL_VIOLATION')) {
    return new PgkeyError('ERR_UPSTREAM_PROTOCOL', { reason: 'upstream_malformed', cause: error });
  }
  if (isPgkeyError(error)) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return new PgkeyError('ERR_UPSTREAM_UNAVAILABLE', {
    reason: code === undefined ? 'upstream_unavailable' : `upstream_${code.toLowerCase()}`,
    cause: error,
  });
}

/** Errors after the login are the relay's (it listens on the TLS socket). */
const ignoreError = (): void => undefined;

/** Pull-style reads over a socket during the login, with EOF and errors as rejections. */
class Reader {
  readonly #socket: net.Socket;
  #chunks: Buffer[] = [];
  #waiter: { resolve: (b: Buffer) => void; reject: (e: unknown) => void } | undefined;
  #failure: unknown;
  readonly #onData = (chunk: Buffer): void => {
    this.#chunks.push(chunk);
    this.#wake();
  };
  readonly #onEnd = (): void => {
    this.#failure ??= new PgkeyError('ERR_UPSTREAM_UNAVAILABLE', {
      reason: 'upstream_closed',
      message: 'the database server closed the connection during login',
    });
    this.#wake();
  };
  readonly #onError = (error: unknown): void => {
    this.#failure ??= error;
    this.#wake();
  };

  constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onEnd);
    socket.on('error', this.#onError);
  }

  connected(): Promise<void> {
    const socket = this.#socket;
    if (!socket.connecting) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onClose = (): void => reject(asUpstreamError(this.#failure));
      socket.once('connect', () => {
        // The socket lives as long as the session: keep no closure of this login on it.
        socket.off('error', reject);
        socket.off('close', onClose);
        socket.on('error', ignoreError);
        resolve();
      });
      socket.once('error', reject);
      socket.once('close', onClose);
    });
  }

  rawChunk(): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
      this.#wake();
    });
  }

  /** Stops reading; returns bytes received but not yet taken. */
  detach(): Buffer {
    this.#socket.pause();
    this.#socket.off('data', this.#onData);
    this.#socket.off('end', this.#onEnd);
    this.#socket.off('close', this.#onEnd);
    this.#socket.off('error', this.#onError);
    const rest = Buffer.concat(this.#chunks);
    this.#chunks = [];
    return rest;
  }

  #wake(): void {
    const waiter = this.#waiter;
    if (waiter === undefined) return;
    if (this.#chunks.length > 0) {
      this.#waiter = undefined;
      const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
      this.#chunks = [];
      waiter.resolve(all);
    } else if (this.#failure !== undefined) {
      this.#waiter = undefined;
      waiter.reject(this.#failure);
    }
  }
}
