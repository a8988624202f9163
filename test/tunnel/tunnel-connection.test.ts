// One local connection through the tunnel, with the gateway played by the test: what the
// tunnel asks the gateway for, the greeting the client gets (the gateway's own cancel key),
// refusals passed on byte for byte, the tunnel's own FATALs, cancel forwarding, shutdown.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { duplexPair, type Duplex } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import { describe, it } from 'node:test';
import type { Profile } from '../../src/client/profiles.ts';
import { loginRequired } from '../../src/client/session-tokens.ts';
import type { PgkeyError } from '../../src/errors/pgkey-error.ts';
import { decodeFields } from '../../src/protocol/backend-decoder.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import type { UpstreamConnection } from '../../src/upstream/connector.ts';
import {
  GatewayRefusal,
  type GatewayDialer,
  type GatewayLogin,
} from '../../src/tunnel/gateway-dialer.ts';
import { TunnelConnection } from '../../src/tunnel/tunnel-connection.ts';
import type { TunnelEvent } from '../../src/tunnel/tunnel-events.ts';
import { bytes, hex } from '../support/bytes.ts';

const PROFILE = { name: 'work', gateway: { host: 'db.example.com', port: 6432 } } as Profile;

function startupMessage(version: number, parameters: Record<string, string>): Buffer {
  const body = bytes().int32(version);
  for (const [name, value] of Object.entries(parameters)) body.cstring(name).cstring(value);
  const packet = body.byte(0).build();
  return Buffer.concat([
    bytes()
      .int32(packet.length + 4)
      .build(),
    packet,
  ]);
}

interface Run {
  readonly client: Duplex;
  /** Everything the tunnel wrote to the client. */
  readonly received: () => Buffer;
  readonly logins: GatewayLogin[];
  readonly cancels: Array<[number, Buffer]>;
  readonly events: TunnelEvent[];
  /** The gateway's end of the relayed connection, once logged in. */
  readonly gateway: () => Duplex | undefined;
  readonly connection: TunnelConnection;
  readonly done: Promise<void>;
}

function tunnelConnection(
  options: {
    profile?: Profile;
    login?: (request: GatewayLogin) => Promise<UpstreamConnection>;
    token?: () => Promise<string>;
  } = {},
): Run {
  const [tunnelSide, client] = duplexPair();
  const received: Buffer[] = [];
  client.on('data', (chunk: Buffer) => received.push(chunk));
  const logins: GatewayLogin[] = [];
  const cancels: Array<[number, Buffer]> = [];
  const events: TunnelEvent[] = [];
  let gatewaySide: Duplex | undefined;
  const dialer: GatewayDialer = {
    name: 'db.example.com:6432',
    async login(request) {
      logins.push(request);
      if (options.login !== undefined) return options.login(request);
      const [socket, remote] = duplexPair();
      gatewaySide = remote;
      return {
        socket: socket as unknown as UpstreamConnection['socket'],
        remote: { address: '192.0.2.1', port: 6432 },
        parameters: [
          ['server_version', '15.0'],
          ['client_encoding', 'UTF8'],
        ],
        processId: 7,
        secretKey: Buffer.from([9, 8, 7, 6]),
        transactionStatus: 0x49,
        leftover: Buffer.alloc(0),
      };
    },
    cancel(processId, secretKey) {
      cancels.push([processId, secretKey]);
      return Promise.resolve(true);
    },
  };
  const connection = new TunnelConnection(1, tunnelSide as unknown as Socket, {
    profile: options.profile ?? PROFILE,
    dialer,
    password: undefined,
    clock: systemClock,
    token: async () => ({
      token: (await options.token?.()) ?? 'the-token',
      expiresAt: Date.now() + 600_000,
      claims: {},
    }),
    emit: (event) => events.push(event),
  });
  return {
    client,
    received: () => Buffer.concat(received),
    logins,
    cancels,
    events,
    gateway: () => gatewaySide,
    connection,
    done: connection.run(),
  };
}

/** The fields of the one ErrorResponse in `data`. */
function fatal(data: Buffer): ReadonlyMap<string, string> {
  assert.equal(data[0], 0x45, `expected 'E', got ${data.toString('hex')}`);
  return decodeFields(data.subarray(5, 1 + data.readUInt32BE(1)));
}

const GREETING = hex(`
  52 00000008 00000000
  53 00000018 7365727665725f76657273696f6e00 31352e3000
  53 00000019 636c69656e745f656e636f64696e6700 5554463800
  4b 0000000c 00000007 09080706
  5a 00000005 49`);

