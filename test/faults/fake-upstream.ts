/**
 * A stand-in for PostgreSQL that misbehaves on demand (reliability.md §7 F30–F32). Each
 * accepted connection takes the next queued behaviour; with none queued it is piped to the
 * real PostgreSQL byte for byte (TLS end to end), so one gateway can hold normal sessions
 * and meet a hostile server at the same time.
 */
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';
import type { ConfigInput } from '../../src/config/schema.ts';
import type { PgCluster } from '../support/pg-cluster.ts';
import { bytes, typedMessage } from '../support/bytes.ts';
import { Wire } from './wire.ts';

export interface FakeConnection {
  /** The raw TCP side, plaintext. */
  readonly wire: Wire;
  /** Server-side TLS on this connection with the given certificate; rejects if the peer aborts. */
  startTls(identity: { readonly certPem: string; readonly keyPem: string }): Promise<Wire>;
}

export type Behaviour<T> = (connection: FakeConnection) => Promise<T>;

export class FakeUpstream {
  readonly port: number;
  /** TCP connections accepted, in any mode. */
  accepted = 0;
  /** Where connections with no queued behaviour are piped (the real PostgreSQL). */
  passthroughPort: number | undefined;
  readonly #server: net.Server;
  readonly #queue: Array<(connection: FakeConnection) => void> = [];
  readonly #sockets = new Set<net.Socket>();

  private constructor(server: net.Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  static async start(): Promise<FakeUpstream> {
    const server = net.createServer({ noDelay: true });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const fake = new FakeUpstream(server, (server.address() as net.AddressInfo).port);
    server.on('connection', (socket) => fake.#accept(socket));
    return fake;
  }

  /**
   * The next accepted connection runs `behaviour`; resolves with its result (what the fake
   * saw), or rejects with its error.
   */
  next<T>(behaviour: Behaviour<T>): Promise<T> {
    return new Promise((resolve, reject) => {
      this.#queue.push((connection) => {
        behaviour(connection).then(resolve, reject);
      });
    });
  }

  /** Harness `upstream` overrides: this server, trusted through `ca` (a PEM bundle). */
  upstreamFor(
    pg: PgCluster,
    dir: string,
    extraCaPem: string,
    overrides: Partial<ConfigInput['upstream']> = {},
  ): Partial<ConfigInput['upstream']> {
    this.passthroughPort = pg.port;
    const bundle = join(dir, `upstream-trust-${this.port}.pem`);
    writeFileSync(bundle, `${pg.serverCaPem.trim()}\n${extraCaPem.trim()}\n`);
    return {
      host: '127.0.0.1',
      port: this.port,
      tls: { ca: bundle, servername: 'localhost' },
      ...overrides,
    };
  }

  close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #accept(socket: net.Socket): void {
    this.accepted++;
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => undefined);
    const run = this.#queue.shift();
    if (run !== undefined) {
      const wire = new Wire(socket);
      run({ wire, startTls: (identity) => serverTls(wire, identity) });
      return;
    }
    if (this.passthroughPort === undefined) {
      socket.destroy();
      return;
    }
    const pg = net.connect({ host: '127.0.0.1', port: this.passthroughPort, noDelay: true });
    this.#sockets.add(pg);
    pg.on('close', () => this.#sockets.delete(pg));
    pg.on('error', () => socket.destroy());
    socket.on('close', () => pg.destroy());
    pg.on('close', () => socket.destroy());
    socket.pipe(pg);
    pg.pipe(socket);
  }
}

async function serverTls(
  wire: Wire,
  identity: { readonly certPem: string; readonly keyPem: string },
): Promise<Wire> {
  const early = wire.detach();
  if (early.length > 0) throw new Error(`client sent ${early.length} bytes before the handshake`);
  const secure = new tls.TLSSocket(wire.stream, {
    isServer: true,
    cert: identity.certPem,
    key: identity.keyPem,
    ALPNProtocols: ['postgresql'],
  });
  const upgraded = new Wire(secure);
  await new Promise<void>((resolve, reject) => {
    secure.once('secure', resolve);
    secure.once('error', reject);
    secure.once('close', () => reject(new Error('closed during the TLS handshake')));
  });
  return upgraded;
}

/** AuthenticationXXX ('R') with a subtype and data. */
export function authentication(subtype: number, data: Buffer = Buffer.alloc(0)): Buffer {
  return typedMessage('R', bytes().int32(subtype).raw(data).build());
}

/** ErrorResponse ('E') with exactly the given fields. */
export function errorResponse(fields: ReadonlyArray<readonly [string, string]>): Buffer {
  const body = bytes();
  for (const [code, value] of fields) body.byte(code).cstring(value);
  return typedMessage('E', body.byte(0).build());
}

/** The client-first-message of a SASLInitialResponse ('p'): mechanism, Int32 length, data. */
export function saslInitial(body: Buffer): { mechanism: string; clientFirst: string } {
  const end = body.indexOf(0);
  const length = body.readInt32BE(end + 1);
  return {
    mechanism: body.toString('latin1', 0, end),
    clientFirst: body.toString('latin1', end + 5, end + 5 + length),
  };
}
