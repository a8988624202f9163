import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PendingQueue } from '../../src/audit/pending-queue.ts';

describe('PendingQueue', () => {
  it('keeps order through many pushes and shifts, compacting as it goes', () => {
    const queue = new PendingQueue<number>();
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 1500; i++) queue.push(next++);
      for (let i = 0; i < 1200; i++) assert.equal(queue.shift(), expected++);
      assert.equal(queue.length, next - expected);
      assert.equal(queue.peek(), expected);
      assert.equal(queue.peek(1), expected + 1);
    }
    while (queue.length > 0) assert.equal(queue.shift(), expected++);
    assert.equal(queue.shift(), undefined);
    assert.equal(expected, next);
  });

  it('removes an item behind the head, never the head itself', () => {
    const queue = new PendingQueue<string>();
    for (const item of ['a', 'b', 'c']) queue.push(item);
    queue.removeAt(1);
    queue.removeAt(0);
    queue.removeAt(5);
    assert.deepEqual([queue.shift(), queue.shift(), queue.shift()], ['a', 'c', undefined]);
  });
});
