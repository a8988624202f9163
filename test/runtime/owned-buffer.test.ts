import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import tls from 'node:tls';
import { alpnProtocols, ownedCopy } from '../../src/runtime/owned-buffer.ts';

describe('ownedCopy', () => {
  it('copies into memory of its own, not a slice of the shared pool', () => {
    const source = Buffer.from('a pooled chunk with a secret key in it');
    const copy = ownedCopy(source.subarray(2, 8));
    assert.deepEqual(copy, Buffer.from('pooled'));
    assert.equal(copy.buffer.byteLength, 6, 'exactly its own bytes');
    source[2] = 0x50;
    assert.equal(copy.toString(), 'pooled', 'a copy, not a view');
  });
});

describe('alpnProtocols', () => {
  it('lays names out in the RFC 7301 wire format', () => {
    const list = alpnProtocols('postgresql', 'h2');
    const bytes = Buffer.from(list.buffer, list.byteOffset, list.byteLength);
    assert.deepEqual(
      bytes,
      Buffer.concat([Buffer.of(10), Buffer.from('postgresql'), Buffer.of(2), Buffer.from('h2')]),
    );
  });

  it('is copied by tls into an ArrayBuffer of its own size, not the pool', () => {
    const socket = new tls.TLSSocket(new net.Socket(), {
      ALPNProtocols: alpnProtocols('postgresql'),
    });
    try {
      // What every TLS socket keeps for its life (TLSSocket._tlsOptions).
      const kept = (socket as unknown as { _tlsOptions: { ALPNProtocols: Buffer } })._tlsOptions
        .ALPNProtocols;
      assert.equal(kept.toString('latin1', 1), 'postgresql');
      assert.equal(kept.buffer.byteLength, 11);
    } finally {
      socket.destroy();
    }
  });
});
