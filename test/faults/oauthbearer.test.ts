/**
 * The SASL OAUTHBEARER door (`listen.oauth`, docs/decisions/0007) against the real gateway
 * and a real PostgreSQL, driven by a raw TLS client written to libpq 18's byte formats
 * (libpq18-oauth.ts): the discovery exchange and the retry with a bearer token byte for
 * byte, the initial response left out, refused tokens, every malformed-message refusal
 * auth-oauth.c makes, what reaches the audit trail, and the cleartext door on the main
 * listener working alongside.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';
import { bytes, typedMessage } from '../support/bytes.ts';
import {
  AUTHENTICATION_OK,
  EMPTY_CONTINUE,
  checkErrorResult,
  initialClientResponse,
  saslContinue,
  saslInitialResponse,
  saslResponse,
  startOAuth,
} from './libpq18-oauth.ts';
import { auditEvents, pgConnectionsSeen } from './observe.ts';
import {
  backendKey,
  connectRaw,
  errorFields,
  expectFatal,
  login,
  passwordPacket,
  query,
  startupPacket,
  types,
  type Wire,
} from './wire.ts';

const SCOPE = 'openid email groups';

/** The error result auth-oauth.c generate_error_response builds, typed out by hand. */
const ERROR_RESULT = Buffer.from(
  '{ "status": "invalid_token", "openid-configuration": ' +
    '"https://idp.test.pgkey/.well-known/openid-configuration", "scope": "openid email groups" }',
  'latin1',
);

