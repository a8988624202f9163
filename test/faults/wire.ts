/**
 * A raw PostgreSQL wire client (and server-side reader) for fault tests: real sockets, bytes
 * laid out by test/support/bytes.ts rather than by the codec under test, and every wait
 * bounded so a gateway that stalls fails the test instead of hanging it.
 * https://www.postgresql.org/docs/18/protocol-message-formats.html
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { bytes, typedMessage, untypedPacket } from '../support/bytes.ts';

export const CODES = {
  SSLRequest: 80877103, // 1234.5679
  GSSENCRequest: 80877104, // 1234.5680
  CancelRequest: 80877102, // 1234.5678
  Protocol30: 0x0003_0000,
  Protocol32: 0x0003_0002,
} as const;

export const SSL_REQUEST = untypedPacket(CODES.SSLRequest);
export const GSSENC_REQUEST = untypedPacket(CODES.GSSENCRequest);
/** Terminate ('X'). */
export const TERMINATE = typedMessage('X');

const DEFAULT_WAIT_MS = 5000;

export type ParamValue = string | Buffer;

/** StartupMessage: Int32 length, Int32 version, (String name, String value)*, NUL. */
export function startupPacket(
  parameters: ReadonlyArray<readonly [ParamValue, ParamValue]>,
  version: number = CODES.Protocol30,
): Buffer {
  const body = bytes();
  for (const [name, value] of parameters) {
    for (const part of [name, value]) {
      if (typeof part === 'string') body.cstring(part);
      else body.raw(part).byte(0);
    }
  }
  body.byte(0);
  return untypedPacket(version, body.build());
}

/** PasswordMessage ('p'): the token as a String. */
export function passwordPacket(token: string): Buffer {
  return typedMessage('p', bytes().cstring(token).build());
}

/** Query ('Q'). */
export function queryPacket(sql: string): Buffer {
  return typedMessage('Q', bytes().cstring(sql).build());
}

/** CancelRequest: Int32 length, Int32 1234.5678, Int32 pid, secret key bytes. */
export function cancelPacket(processId: number, secretKey: Buffer): Buffer {
  return untypedPacket(CODES.CancelRequest, bytes().int32(processId).raw(secretKey).build());
}

export interface Message {
  /** Byte1 type as a character. */
  readonly type: string;
  readonly body: Buffer;
}

/** ErrorResponse / NoticeResponse fields by code letter ('S', 'V', 'C', 'M', …). */
export function errorFields(body: Buffer): Map<string, string> {
  const fields = new Map<string, string>();
  let offset = 0;
  while (offset < body.length && body[offset] !== 0) {
    const end = body.indexOf(0, offset + 1);
    if (end === -1) throw new Error(`unterminated error field in ${body.toString('hex')}`);
    fields.set(String.fromCharCode(body[offset]!), body.toString('utf8', offset + 1, end));
    offset = end + 1;
  }
  return fields;
}

/** BackendKeyData ('K'): Int32 pid, then the secret key (the rest of the body). */
export function backendKey(messages: readonly Message[]): { processId: number; secret: Buffer } {
  const key = messages.find((m) => m.type === 'K');
  if (key === undefined) throw new Error(`no BackendKeyData in ${types(messages)}`);
  return { processId: key.body.readInt32BE(0), secret: Buffer.from(key.body.subarray(4)) };
}

export function types(messages: readonly Message[]): string {
  return messages.map((m) => m.type).join('');
}

/**
 * Bytes from one stream, buffered, with bounded waits for what a test expects next: raw
 * bytes (the 'S'/'N' negotiation answers), untyped packets (what a server reads first), typed
 * messages, or the close.
 */
