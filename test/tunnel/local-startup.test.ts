// The tunnel's side of a local client's startup phase, in bytes: 'N' to SSLRequest and
// GSSENCRequest (TLS starts at the tunnel, towards the gateway), the CancelRequest or the
// StartupMessage, every input also fed split at each byte boundary.
import assert from 'node:assert/strict';
import { duplexPair, type Duplex } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { readLocalStartup, type LocalStartup } from '../../src/tunnel/local-startup.ts';
import { bytes, describeSplit, splits, untypedPacket } from '../support/bytes.ts';

const SSL_REQUEST = untypedPacket(80877103);
const GSSENC_REQUEST = untypedPacket(80877104);
const STARTUP = bytes()
  .int32(8 + 'user\0analyst\0database\0warehouse\0\0'.length)
  .int32(196608)
  .cstring('user')
  .cstring('analyst')
  .cstring('database')
  .cstring('warehouse')
  .byte(0)
  .build();
const CANCEL = bytes().int32(16).int32(80877102).int32(4242).raw([1, 2, 3, 4]).build();

/** Feeds `chunks` from the client side; returns what the tunnel read and what it answered. */
async function feed(
  chunks: readonly Buffer[],
  end = false,
): Promise<{ startup: LocalStartup | undefined; answered: string }> {
  const [tunnelSide, client]: [Duplex, Duplex] = duplexPair();
  let answered = '';
  client.on('data', (chunk: Buffer) => (answered += chunk.toString('latin1')));
  const reading = readLocalStartup(tunnelSide);
  for (const chunk of chunks) {
    client.write(chunk);
    await tick();
  }
  if (end) client.end();
  const startup = await reading;
  await tick();
  return { startup, answered };
}

describe('readLocalStartup', () => {
  it('answers SSLRequest and GSSENCRequest with N, then returns the StartupMessage', async () => {
    const input = Buffer.concat([GSSENC_REQUEST, SSL_REQUEST, STARTUP]);
    for (const chunks of splits(input)) {
      const { startup, answered } = await feed(chunks);
      assert.equal(answered, 'NN', describeSplit(chunks));
      assert.equal(startup?.kind, 'startup');
      if (startup?.kind !== 'startup') return;
      assert.equal(startup.message.major, 3);
      assert.equal(startup.message.minor, 0);
      assert.deepEqual(
        [...startup.message.parameters],
        [
          ['user', 'analyst'],
          ['database', 'warehouse'],
        ],
      );
    }
  });

  it('returns a CancelRequest, after an SSLRequest too', async () => {
    for (const input of [CANCEL, Buffer.concat([SSL_REQUEST, CANCEL])]) {
      for (const chunks of splits(input)) {
        const { startup } = await feed(chunks);
        assert.deepEqual(startup, {
          kind: 'cancel',
          processId: 4242,
          secretKey: Buffer.from([1, 2, 3, 4]),
        });
      }
    }
  });

  it('keeps bytes pipelined behind the StartupMessage for the relay', async () => {
    const query = bytes().byte('Q').int32(13).cstring('SELECT 1').build();
    const { startup } = await feed([Buffer.concat([STARTUP, query])]);
    assert.equal(startup?.kind, 'startup');
    if (startup?.kind === 'startup') assert.deepEqual(startup.frames.detach(), query);
  });

  it('a client that leaves first is undefined, with no answer', async () => {
    assert.deepEqual(await feed([], true), { startup: undefined, answered: '' });
    assert.deepEqual(await feed([SSL_REQUEST], true), { startup: undefined, answered: 'N' });
  });

  it('a second SSLRequest is answered with a FATAL (PostgreSQL 004_negotiate.pl)', async () => {
    const { startup } = await feed([Buffer.concat([SSL_REQUEST, SSL_REQUEST])]);
    assert.equal(startup?.kind, 'invalid');
    if (startup?.kind !== 'invalid') return;
    assert.equal(startup.answer, true);
    assert.equal(startup.error.code, 'ERR_UNSUPPORTED_PROTOCOL');
  });

  it('a malformed StartupMessage gets a FATAL; garbage gets silence', async () => {
    const noTerminator = bytes()
      .int32(8 + 5)
      .int32(196608)
      .cstring('user')
      .build();
    const layout = await feed([noTerminator]);
    assert.equal(layout.startup?.kind === 'invalid' && layout.startup.answer, true);

    const huge = bytes().int32(20_000).int32(196608).build();
    const garbage = await feed([huge]);
    assert.equal(garbage.startup?.kind === 'invalid' && garbage.startup.answer, false);
  });
});
