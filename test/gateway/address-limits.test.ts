import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HandshakeSlots, RateLimiter } from '../../src/gateway/address-limits.ts';
import { ManualClock } from '../../src/runtime/clock.ts';

describe('HandshakeSlots', () => {
  it('gives each address up to the limit at once, independently', () => {
    const slots = new HandshakeSlots(() => 2);
    assert.equal(slots.acquire('10.0.0.1'), true);
    assert.equal(slots.acquire('10.0.0.1'), true);
    assert.equal(slots.acquire('10.0.0.1'), false);
    assert.equal(slots.acquire('10.0.0.1'), false);
    assert.equal(slots.acquire('10.0.0.2'), true);
    assert.equal(slots.total, 3, 'refused acquires hold nothing');
  });

  it('frees a slot on release and forgets an address with none open', () => {
    const slots = new HandshakeSlots(() => 1);
    assert.equal(slots.acquire('::1'), true);
    assert.equal(slots.acquire('::1'), false);
    slots.release('::1');
    assert.equal(slots.total, 0);
    assert.equal(slots.acquire('::1'), true);
    assert.equal(slots.total, 1);
  });

  it('does not let an extra release create credit', () => {
    const slots = new HandshakeSlots(() => 1);
    slots.release('10.0.0.9');
    slots.release('10.0.0.9');
    assert.equal(slots.total, 0);
    assert.equal(slots.acquire('10.0.0.9'), true);
    assert.equal(slots.acquire('10.0.0.9'), false);
    assert.equal(slots.total, 1);
  });

  it('reads the limit on every acquire (configuration reloads)', () => {
    let limit = 1;
    const slots = new HandshakeSlots(() => limit);
    assert.equal(slots.acquire('a'), true);
    assert.equal(slots.acquire('a'), false);
    limit = 3;
    assert.equal(slots.acquire('a'), true);
    assert.equal(slots.acquire('a'), true);
    assert.equal(slots.acquire('a'), false);
    limit = 0;
    assert.equal(slots.acquire('b'), false);
    slots.release('a');
    assert.equal(slots.total, 2);
  });
});

describe('RateLimiter', () => {
  it('allows a burst at once, then one per 1/perSecond seconds', () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter(clock, 3, 2); // 3 at once, one every 500 ms
    assert.deepEqual(
      [1, 2, 3, 4].map(() => limiter.allow('a')),
      [true, true, true, false],
    );
    clock.advance(499);
    assert.equal(limiter.allow('a'), false);
    clock.advance(1);
    assert.equal(limiter.allow('a'), true);
    assert.equal(limiter.allow('a'), false);
  });

  it('accumulates fractional refills and caps at the burst', () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter(clock, 2, 1);
    assert.equal(limiter.allow('a'), true);
    assert.equal(limiter.allow('a'), true);
    for (const elapsed of [250, 500, 750]) {
      clock.advance(250);
      assert.equal(limiter.allow('a'), false, `after ${elapsed} ms`);
    }
    clock.advance(250);
    assert.equal(limiter.allow('a'), true, 'four quarter-seconds make one token');
    clock.advance(3_600_000);
    assert.deepEqual(
      [1, 2, 3].map(() => limiter.allow('a')),
      [true, true, false],
    );
  });

  it('keeps a bucket per key', () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter(clock, 1, 1);
    assert.equal(limiter.allow('10.0.0.1'), true);
    assert.equal(limiter.allow('10.0.0.1'), false);
    assert.equal(limiter.allow('10.0.0.2'), true);
  });

  it('sweeps only buckets that have refilled, so an active key keeps its debt', () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter(clock, 2, 1); // refills from empty in 2 s
    assert.equal(limiter.allow('attacker'), true);
    assert.equal(limiter.allow('attacker'), true);
    clock.advance(1_500); // 1.5 tokens back, not yet full: must survive a sweep
    for (let i = 0; i <= 10_000; i++) limiter.allow(`2001:db8::${i.toString(16)}`);
    assert.equal(limiter.allow('attacker'), true);
    assert.equal(limiter.allow('attacker'), false, 'a swept bucket would have come back full');
  });

  it('stays fast with many live addresses (no O(n) sweep per call)', () => {
    // IPv6 makes tens of thousands of source addresses cheap; each allow() must stay O(1)
    // amortized, or the limiter becomes the denial of service it guards against.
    const clock = new ManualClock();
    const limiter = new RateLimiter(clock, 20, 5);
    const started = performance.now();
    for (let i = 0; i < 60_000; i++) limiter.allow(`2001:db8::${i.toString(16)}`);
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 2_000, `took ${Math.round(elapsed)} ms`);
    // Still correct for an address seen before the sweeps.
    for (let i = 0; i < 19; i++) assert.equal(limiter.allow('2001:db8::0'), true);
    assert.equal(limiter.allow('2001:db8::0'), false);
  });
});
