import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { AuditChain } from '../../src/audit/chain.ts';
import { StdoutSink } from '../../src/audit/stdout-sink.ts';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';

const chain = new AuditChain('stdoutchain00001');
const record = (n: number) =>
  chain.append({
    type: 'auth.failure',
    time: '2026-01-01T00:00:00.000Z',
    id: `id-${n}`,
    client: { address: '192.0.2.1', port: 1 },
    reason: 'token_invalid',
  });

describe('StdoutSink', () => {
  it('writes each record as one line and resolves once the stream took it', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    const sink = new StdoutSink(out);
    const [a, b] = [record(1), record(2)];
    await sink.write(a);
    await sink.write(b);
    assert.equal(text, `${a.line}\n${b.line}\n`);
    await sink.close();
    assert.equal(out.writableEnded, false, 'stdout is not the sink’s to end');
    await assert.rejects(sink.write(record(3)), (e) => isPgkeyError(e, 'ERR_AUDIT_UNAVAILABLE'));
  });

  it('fails for good when the stream fails (a closed pipe), without crashing the process', async () => {
    const broken = new Writable({
      write(_chunk, _encoding, done) {
        done(Object.assign(new Error('EPIPE'), { code: 'EPIPE' }));
      },
    });
    const sink = new StdoutSink(broken);
    await assert.rejects(sink.write(record(4)), (e) => isPgkeyError(e, 'ERR_AUDIT_UNAVAILABLE'));
    await assert.rejects(sink.write(record(5)), (e) => isPgkeyError(e, 'ERR_AUDIT_UNAVAILABLE'));
    await assert.rejects(sink.recover(), (e) => isPgkeyError(e, 'ERR_AUDIT_UNAVAILABLE'));
  });
});
