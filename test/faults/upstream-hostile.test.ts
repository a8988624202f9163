/**
 * reliability.md §7 F30 and F31: the upstream is untrusted input. A server that answers the
 * SSLRequest wrongly never gets a plaintext StartupMessage; a server that misbehaves after
 * TLS (missing SQLSTATE, a 1 GB header, a SCRAM iteration count of 1e9, a 10 KB nonce) fails
 * only the session that met it, with a clean error, while a session through the same gateway
 * keeps working. SCRAM upstream auth, so the SASL exchange is reachable.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bytes, typedMessage } from '../support/bytes.ts';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';
import { createTestCa } from '../support/test-pki.ts';
import {
  authentication,
  errorResponse,
  FakeUpstream,
  saslInitial,
  type FakeConnection,
} from './fake-upstream.ts';
import {
  SSL_REQUEST,
  connectTls,
  errorFields,
  login,
  passwordPacket,
  query,
  startupPacket,
  type Session,
  type Wire,
} from './wire.ts';

const SASL = 10;
const SASL_CONTINUE = 11;
const OK = 0;

interface ClientOutcome {
  readonly fields: Map<string, string>;
  readonly ms: number;
}

describe('a hostile upstream (F30, F31)', () => {
  let h: GatewayHarness;
  let fake: FakeUpstream;
  let ca: string;
  let server: { certPem: string; keyPem: string };
  let normal: Session;
  const dir = mkdtempSync(join(tmpdir(), 'pgkey-faults-'));

  before(async () => {
    fake = await FakeUpstream.start();
    const fakeCa = await createTestCa('fake upstream CA');
    server = await fakeCa.issueServer();
    h = await startGatewayHarness({
      auth: 'scram',
      upstream: (pg) => fake.upstreamFor(pg, dir, fakeCa.certPem),
    });
    ca = readFileSync(h.clientCaFile, 'utf8');
    // A session through the same gateway, piped to the real PostgreSQL, held open throughout.
    normal = await login(h.gateway.port, { ca, token: await h.token(['analytics']) });
  });
  after(async () => {
    normal?.wire.destroy();
    await h?.close();
    await fake?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A client login that must end in an ErrorResponse once the token is sent. */
  async function failingLogin(): Promise<ClientOutcome> {
    const wire = await connectTls(h.gateway.port, { ca });
    wire.write(
      startupPacket([
        ['user', 'analyst'],
        ['database', 'warehouse'],
      ]),
    );
    assert.equal((await wire.message()).type, 'R');
    const started = Date.now();
    wire.write(passwordPacket(await h.token(['analytics'])));
    const reply = await wire.message(15_000);
    const ms = Date.now() - started;
    assert.equal(reply.type, 'E', `expected an ErrorResponse, got '${reply.type}'`);
    const rest = await wire.closed();
    assert.equal(rest.length, 0);
    return { fields: errorFields(reply.body), ms };
  }

  /** The held session and the gateway are unharmed. */
  async function assertOthersUnaffected(): Promise<void> {
    assert.deepEqual((await query(normal.wire, 'SELECT current_user')).rows, [['analyst']]);
  }

  function assertClean(
    outcome: ClientOutcome,
    sqlstate: string,
    message: string,
    leaked?: RegExp,
  ): void {
    assert.equal(outcome.fields.get('S'), 'FATAL');
    assert.equal(
      outcome.fields.get('C'),
      sqlstate,
      JSON.stringify(Object.fromEntries(outcome.fields)),
    );
    assert.equal(outcome.fields.get('M'), message);
    if (leaked !== undefined) {
      for (const text of outcome.fields.values()) assert.doesNotMatch(text, leaked);
    }
  }

  describe('F30: the answer to SSLRequest', () => {
    /** Answers the SSLRequest with `reply`; resolves with every byte the gateway sent. */
    const answering = (reply: Buffer) => async (c: FakeConnection) => {
      const request = await c.wire.packet();
      c.wire.write(reply);
      const rest = await c.wire.closed(10_000);
      return Buffer.concat([request, rest]);
    };

    const injected = Buffer.concat([
      authentication(OK),
      typedMessage('Z', bytes().byte('I').build()),
    ]);
    const cases: Array<[string, Buffer, string, string]> = [
      [
        "'S' with bytes behind it in the same write",
        Buffer.concat([Buffer.from('S'), injected]),
        '08006',
        'the database server sent an invalid response to SSLRequest',
      ],
      ["'N'", Buffer.from('N'), '08001', 'the database server does not accept TLS connections'],
      [
        "'X'",
        Buffer.from('X'),
        '08006',
        'the database server sent an invalid response to SSLRequest',
      ],
      [
        'an ErrorResponse (a server that cannot do SSL at all)',
        errorResponse([
          ['S', 'FATAL'],
          ['C', '0A000'],
          ['M', 'unsupported frontend protocol 1234.5679'],
        ]),
        '08006',
        'the database server sent an invalid response to SSLRequest',
      ],
    ];
    for (const [what, reply, sqlstate, message] of cases) {
      it(`${what} → ${sqlstate}, and no StartupMessage in plaintext`, async () => {
        const seen = fake.next(answering(reply));
        const [outcome] = await Promise.all([failingLogin(), assertOthersUnaffected()]);
        assertClean(outcome, sqlstate, message, /1234\.5679/);
        assert.deepEqual(
          await seen,
          SSL_REQUEST,
          'the fake received the SSLRequest and nothing else',
        );
      });
    }

    it("'S' then bytes in a later write: the TLS handshake fails, never a plaintext startup", async () => {
      const seen = fake.next(async (c) => {
        const request = await c.wire.packet();
        c.wire.write(Buffer.from('S'));
        const hello = await c.wire.bytes(5);
        c.wire.write(injected);
        const rest = await c.wire.closed(10_000);
        return { request, received: Buffer.concat([hello, rest]) };
      });
      const outcome = await failingLogin();
      assertClean(outcome, '08001', "the database server's TLS certificate could not be verified");
      const { request, received } = await seen;
      assert.deepEqual(request, SSL_REQUEST);
      assert.equal(received[0], 0x16, 'what followed the S was a TLS handshake record');
      assert.equal(
        received.indexOf(Buffer.from('user\0analyst')),
        -1,
        'no plaintext StartupMessage',
      );
      await assertOthersUnaffected();
    });

    it('a close right after the SSLRequest → 08001', async () => {
      const seen = fake.next(async (c) => {
        const request = await c.wire.packet();
        c.wire.destroy();
        return request;
      });
      const outcome = await failingLogin();
      assertClean(outcome, '08001', 'the database server closed the connection during login');
      assert.deepEqual(await seen, SSL_REQUEST);
    });
  });

  describe('F31: misbehaviour after TLS', () => {
    /** 'S', TLS with the fake's trusted certificate, the StartupMessage read, then `then`. */
    function afterStartup<T>(then: (tls: Wire) => Promise<T>) {
      return fake.next(async (c) => {
        await c.wire.packet();
        c.wire.write(Buffer.from('S'));
        const secure = await c.startTls(server);
        const startup = await secure.packet();
        assert.ok(startup.includes(Buffer.from('user\0analyst\0')), 'the startup came over TLS');
        return then(secure);
      });
    }

    it('an ErrorResponse without any SQLSTATE → 08004, none of its text', async () => {
      const seen = afterStartup(async (secure) => {
        secure.write(
          errorResponse([
            ['S', 'FATAL'],
            ['M', 'internal detail /var/lib/postgresql/pg_hba.conf line 7'],
          ]),
        );
        return secure.closed(10_000);
      });
      const [outcome] = await Promise.all([failingLogin(), assertOthersUnaffected()]);
      assertClean(outcome, '08004', 'the database server refused the connection', /pg_hba|\/var\//);
      await seen;
    });

    it('a message header declaring 1 GB → 08006 at once, nothing buffered', async () => {
      const seen = afterStartup(async (secure) => {
        secure.write(
          Buffer.concat([bytes().byte('R').int32(0x4000_0000).build(), Buffer.alloc(64 * 1024)]),
        );
        return secure.closed(10_000);
      });
      const before = process.memoryUsage().rss;
      const [outcome] = await Promise.all([failingLogin(), assertOthersUnaffected()]);
      assertClean(outcome, '08006', 'the database server sent an invalid response');
      assert.ok(process.memoryUsage().rss - before < 256 * 1024 * 1024);
      await seen;
    });

    /** R10 SCRAM-SHA-256, read the client-first, answer with `serverFirst(clientNonce)`. */
    function scramWith(serverFirst: (clientNonce: string) => string) {
      return afterStartup(async (secure) => {
        secure.write(authentication(SASL, bytes().cstring('SCRAM-SHA-256').byte(0).build()));
        const initial = await secure.message();
        assert.equal(initial.type, 'p');
        const { mechanism, clientFirst } = saslInitial(initial.body);
        assert.equal(mechanism, 'SCRAM-SHA-256');
        const nonce = /,r=([^,]+)/.exec(clientFirst)?.[1] ?? '';
        secure.write(authentication(SASL_CONTINUE, Buffer.from(serverFirst(nonce))));
        // Nothing else may come: no client-final after a refused server-first.
        const rest = await secure.closed(10_000);
        return rest;
      });
    }

    it('SCRAM server-first with i=1000000000 → 08006 fast, no client-final', async () => {
      const salt = Buffer.alloc(16, 7).toString('base64');
      const seen = scramWith((nonce) => `r=${nonce}server,s=${salt},i=1000000000`);
      const [outcome] = await Promise.all([failingLogin(), assertOthersUnaffected()]);
      assertClean(outcome, '08006', 'the database server sent an invalid response');
      assert.ok(outcome.ms < 3000, `refused after ${outcome.ms} ms: the iterations were not run`);
      assert.equal((await seen).length, 0);
    });

    it('SCRAM server-first with a 10 KB nonce → 08006, no client-final', async () => {
      const salt = Buffer.alloc(16, 7).toString('base64');
      const seen = scramWith((nonce) => `r=${nonce}${'A'.repeat(10 * 1024)},s=${salt},i=4096`);
      const [outcome] = await Promise.all([failingLogin(), assertOthersUnaffected()]);
      assertClean(outcome, '08006', 'the database server sent an invalid response');
      assert.equal((await seen).length, 0);
    });

    it('AuthenticationOk in place of the SCRAM exchange’s proof → 08006', async () => {
      const seen = afterStartup(async (secure) => {
        secure.write(authentication(SASL, bytes().cstring('SCRAM-SHA-256').byte(0).build()));
        await secure.message();
        secure.write(authentication(OK));
        return secure.closed(10_000);
      });
      const outcome = await failingLogin();
      assertClean(outcome, '08006', 'the database server sent an invalid response');
      await seen;
    });

    it('a request for a cleartext password → refused, the password is never sent', async () => {
      const seen = afterStartup(async (secure) => {
        secure.write(authentication(3));
        return secure.closed(10_000);
      });
      const outcome = await failingLogin();
      assertClean(outcome, '08001', "the database server refused pgkey's credential");
      assert.equal((await seen).length, 0, 'no PasswordMessage reached the server');
    });

    it('the gateway keeps serving: a new login works after all of the above', async () => {
      const session = await login(h.gateway.port, { ca, token: await h.token(['analytics']) });
      assert.deepEqual((await query(session.wire, 'SELECT 1')).rows, [['1']]);
      session.wire.destroy();
      await assertOthersUnaffected();
    });
  });
});
