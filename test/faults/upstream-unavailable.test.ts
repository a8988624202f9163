/**
 * reliability.md §7 F32: an upstream that cannot be trusted or reached. A certificate from
 * the wrong CA or for the wrong host name fails closed with 08001 before any StartupMessage;
 * a missing upstream CA key stops the gateway at start with ERR_CONFIG naming the file; a
 * closed port and a blackholed server both fail within upstream.connect_timeout, with
 * exactly one connection per client attempt (no retry storm).
 */
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Config } from '../../src/config/schema.ts';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';
import { startGateway } from '../../src/gateway/gateway.ts';
import { silentLogger } from '../../src/runtime/logger.ts';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';
import { createTestCa } from '../support/test-pki.ts';
import { FakeUpstream, type FakeConnection } from './fake-upstream.ts';
import {
  SSL_REQUEST,
  connectTls,
  errorFields,
  login,
  passwordPacket,
  query,
  startupPacket,
} from './wire.ts';

const CONNECT_TIMEOUT_MS = 2000;

describe('an upstream that cannot be trusted or reached (F32)', () => {
  let h: GatewayHarness;
  let fake: FakeUpstream;
  let ca: string;
  let rogue: { certPem: string; keyPem: string };
  let wrongName: { certPem: string; keyPem: string };
  const dir = mkdtempSync(join(tmpdir(), 'pgkey-faults-'));

  before(async () => {
    fake = await FakeUpstream.start();
    const fakeCa = await createTestCa('fake upstream CA');
    wrongName = await fakeCa.issueServer({
      commonName: 'db.example.net',
      dnsNames: ['db.example.net'],
      ipAddresses: [],
    });
    rogue = await (await createTestCa('rogue CA')).issueServer();
    h = await startGatewayHarness({
      upstream: (pg) => fake.upstreamFor(pg, dir, fakeCa.certPem, { connect_timeout: '2s' }),
    });
    ca = readFileSync(h.clientCaFile, 'utf8');
  });
  after(async () => {
    await h?.close();
    await fake?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Startup + token on `port`; resolves with the ErrorResponse fields and the time it took. */
  async function failingLogin(port: number): Promise<{ fields: Map<string, string>; ms: number }> {
    const wire = await connectTls(port, { ca });
    wire.write(
      startupPacket([
        ['user', 'analyst'],
        ['database', 'warehouse'],
      ]),
    );
    assert.equal((await wire.message()).type, 'R');
    const started = Date.now();
    wire.write(passwordPacket(await h.token(['analytics'])));
    const reply = await wire.message(CONNECT_TIMEOUT_MS + 5000);
    const ms = Date.now() - started;
    assert.equal(reply.type, 'E');
    await wire.closed();
    return { fields: errorFields(reply.body), ms };
  }

  /** 'S', then TLS with `identity`; resolves once the gateway gave up, with what it sent. */
  const presenting =
    (identity: { certPem: string; keyPem: string }) =>
    async (c: FakeConnection): Promise<{ handshake: string; startupSeen: boolean }> => {
      assert.deepEqual(await c.wire.packet(), SSL_REQUEST);
      c.wire.write(Buffer.from('S'));
      try {
        const secure = await c.startTls(identity);
        const rest = await secure.closed(10_000);
        return { handshake: 'completed', startupSeen: rest.length > 0 };
      } catch (error) {
        return { handshake: `failed: ${(error as Error).message}`, startupSeen: false };
      }
    };

  it('the path through the fake works for a trusted certificate (the control case)', async () => {
    const session = await login(h.gateway.port, { ca, token: await h.token(['analytics']) });
    assert.deepEqual((await query(session.wire, 'SELECT current_user')).rows, [['analyst']]);
    session.wire.destroy();
  });

  for (const [what, identity] of [
    ['signed by a CA pgkey does not trust', () => rogue],
    ['for another host name', () => wrongName],
  ] as const) {
    it(`a server certificate ${what} → 08001, no StartupMessage sent`, async () => {
      const seen = fake.next(presenting(identity()));
      const { fields } = await failingLogin(h.gateway.port);
      assert.equal(fields.get('C'), '08001');
      assert.equal(fields.get('M'), "the database server's TLS certificate could not be verified");
      const { handshake, startupSeen } = await seen;
      assert.equal(startupSeen, false, `handshake ${handshake}, yet a StartupMessage arrived`);
    });
  }

  it('a blackholed server → 08001 within connect_timeout, one connection per attempt', async () => {
    const silent = async (c: FakeConnection): Promise<Buffer> =>
      c.wire.closed(CONNECT_TIMEOUT_MS + 5000);
    for (let attempt = 1; attempt <= 2; attempt++) {
      const acceptedBefore = fake.accepted;
      const seen = fake.next(silent);
      const { fields, ms } = await failingLogin(h.gateway.port);
      assert.equal(fields.get('C'), '08001');
      assert.equal(fields.get('M'), 'the database server did not answer in time');
      assert.ok(ms >= CONNECT_TIMEOUT_MS - 100, `gave up after ${ms} ms, before connect_timeout`);
      assert.ok(ms < CONNECT_TIMEOUT_MS + 1500, `gave up after ${ms} ms`);
      // The gateway closed its side: the fake sees EOF, and the SSLRequest was all it got.
      assert.deepEqual(await seen, SSL_REQUEST);
      assert.equal(fake.accepted, acceptedBefore + 1, `attempt ${attempt}: exactly one connection`);
    }
    // No retry arrives later either: one more half-second of quiet, then count again.
    const settled = fake.accepted;
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(fake.accepted, settled);
  });

  it('a closed port → 08001 well within connect_timeout', async () => {
    const closedPort = await freePort();
    const second = await startGateway({
      config: withChanges(h.config, {
        upstream: { ...h.config.upstream, port: closedPort },
        audit: { ...h.config.audit, file: join(dir, 'audit-closed-port.jsonl') },
      }),
      logger: silentLogger,
    });
    try {
      const { fields, ms } = await failingLogin(second.port);
      assert.equal(fields.get('C'), '08001');
      assert.equal(fields.get('M'), 'the database server is unavailable');
      assert.ok(ms < CONNECT_TIMEOUT_MS, `took ${ms} ms`);
    } finally {
      await second.close();
    }
  });

  describe('the upstream CA key unavailable at start → ERR_CONFIG naming the file', () => {
    const caFiles = (): NonNullable<Config['upstream']['ca']> => {
      const files = h.config.upstream.ca;
      assert.ok(files !== undefined, 'the harness runs with auth: cert');
      return files;
    };
    const startWithKey = (key: string): Promise<unknown> =>
      startGateway({
        config: withChanges(h.config, {
          upstream: { ...h.config.upstream, ca: { cert: caFiles().cert, key } },
          audit: { ...h.config.audit, file: join(dir, 'audit-bad-ca.jsonl') },
        }),
        logger: silentLogger,
      });
    const cases: Array<[string, () => string]> = [
      ['missing', () => join(dir, 'no-such-key.pem')],
      [
        'a directory',
        () => {
          const path = join(dir, 'key-is-a-directory');
          mkdirSync(path, { mode: 0o700 });
          return path;
        },
      ],
      [
        'readable by others',
        () => {
          const path = join(dir, 'open-key.pem');
          copyFileSync(caFiles().key, path);
          chmodSync(path, 0o644);
          return path;
        },
      ],
    ];
    for (const [what, make] of cases) {
      it(what, async () => {
        const path = make();
        await assert.rejects(startWithKey(path), (error: unknown) => {
          assert.ok(isPgkeyError(error, 'ERR_CONFIG'), `got ${String(error)}`);
          assert.ok(error.message.includes(path), error.message);
          assert.match(error.message, /^upstream\.ca: /);
          return true;
        });
      });
    }
  });
});

function withChanges(config: Config, changes: Partial<Config>): Config {
  return { ...config, ...changes };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