describe('SASL OAUTHBEARER on its own listener, as PostgreSQL 18 speaks it', () => {
  let h: GatewayHarness;
  let ca: string;
  let port: number;
  before(async () => {
    h = await startGatewayHarness({ oauth: { scope: SCOPE } });
    ca = await readFile(h.clientCaFile, 'utf8');
    assert.ok(h.gateway.oauth !== undefined, 'the OAUTHBEARER listener is up');
    port = h.gateway.oauth.port;
    assert.notEqual(port, h.gateway.port);
  });
  after(async () => {
    await h?.close();
  });

  /** Records written so far. */
  const audit = () => auditEvents(h);
  /**
   * The login decisions among `events` (auth.success, auth.failure): session.end records of
   * earlier tests' sessions may land at any time and are not what these tests look at.
   */
  const decisions = (events: ReadonlyArray<Record<string, unknown>>) =>
    events.filter((e) => String(e.type).startsWith('auth.'));

  /** Everything up to ReadyForQuery after the token: no SASLFinal, straight to AuthenticationOk. */
  async function expectLoggedIn(wire: Wire): Promise<void> {
    assert.deepEqual(await wire.bytes(AUTHENTICATION_OK.length), AUTHENTICATION_OK);
    const rest = await wire.messagesUntil('Z', 15_000);
    assert.match(types(rest), /^S+KZ$/, `ParameterStatus…, BackendKeyData, ReadyForQuery`);
    const names = rest.filter((m) => m.type === 'S').map((m) => m.body.toString('latin1'));
    assert.ok(names.some((n) => n.startsWith('server_version\0')));
    assert.equal(backendKey(rest).secret.length, 4, 'protocol 3.0: a 4-byte cancel key');
    assert.deepEqual(rest.at(-1)?.body, Buffer.from('I'));
  }

  it('libpq 18: discovery, FATAL 28000, then the bearer token on a second connection', async () => {
    const before = await audit();

    // Connection 1: no token yet, so libpq asks for the parameters with an empty auth value.
    const first = await startOAuth(port, { ca });
    first.write(saslInitialResponse('OAUTHBEARER', initialClientResponse()));
    assert.deepEqual(await first.bytes(9 + ERROR_RESULT.length), saslContinue(ERROR_RESULT));
    const discovered = checkErrorResult(ERROR_RESULT, h.issuer.issuer);
    assert.equal(discovered.scope, SCOPE);
    // The RFC 7628 §3.2.3 dummy response ends the failed exchange.
    first.write(saslResponse([0x01]));
    const fatal = await expectFatal(
      first,
      '28000',
      'OAuth bearer authentication failed for user "analyst"',
    );
    assert.equal(fatal.get('D'), undefined, 'discovery is not a refused token');

    // The device flow happens here in libpq; the test issuer stands in for it.
    const token = await h.token(['analytics']);

    // Connection 2: "retrying connection with new bearer token".
    const second = await startOAuth(port, { ca });
    second.write(saslInitialResponse('OAUTHBEARER', initialClientResponse(token)));
    await expectLoggedIn(second);
    const result = await query(second, 'SELECT current_user');
    assert.deepEqual(result.rows, [['analyst']]);
    second.destroy();

    // Audit: the discovery left nothing; the bearer login is auth.success + session.start.
    const added = (await audit()).slice(before.length).filter((e) => e.type !== 'session.end');
    assert.deepEqual(
      added.map((e) => e.type),
      ['auth.success', 'session.start'],
    );
    assert.equal(added[0]!.role, 'analyst');
    assert.equal(added[0]!.issuer, 'test');
    assert.ok(!JSON.stringify(added).includes(token.split('.')[2]!), 'no token in the audit');
  });

  it('the initial response left out (length -1): an empty SASLContinue asks for it', async () => {
    const wire = await startOAuth(port, { ca });
    wire.write(saslInitialResponse('OAUTHBEARER', undefined));
    assert.deepEqual(await wire.bytes(EMPTY_CONTINUE.length), EMPTY_CONTINUE);
    wire.write(saslResponse(initialClientResponse(await h.token(['analytics']))));
    await expectLoggedIn(wire);
    assert.deepEqual((await query(wire, 'SELECT current_user')).rows, [['analyst']]);
    wire.destroy();
  });

  it('the initial response left out, then discovery in the SASLResponse', async () => {
    const wire = await startOAuth(port, { ca });
    wire.write(saslInitialResponse('OAUTHBEARER', undefined));
    assert.deepEqual(await wire.bytes(EMPTY_CONTINUE.length), EMPTY_CONTINUE);
    wire.write(saslResponse(initialClientResponse()));
    assert.deepEqual(await wire.bytes(9 + ERROR_RESULT.length), saslContinue(ERROR_RESULT));
    wire.write(saslResponse([0x01]));
    await expectFatal(wire, '28000', 'OAuth bearer authentication failed for user "analyst"');
  });

  it('an expired token: the same error result, 0x01, FATAL 28000, and an audited failure', async () => {
    const before = await audit();
    const expired = await h.issuer.humanToken(
      { groups: ['analytics'] },
      { now: Date.now() - 3600_000, ttlSeconds: 60 },
    );
    const wire = await startOAuth(port, { ca, user: 'reporting' });
    wire.write(saslInitialResponse('OAUTHBEARER', initialClientResponse(expired)));
    assert.deepEqual(await wire.bytes(9 + ERROR_RESULT.length), saslContinue(ERROR_RESULT));
    wire.write(saslResponse([0x01]));
    const fields = await expectFatal(
      wire,
      '28000',
      'OAuth bearer authentication failed for user "reporting"',
    );
    assert.match(fields.get('D') ?? '', /expired/, 'why, in pgkey’s words');
    const failures = (await audit()).slice(before.length).filter((e) => e.type === 'auth.failure');
    assert.deepEqual(
      failures.map((e) => [e.reason, e.user, e.database]),
      [['token_expired', 'reporting', 'warehouse']],
    );
  });

  it('a token that is no b64token is refused like a bad one, and never echoed', async () => {
    const before = await audit();
    const wire = await startOAuth(port, { ca });
    wire.write(saslInitialResponse('OAUTHBEARER', initialClientResponse('s3cr%t token')));
    assert.deepEqual(await wire.bytes(9 + ERROR_RESULT.length), saslContinue(ERROR_RESULT));
    wire.write(saslResponse([0x01]));
    const fields = await expectFatal(
      wire,
      '28000',
      'OAuth bearer authentication failed for user "analyst"',
    );
    assert.ok(![...fields.values()].some((v) => v.includes('s3cr')));
    const failures = (await audit()).slice(before.length).filter((e) => e.type === 'auth.failure');
    assert.deepEqual(
      failures.map((e) => e.reason),
      ['token_malformed'],
    );
  });

  it('a forged signature: refused after the exchange, audited', async () => {
    const forged = (await h.token(['analytics'])).replace(/\.[^.]+$/, `.${'A'.repeat(86)}`);
    const wire = await startOAuth(port, { ca });
    wire.write(saslInitialResponse('OAUTHBEARER', initialClientResponse(forged)));
    assert.deepEqual(await wire.bytes(9 + ERROR_RESULT.length), saslContinue(ERROR_RESULT));
    wire.write(saslResponse([0x01]));
    await expectFatal(wire, '28000', 'OAuth bearer authentication failed for user "analyst"');
  });

  it('a valid token that policy refuses: FATAL 28000 with the explanation, no error result', async () => {
    const wire = await startOAuth(port, { ca, user: 'app_owner' });
    wire.write(
      saslInitialResponse('OAUTHBEARER', initialClientResponse(await h.token(['analytics']))),
    );
    const fields = await expectFatal(wire, '28000', /app_owner/);
    assert.ok((fields.get('H') ?? '').length > 0, 'the denial carries its hint');
  });

  it('after the error result, anything but one 0x01 is a protocol violation', async () => {
    for (const [reply, detail] of [
      [[0x01, 0x01], 'Client did not send a kvsep response.'],
      [[], 'The message is empty.'],
      [[0x00], 'Message length does not match input length.'],
    ] as const) {
      const wire = await startOAuth(port, { ca });
      wire.write(saslInitialResponse('OAUTHBEARER', initialClientResponse()));
      await wire.bytes(9 + ERROR_RESULT.length);
      wire.write(saslResponse(reply));
      const fields = await expectFatal(wire, '08P01', 'malformed OAUTHBEARER message');
      assert.equal(fields.get('D'), detail);
    }
  });

  const malformed: ReadonlyArray<
    readonly [string, Buffer, string, string | RegExp, string | undefined]
  > = [
    [
      'channel binding (gs2 p=)',
      Buffer.from('p=tls-server-end-point,,\x01auth=Bearer abc\x01\x01', 'latin1'),
      '08P01',
      'malformed OAUTHBEARER message',
      'The server does not support channel binding for OAuth, but the client message includes channel binding data.',
    ],
    [
      'an authorization identity (a=)',
      Buffer.from('n,a=alice,\x01auth=Bearer abc\x01\x01', 'latin1'),
      '0A000',
      'client uses authorization identity, but it is not supported',
      undefined,
    ],
    [
      'trailing garbage',
      Buffer.from('n,,\x01auth=Bearer abc\x01\x01garbage', 'latin1'),
      '08P01',
      'malformed OAUTHBEARER message',
      'Message contains additional data after the final terminator.',
    ],
    [
      'an embedded NUL',
      Buffer.from('n,,\x01auth=\x00\x01\x01', 'latin1'),
      '08P01',
      'malformed OAUTHBEARER message',
      'Message length does not match input length.',
    ],
    [
      'an empty initial response',
      Buffer.alloc(0),
      '08P01',
      'malformed OAUTHBEARER message',
      'The message is empty.',
    ],
  ];
  for (const [what, icr, sqlstate, message, detail] of malformed) {
    it(`refuses ${what}: FATAL ${sqlstate}, no error result, nothing audited`, async () => {
      const before = await audit();
      const wire = await startOAuth(port, { ca });
      wire.write(saslInitialResponse('OAUTHBEARER', icr));
      const fields = await expectFatal(wire, sqlstate, message);
      assert.equal(fields.get('D'), detail);
      assert.deepEqual(decisions(await audit()), decisions(before));
    });
  }

  it('refuses another mechanism name', async () => {
    const wire = await startOAuth(port, { ca });
    wire.write(saslInitialResponse('SCRAM-SHA-256', Buffer.from('n,,n=,r=abc', 'latin1')));
    await expectFatal(wire, '08P01', 'client selected an invalid SASL authentication mechanism');
  });

  it('refuses a cleartext password sent to the OAUTHBEARER listener', async () => {
    const seen = await pgConnectionsSeen(h);
    const wire = await startOAuth(port, { ca });
    wire.write(passwordPacket(await h.token(['analytics'])));
    await expectFatal(wire, '08P01', 'malformed SASL initial response');
    assert.equal(await pgConnectionsSeen(h), seen, 'PostgreSQL was never asked');
  });

  it('refuses a message other than a SASL response', async () => {
    const wire = await startOAuth(port, { ca });
    wire.write(typedMessage('Q', bytes().cstring('SELECT 1').build()));
    await expectFatal(wire, '08P01', 'expected SASL response, got message type 81');
  });

  it('a client that hangs up at the SASL request leaves no trace (libpq without oauth_issuer)', async () => {
    const before = await audit();
    const wire = await startOAuth(port, { ca });
    wire.destroy();
    // The next login's durable write would carry any pending record with it.
    const check = await login(h.gateway.port, { ca, token: await h.token(['analytics']) });
    check.wire.destroy();
    const added = (await audit()).slice(before.length);
    assert.deepEqual(
      added.filter((e) => e.type !== 'session.end').map((e) => e.type),
      ['auth.success', 'session.start'],
    );
  });

  it('TLS is required on the OAUTHBEARER listener too, before the SASL request', async () => {
    const wire = await connectRaw(port);
    wire.write(
      startupPacket([
        ['user', 'analyst'],
        ['database', 'warehouse'],
      ]),
    );
    const received = await wire.message();
    assert.equal(received.type, 'E');
    assert.equal(errorFields(received.body).get('C'), '28000');
    await wire.closed();
  });

  it('the cleartext door on the main listener works at the same time (psql)', async () => {
    const token = await h.token(['analytics']);
    const open = await startOAuth(port, { ca });
    open.write(saslInitialResponse('OAUTHBEARER', initialClientResponse(token)));
    await expectLoggedIn(open);
    const psql = await h.psql(token, ['-At', '-c', 'SELECT current_user']);
    assert.equal(psql.code, 0, psql.stderr);
    assert.equal(psql.stdout, 'analyst\n');
    // The main listener still asks for a cleartext password (R 3), never for SASL.
    const raw = await login(h.gateway.port, { ca, token });
    assert.deepEqual(raw.beforePassword.at(-1)?.body, Buffer.from([0, 0, 0, 3]));
    raw.wire.destroy();
    assert.deepEqual((await query(open, 'SELECT 1')).rows, [['1']]);
    open.destroy();
  });
});
