import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CancelKeys } from '../../src/gateway/cancel-keys.ts';
import { cryptoRandom, type Random } from '../../src/runtime/random.ts';

/** Randomness a test can read: scripted ints, counting bytes, every call recorded. */
class ScriptedRandom implements Random {
  readonly ints: number[];
  readonly intCalls: Array<[number, number]> = [];
  readonly byteCalls: number[] = [];
  #counter = 0;

  constructor(ints: number[]) {
    this.ints = ints;
  }

  bytes(length: number): Buffer {
    this.byteCalls.push(length);
    return Buffer.from(Array.from({ length }, () => this.#counter++ & 0xff));
  }

  int(min: number, max: number): number {
    this.intCalls.push([min, max]);
    const next = this.ints.shift();
    if (next === undefined) throw new RangeError('script ran out');
    return next;
  }
}

function flipped(key: Buffer, bit: number): Buffer {
  const copy = Buffer.from(key);
  copy[bit >> 3]! ^= 1 << (bit & 7);
  return copy;
}

describe('CancelKeys', () => {
  it('issues 4-byte (3.0) and 32-byte (3.2) secrets with positive Int32 pids', () => {
    const random = new ScriptedRandom([101, 202]);
    const keys = new CancelKeys(random);
    assert.deepEqual(random.byteCalls, [32], 'the decoy is drawn once, at construction');
    const noop = (): void => undefined;
    const k4 = keys.issue(4, noop);
    const k32 = keys.issue(32, noop);
    assert.deepEqual(k4, { processId: 101, secretKey: Buffer.from([32, 33, 34, 35]) });
    assert.equal(k32.processId, 202);
    assert.deepEqual(k32.secretKey, Buffer.from(Array.from({ length: 32 }, (_, i) => 36 + i)));
    // randomInt's range is [min, max): 1 ..= 2^31 - 2, never 0 or negative.
    assert.deepEqual(random.intCalls, [
      [1, 0x7fff_ffff],
      [1, 0x7fff_ffff],
    ]);
    assert.equal(keys.size, 2);
  });

  it('draws again until the pid is unique among live keys, and reuses it after release', () => {
    const random = new ScriptedRandom([7, 7, 7, 9, 7]);
    const keys = new CancelKeys(random);
    const first = keys.issue(4, () => undefined);
    const second = keys.issue(4, () => undefined);
    assert.equal(first.processId, 7);
    assert.equal(second.processId, 9);
    assert.equal(random.intCalls.length, 4);
    keys.release(7);
    assert.equal(keys.issue(4, () => undefined).processId, 7);
  });

  it('finds the action only for the exact pid and secret', () => {
    const calls: string[] = [];
    const keys = new CancelKeys(new ScriptedRandom([1, 2]));
    const a = keys.issue(4, () => calls.push('a'));
    const b = keys.issue(32, () => calls.push('b'));
    keys.find(a.processId, a.secretKey)?.();
    keys.find(b.processId, Buffer.from(b.secretKey))?.();
    assert.deepEqual(calls, ['a', 'b']);

    // Every single-bit change of either secret misses.
    for (const key of [a, b]) {
      for (let bit = 0; bit < key.secretKey.length * 8; bit++) {
        assert.equal(
          keys.find(key.processId, flipped(key.secretKey, bit)),
          undefined,
          `bit ${bit}`,
        );
      }
    }
    // Another session's secret, or the right secret under another pid, misses.
    assert.equal(keys.find(a.processId, b.secretKey), undefined);
    assert.equal(keys.find(b.processId, a.secretKey), undefined);
    assert.equal(keys.find(3, a.secretKey), undefined);
    assert.deepEqual(calls, ['a', 'b']);
  });

  it('refuses a secret of the wrong length without throwing', () => {
    const keys = new CancelKeys(new ScriptedRandom([5, 6]));
    const k4 = keys.issue(4, () => undefined);
    const k32 = keys.issue(32, () => undefined);
    const wrong = [
      Buffer.alloc(0),
      k4.secretKey.subarray(0, 3),
      Buffer.concat([k4.secretKey, Buffer.from([0])]),
      Buffer.concat([k4.secretKey, Buffer.alloc(28)]),
      Buffer.alloc(256),
    ];
    for (const secret of wrong)
      assert.equal(keys.find(k4.processId, secret), undefined, `${secret.length} bytes`);
    assert.equal(keys.find(k32.processId, k32.secretKey.subarray(0, 4)), undefined);
    assert.equal(keys.find(k32.processId, k32.secretKey.subarray(0, 31)), undefined);
  });

  it('misses an unknown pid even with the decoy secret', () => {
    // The decoy is the first 32 bytes drawn: 0..31 from the scripted source.
    const keys = new CancelKeys(new ScriptedRandom([]));
    const decoy = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
    assert.equal(keys.find(1, decoy), undefined);
    assert.equal(keys.find(0, Buffer.alloc(4)), undefined);
    assert.equal(keys.find(-1, Buffer.alloc(32)), undefined);
  });

  it('finds a secret held in a slice of a larger packet buffer', () => {
    const keys = new CancelKeys(new ScriptedRandom([42]));
    let called = 0;
    const key = keys.issue(4, () => called++);
    const packet = Buffer.concat([
      Buffer.from([0, 0, 0, 16, 4, 210, 22, 46, 0, 0, 0, 42]),
      key.secretKey,
    ]);
    keys.find(42, packet.subarray(12))?.();
    assert.equal(called, 1);
  });

  it('forgets a released key; releasing twice or an unknown pid is harmless', () => {
    const keys = new CancelKeys(new ScriptedRandom([11, 12]));
    const k = keys.issue(4, () => undefined);
    const other = keys.issue(32, () => undefined);
    keys.release(k.processId);
    keys.release(k.processId);
    keys.release(999);
    assert.equal(keys.find(k.processId, k.secretKey), undefined);
    assert.ok(keys.find(other.processId, other.secretKey));
    assert.equal(keys.size, 1);
  });

  it('issues unique, positive pids and distinct secrets from real randomness', () => {
    const keys = new CancelKeys(cryptoRandom);
    const pids = new Set<number>();
    const secrets = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const k = keys.issue(i % 2 === 0 ? 4 : 32, () => undefined);
      assert.ok(Number.isInteger(k.processId) && k.processId >= 1 && k.processId <= 0x7fff_ffff);
      pids.add(k.processId);
      secrets.add(k.secretKey.toString('hex'));
    }
    assert.equal(pids.size, 2000);
    assert.equal(keys.size, 2000);
    assert.ok(secrets.size >= 1990, 'even 4-byte secrets almost never repeat in 1000 draws');
  });
});
