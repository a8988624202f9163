import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { duplexPair } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';
import { FrameSource } from '../../src/gateway/frame-source.ts';
import { MessageReader } from '../../src/protocol/message-reader.ts';
import { askLocalPassword, loadLocalPassword } from '../../src/tunnel/local-password.ts';
import { bytes, hex } from '../support/bytes.ts';

describe('loadLocalPassword', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgkey-tunnel-pw-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a random password in a 0600 file, then reads the same one back', async () => {
    const file = join(dir, 'sub', 'tunnel-password');
    const created = await loadLocalPassword(file);
    assert.equal(created.created, true);
    assert.match(created.password, /^[A-Za-z0-9_-]{24}$/);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal(await readFile(file, 'utf8'), `${created.password}\n`);
    assert.deepEqual(await loadLocalPassword(file), { password: created.password, created: false });
  });

  it('takes the first line of a file the person wrote', async () => {
    const file = join(dir, 'mine');
    await writeFile(file, 'correct horse\nnotes\n', { mode: 0o600 });
    assert.equal((await loadLocalPassword(file)).password, 'correct horse');
  });

  it('refuses a file others can read, and an empty first line', async () => {
    const open = join(dir, 'open');
    await writeFile(open, 'pw\n');
    await chmod(open, 0o644);
    await assert.rejects(loadLocalPassword(open), (e: unknown) => isPgkeyError(e, 'ERR_FILE'));
    const empty = join(dir, 'empty');
    await writeFile(empty, '\nsecond\n', { mode: 0o600 });
    await assert.rejects(loadLocalPassword(empty), /first line must hold the password/);
  });
});

describe('askLocalPassword', () => {
  /** The tunnel asks; the test is the client and answers with `reply` (or hangs up). */
  async function ask(reply: Buffer | undefined) {
    const [tunnelSide, client] = duplexPair();
    const received: Buffer[] = [];
    client.on('data', (chunk: Buffer) => received.push(chunk));
    const frames = new FrameSource(
      tunnelSide,
      new MessageReader({ typed: false, maxBodyLength: () => 1024 }),
      4096,
    );
    const preamble = [hex('76 0000000c 00030002 00000000')]; // NegotiateProtocolVersion 3.2
    const outcome = askLocalPassword(tunnelSide, frames, 's3cret', 'analyst', preamble);
    await tick();
    if (reply === undefined) client.end();
    else client.write(reply);
    const result = await outcome.then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
    return { result, sent: Buffer.concat(received) };
  }
  const password = (text: string) =>
    bytes()
      .byte('p')
      .int32(text.length + 5)
      .cstring(text)
      .build();

  it('sends the preamble and AuthenticationCleartextPassword in one write, accepts the password', async () => {
    const { result, sent } = await ask(password('s3cret'));
    assert.deepEqual(result, { value: 'accepted' });
    assert.deepEqual(sent, hex('76 0000000c 00030002 00000000  52 00000008 00000003'));
  });

  it('refuses a wrong password with 28P01, as PostgreSQL words it', async () => {
    const { result } = await ask(password('s3cret!'));
    assert.ok('error' in result);
    assert.ok(isPgkeyError(result.error, 'ERR_PASSWORD_FAILED'));
    assert.equal(result.error.sqlstate, '28P01');
    assert.equal(result.error.message, 'password authentication failed for user "analyst"');
  });

  it('a hang-up is psql going to prompt for the password, not a failure', async () => {
    assert.deepEqual((await ask(undefined)).result, { value: 'hung-up' });
  });

  it('anything but a PasswordMessage is a protocol violation', async () => {
    const { result } = await ask(bytes().byte('Q').int32(13).cstring('SELECT 1').build());
    assert.ok('error' in result && isPgkeyError(result.error, 'ERR_PROTOCOL_VIOLATION'));
  });
});