export class Wire {
  readonly stream: Duplex;
  #buffer: Buffer = Buffer.alloc(0);
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;
  /** Every byte ever received, for "nothing was sent" assertions. */
  #total = 0;
  readonly #onData = (chunk: Buffer): void => {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    this.#total += chunk.length;
    this.#wake?.();
  };
  readonly #onEnd = (): void => {
    this.#ended = true;
    this.#wake?.();
  };
  readonly #onError = (error: Error): void => {
    this.#error ??= error;
    this.#onEnd();
  };

  constructor(stream: Duplex) {
    this.stream = stream;
    stream.on('data', this.#onData);
    stream.on('end', this.#onEnd);
    stream.on('close', this.#onEnd);
    stream.on('error', this.#onError);
  }

  get ended(): boolean {
    return this.#ended;
  }

  get error(): Error | undefined {
    return this.#error;
  }

  get totalReceived(): number {
    return this.#total;
  }

  /** Bytes received and not yet taken. */
  get pending(): Buffer {
    return this.#buffer;
  }

  write(data: Buffer): void {
    this.stream.write(data);
  }

  destroy(): void {
    this.stream.destroy();
  }

  /** Exactly `n` raw bytes. */
  async bytes(n: number, timeoutMs = DEFAULT_WAIT_MS): Promise<Buffer> {
    await this.#until(() => this.#buffer.length >= n, timeoutMs, `${n} bytes`);
    return this.#take(n);
  }

  /** A typed message: Byte1 type, Int32 length (self-inclusive), body. */
  async message(timeoutMs = DEFAULT_WAIT_MS): Promise<Message> {
    let total = 0;
    await this.#until(
      () => {
        if (this.#buffer.length < 5) return false;
        const length = this.#buffer.readUInt32BE(1);
        if (length < 4) throw new Error(`peer sent message length ${length}`);
        total = 1 + length;
        return this.#buffer.length >= total;
      },
      timeoutMs,
      'a message',
    );
    const frame = this.#take(total);
    return { type: String.fromCharCode(frame[0]!), body: frame.subarray(5) };
  }

  /** Messages up to and including the first of `type` (or an ErrorResponse, which ends logins). */
  async messagesUntil(type: string, timeoutMs = DEFAULT_WAIT_MS): Promise<Message[]> {
    const out: Message[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const message = await this.message(Math.max(1, deadline - Date.now()));
      out.push(message);
      if (message.type === type || message.type === 'E') return out;
    }
  }

  /** An untyped packet (what a server reads first): Int32 length, then the rest. */
  async packet(timeoutMs = DEFAULT_WAIT_MS): Promise<Buffer> {
    let total = 0;
    await this.#until(
      () => {
        if (this.#buffer.length < 4) return false;
        total = this.#buffer.readUInt32BE(0);
        if (total < 4 || total > 1 << 20) throw new Error(`peer sent packet length ${total}`);
        return this.#buffer.length >= total;
      },
      timeoutMs,
      'a packet',
    );
    return this.#take(total);
  }

  /** Waits for EOF/close; resolves with the bytes that came and were never taken. */
  async closed(timeoutMs = DEFAULT_WAIT_MS): Promise<Buffer> {
    await this.#until(() => this.#ended, timeoutMs, 'the close');
    return this.#take(this.#buffer.length);
  }

  /** Stops reading (before a TLS upgrade); returns the bytes not yet taken. */
  detach(): Buffer {
    this.stream.off('data', this.#onData);
    this.stream.off('end', this.#onEnd);
    this.stream.off('close', this.#onEnd);
    this.stream.off('error', this.#onError);
    return this.#take(this.#buffer.length);
  }

  #take(n: number): Buffer {
    const out = this.#buffer.subarray(0, n);
    this.#buffer = this.#buffer.subarray(n);
    return out;
  }

  #until(ready: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        let ok: boolean;
        try {
          ok = ready();
        } catch (error) {
          done();
          reject(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        if (ok) {
          done();
          resolve();
        } else if (this.#ended) {
          done();
          reject(
            new Error(
              `connection closed while waiting for ${what}; unread: ${this.#buffer.toString('latin1')}` +
                (this.#error === undefined ? '' : ` (${this.#error.message})`),
            ),
          );
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; unread: ${this.#buffer.toString('latin1')}`,
          ),
        );
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.#wake = undefined;
      };
      this.#wake = check;
      check();
    });
  }
}

export interface ConnectOptions {
  readonly host?: string;
  /** A loopback source address other than 127.0.0.1 (Linux routes all of 127/8). */
  readonly localAddress?: string;
}

/** A plain TCP connection, connected, with Nagle off so each write leaves on its own. */
export async function connectRaw(port: number, options: ConnectOptions = {}): Promise<Wire> {
  const socket = net.connect({
    host: options.host ?? '127.0.0.1',
    port,
    noDelay: true,
    ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
  });
  const wire = new Wire(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return wire;
}

export interface TlsOptions {
  /** PEM of the CA that signed the gateway's certificate. */
  readonly ca: string;
  readonly alpn?: readonly string[] | undefined;
}

/** Client-side TLS over an existing connection (after 'S'), verify-full against localhost. */
export async function upgrade(wire: Wire, options: TlsOptions): Promise<Wire> {
  const early = wire.detach();
  if (early.length > 0) throw new Error(`server sent ${early.length} bytes before the handshake`);
  const secure = tls.connect({
    socket: wire.stream,
    ca: options.ca,
    servername: 'localhost',
    ...(options.alpn === undefined ? {} : { ALPNProtocols: [...options.alpn] }),
  });
  const upgraded = new Wire(secure);
  await new Promise<void>((resolve, reject) => {
    secure.once('secureConnect', resolve);
    secure.once('error', reject);
  });
  return upgraded;
}

/** SSLRequest, expect exactly 'S', then TLS. ALPN `postgresql`, as libpq 17+ sends it. */
export async function connectTls(
  port: number,
  options: TlsOptions & ConnectOptions,
): Promise<Wire> {
  const wire = await connectRaw(port, options);
  wire.write(SSL_REQUEST);
  const answer = await wire.bytes(1);
  if (answer.toString('latin1') !== 'S')
    throw new Error(`SSLRequest answered ${answer.toString('hex')}`);
  return upgrade(wire, { alpn: ['postgresql'], ...options });
}

/** PostgreSQL 17 direct TLS: the handshake straight after connect. */
export async function connectDirectTls(
  port: number,
  options: TlsOptions & ConnectOptions,
): Promise<Wire> {
  const socket = tls.connect({
    host: options.host ?? '127.0.0.1',
    port,
    ca: options.ca,
    servername: 'localhost',
    ...(options.alpn === undefined ? {} : { ALPNProtocols: [...options.alpn] }),
    ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
  });
  const wire = new Wire(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  return wire;
}

export interface LoginOptions extends ConnectOptions {
  readonly ca: string;
  readonly token: string;
  readonly user?: string;
  readonly database?: string;
  readonly parameters?: ReadonlyArray<readonly [string, string]>;
  readonly version?: number;
  readonly via?: 'ssl-request' | 'direct';
}

export interface Session {
  readonly wire: Wire;
  /** Everything before the password was sent (NegotiateProtocolVersion, the auth request). */
  readonly beforePassword: readonly Message[];
  /** AuthenticationOk … ReadyForQuery. */
  readonly greeting: readonly Message[];
  readonly key: { processId: number; secret: Buffer };
}

/** A whole login through the gateway; throws with the server's fields on an ErrorResponse. */
export async function login(port: number, options: LoginOptions): Promise<Session> {
  const tlsOptions = { ...options, alpn: ['postgresql'] };
  const wire =
    options.via === 'direct'
      ? await connectDirectTls(port, tlsOptions)
      : await connectTls(port, tlsOptions);
  return loginOn(wire, options);
}

/** The StartupMessage and the token on an already negotiated connection. */
export async function loginOn(
  wire: Wire,
  options: Omit<LoginOptions, 'ca' | 'via' | keyof ConnectOptions>,
): Promise<Session> {
  wire.write(
    startupPacket(
      [
        ['user', options.user ?? 'analyst'],
        ['database', options.database ?? 'warehouse'],
        ...(options.parameters ?? []),
      ],
      options.version,
    ),
  );
  const beforePassword = await wire.messagesUntil('R');
  failOnError(beforePassword);
  wire.write(passwordPacket(options.token));
  const greeting = await wire.messagesUntil('Z', 15_000);
  failOnError(greeting);
  return { wire, beforePassword, greeting, key: backendKey(greeting) };
}

function failOnError(messages: readonly Message[]): void {
  const last = messages.at(-1);
  if (last?.type === 'E') {
    const fields = errorFields(last.body);
    throw new Error(`login failed: ${fields.get('C')} ${fields.get('M')}`);
  }
}

export interface QueryResult {
  readonly messages: readonly Message[];
  readonly rows: ReadonlyArray<ReadonlyArray<string | null>>;
  readonly error: Map<string, string> | undefined;
}

/** Simple query: everything up to ReadyForQuery, DataRows decoded as text. */
export async function query(wire: Wire, sql: string, timeoutMs = 15_000): Promise<QueryResult> {
  wire.write(queryPacket(sql));
  const messages: Message[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const message = await wire.message(Math.max(1, deadline - Date.now()));
    messages.push(message);
    if (message.type === 'Z') break;
  }
  const rows = messages
    .filter((m) => m.type === 'D')
    .map((m) => {
      const values: Array<string | null> = [];
      let offset = 2;
      for (let i = 0; i < m.body.readInt16BE(0); i++) {
        const length = m.body.readInt32BE(offset);
        offset += 4;
        values.push(length < 0 ? null : m.body.toString('utf8', offset, offset + length));
        offset += Math.max(length, 0);
      }
      return values;
    });
  const error = messages.find((m) => m.type === 'E');
  return { messages, rows, error: error === undefined ? undefined : errorFields(error.body) };
}

/**
 * The next message must be a FATAL ErrorResponse with this SQLSTATE, and the connection must
 * close after it with nothing more. Returns the fields for further checks.
 */
export async function expectFatal(
  wire: Wire,
  sqlstate: string,
  message: string | RegExp,
): Promise<Map<string, string>> {
  const received = await wire.message();
  if (received.type !== 'E') {
    throw new Error(
      `expected ErrorResponse, got '${received.type}' ${received.body.toString('latin1')}`,
    );
  }
  const fields = errorFields(received.body);
  const text = fields.get('M') ?? '';
  const matches = typeof message === 'string' ? text === message : message.test(text);
  if (
    fields.get('S') !== 'FATAL' ||
    fields.get('V') !== 'FATAL' ||
    fields.get('C') !== sqlstate ||
    !matches
  ) {
    throw new Error(
      `expected FATAL ${sqlstate} ${String(message)}, got ${JSON.stringify(Object.fromEntries(fields))}`,
    );
  }
  const rest = await wire.closed();
  if (rest.length > 0) throw new Error(`bytes after the FATAL: ${rest.toString('hex')}`);
  return fields;
}

/** Resolves after `ms` (only for pacing a client, never to wait for a result). */
export const pause = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` until true; fails after `timeoutMs` with `what`. */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = DEFAULT_WAIT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await pause(20);
  }
}
