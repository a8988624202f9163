import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as connectTcp } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { decodeBackendMessage, decodeSaslMechanisms } from '../../src/protocol/backend-decoder.ts';
import { AUTH } from '../../src/protocol/constants.ts';
import {
  saslInitialResponse,
  saslResponse,
  sslRequest,
  startupMessage,
  terminate,
} from '../../src/protocol/frontend-serializer.ts';
import { MessageReader } from '../../src/protocol/message-reader.ts';
import { ScramClient } from '../../src/upstream/scram-client.ts';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.ts';

/**
 * The SCRAM client against a real PostgreSQL 15 (hostssl … scram-sha-256): the RFC vectors
 * prove the arithmetic, this proves the dialect (gs2 headers, channel binding, SASLprep)
 * matches what the server computes.
 */
type Outcome =
  | { readonly ok: true; readonly mechanism: string }
  | { readonly ok: false; readonly sqlstate: string; readonly message: string };

async function login(
  cluster: PgCluster,
  role: string,
  password: string,
  mechanisms?: readonly string[],
): Promise<Outcome> {
  const tcp = connectTcp(cluster.port, cluster.host);
  await once(tcp, 'connect');
  tcp.write(sslRequest());
  const [answer] = (await once(tcp, 'data')) as [Buffer];
  assert.equal(answer.toString(), 'S');
  const socket: TLSSocket = connectTls({
    socket: tcp,
    ca: cluster.serverCaPem,
    servername: 'localhost',
  });
  await once(socket, 'secureConnect');
  const frames = new MessageReader({ typed: true, maxBodyLength: () => 65_536 });
  const chunks = socket[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const next = async () => {
    for (;;) {
      const frame = frames.next();
      if (frame !== undefined) return decodeBackendMessage(frame);
      const chunk = await chunks.next();
      if (chunk.done === true) throw new Error('server closed the connection');
      frames.push(chunk.value);
    }
  };
  let scram: ScramClient | undefined;
  try {
    socket.write(
      startupMessage([
        ['user', role],
        ['database', 'postgres'],
      ]),
    );
    for (;;) {
      const message = await next();
      if (message.name === 'errorResponse') {
        return {
          ok: false,
          sqlstate: message.fields.get('C') ?? '',
          message: message.fields.get('M') ?? '',
        };
      }
      assert.equal(message.name, 'authentication');
      if (message.subtype === AUTH.SASL) {
        scram = new ScramClient({
          password,
          mechanisms: mechanisms ?? decodeSaslMechanisms(message.data),
          serverCertificateDer: socket.getPeerCertificate().raw,
        });
        socket.write(saslInitialResponse(scram.mechanism, scram.initialResponse()));
      } else if (message.subtype === AUTH.SASLContinue && scram !== undefined) {
        socket.write(saslResponse(await scram.continue(message.data)));
      } else if (message.subtype === AUTH.SASLFinal && scram !== undefined) {
        scram.final(message.data);
      } else if (message.subtype === AUTH.Ok && scram !== undefined) {
        assert.equal(scram.completed, true, 'AuthenticationOk before the server proved itself');
        return { ok: true, mechanism: scram.mechanism };
      } else {
        assert.fail(`unexpected authentication subtype ${message.subtype}`);
      }
    }
  } finally {
    if (socket.writable) socket.end(terminate());
    socket.destroy();
  }
}

const ROLES: ReadonlyArray<readonly [string, string, string]> = [
  ['ascii', 'scram_ascii', 'correct horse battery staple'],
  [
    'SASLprep-mapped (soft hyphen, roman numeral, NBSP)',
    'scram_mapped',
    'I\u00adX\u2168\u00a0p\u00e4ss',
  ],
  ['SASLprep-invalid, used raw (bidi rule)', 'scram_raw', '\u0627\u0031'],
];

describe('ScramClient against PostgreSQL 15', () => {
  let cluster: PgCluster;
  before(async () => {
    cluster = await startPgCluster({ auth: 'scram' });
    for (const [, role, password] of ROLES) {
      // The server prepares the plaintext with its own pg_saslprep to build the verifier.
      await cluster.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password.replaceAll("'", "''")}'`);
    }
  });
  after(async () => {
    await cluster.stop();
  });

  for (const [name, role, password] of ROLES) {
    it(`logs in with SCRAM-SHA-256-PLUS, ${name} password`, async () => {
      assert.deepEqual(await login(cluster, role, password), {
        ok: true,
        mechanism: 'SCRAM-SHA-256-PLUS',
      });
    });
  }

  it('logs in again with cached keys', async () => {
    const [, role, password] = ROLES[0] ?? ['', '', ''];
    assert.equal((await login(cluster, role, password)).ok, true);
  });

  it('is refused with a wrong password', async () => {
    const outcome = await login(cluster, 'scram_ascii', 'wrong');
    assert.ok(!outcome.ok);
    assert.equal(outcome.sqlstate, '28P01'); // invalid_password
  });

  it('is refused when it claims y,, although -PLUS was offered (downgrade detection)', async () => {
    const outcome = await login(cluster, 'scram_ascii', 'correct horse battery staple', [
      'SCRAM-SHA-256',
    ]);
    assert.ok(!outcome.ok);
    assert.equal(outcome.sqlstate, '28000', outcome.message); // channel binding negotiation error
  });
});