describe('TunnelConnection', () => {
  it('logs in at the gateway with the token and the client’s settings, greets with the gateway’s key', async () => {
    const t = tunnelConnection();
    t.client.write(
      startupMessage(196608, {
        user: 'analyst',
        database: 'warehouse',
        application_name: 'DBeaver',
      }),
    );
    await tick();
    await tick();
    assert.deepEqual(t.logins, [
      {
        user: 'analyst',
        database: 'warehouse',
        parameters: [['application_name', 'DBeaver']],
        protocolMinor: 0,
        token: 'the-token',
      },
    ]);
    assert.deepEqual(t.received(), GREETING);
    assert.deepEqual(t.events[0], {
      kind: 'connected',
      id: 1,
      user: 'analyst',
      database: 'warehouse',
      application: 'DBeaver',
    });
    // Relaying: the client's Query reaches the gateway as sent.
    const upstream: Buffer[] = [];
    t.gateway()!.on('data', (chunk: Buffer) => upstream.push(chunk));
    const query = bytes().byte('Q').int32(13).cstring('SELECT 1').build();
    t.client.write(query);
    await tick();
    assert.deepEqual(Buffer.concat(upstream), query);
    t.client.end();
    t.gateway()!.end();
    await t.done;
    assert.equal(t.events.at(-1)?.kind, 'closed');
  });

  it('answers 3.3 and _pq_ options with NegotiateProtocolVersion and asks the gateway for 3.2', async () => {
    const t = tunnelConnection();
    t.client.write(startupMessage((3 << 16) | 3, { user: 'analyst', '_pq_.frob': 'on' }));
    await tick();
    await tick();
    assert.equal(t.logins[0]?.protocolMinor, 2);
    assert.equal(t.logins[0]?.database, 'analyst', 'database defaults to the user');
    assert.deepEqual(t.logins[0]?.parameters, []);
    const npv = hex('76 00000016 00030002 00000001 5f70715f2e66726f6200');
    assert.deepEqual(t.received().subarray(0, npv.length), npv);
    assert.deepEqual(t.received().subarray(npv.length), GREETING);
  });

  it('uses the profile’s role and database when the client sends none', async () => {
    const t = tunnelConnection({ profile: { ...PROFILE, role: 'reporting', database: 'dw' } });
    t.client.write(startupMessage(196608, { application_name: 'x' }));
    await tick();
    await tick();
    assert.equal(t.logins[0]?.user, 'reporting');
    assert.equal(t.logins[0]?.database, 'dw');
  });

  it('without a user anywhere: FATAL 28000 saying where to set one', async () => {
    const t = tunnelConnection();
    t.client.write(startupMessage(196608, { database: 'warehouse' }));
    await t.done;
    const fields = fatal(t.received());
    assert.equal(fields.get('C'), '28000');
    assert.equal(fields.get('M'), 'no PostgreSQL user name specified in startup packet');
    assert.match(fields.get('H') ?? '', /set role: in profile "work"/);
    assert.equal(t.logins.length, 0);
  });

  it('passes the gateway’s refusal on byte for byte', async () => {
    const body = bytes()
      .byte('S')
      .cstring('FATAL')
      .byte('V')
      .cstring('FATAL')
      .byte('C')
      .cstring('28000')
      .byte('M')
      .cstring('access denied: …')
      .byte('H')
      .cstring('rule "x" grants …')
      .byte(0)
      .build();
    const t = tunnelConnection({
      login: () => Promise.reject(new GatewayRefusal(decodeFields(body), body)),
    });
    t.client.write(startupMessage(196608, { user: 'analyst', database: 'postgres' }));
    await t.done;
    assert.deepEqual(
      t.received(),
      Buffer.concat([
        bytes()
          .byte('E')
          .int32(body.length + 4)
          .build(),
        body,
      ]),
    );
    const refused = t.events[0] as Extract<TunnelEvent, { kind: 'refused' }>;
    assert.equal(refused.by, 'gateway');
    assert.equal(refused.error.sqlstate, '28000');
    assert.equal(refused.error.hint, 'rule "x" grants …');
  });

  it('a login that has ended: FATAL 28000 with the pgkey login to run, no gateway call', async () => {
    const t = tunnelConnection({
      token: () => Promise.reject(loginRequired({ name: 'work' }, 'the token has expired')),
    });
    t.client.write(startupMessage(196608, { user: 'analyst' }));
    await t.done;
    const fields = fatal(t.received());
    assert.equal(fields.get('C'), '28000');
    assert.equal(fields.get('M'), 'profile "work": the token has expired');
    assert.equal(fields.get('H'), 'pgkey login --profile work');
    assert.equal(t.logins.length, 0);
    assert.equal((t.events[0] as { error: PgkeyError }).error.code, 'ERR_LOGIN_REQUIRED');
  });

  it('forwards a CancelRequest with the gateway’s key and closes without a reply', async () => {
    const t = tunnelConnection();
    t.client.write(bytes().int32(16).int32(80877102).int32(7).raw([9, 8, 7, 6]).build());
    await t.done;
    assert.deepEqual(t.cancels, [[7, Buffer.from([9, 8, 7, 6])]]);
    assert.equal(t.received().length, 0);
    assert.deepEqual(t.events, [{ kind: 'cancel', id: 1, forwarded: true }]);
  });

  it('terminate() ends a relayed session with the FATAL after the current message', async () => {
    const t = tunnelConnection();
    t.client.write(startupMessage(196608, { user: 'analyst' }));
    await tick();
    await tick();
    t.gateway()!.resume();
    t.connection.terminate({ severity: 'FATAL', code: '57P01', message: 'stopping' });
    await tick();
    const fields = fatal(t.received().subarray(GREETING.length));
    assert.equal(fields.get('C'), '57P01');
    assert.equal(fields.get('M'), 'stopping');
  });
});
