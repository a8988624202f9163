import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { idleLimit } from '../../src/gateway/open-session.ts';

const MIN = 60_000;

describe('a session’s idle limit', () => {
  it('is the shorter of session.idle_timeout and the rule’s', () => {
    assert.equal(idleLimit(60 * MIN, 15 * MIN), 15 * MIN);
    assert.equal(idleLimit(10 * MIN, 15 * MIN), 10 * MIN);
  });

  it('is the global one when the rule sets none, and the rule’s when the global is off (0s)', () => {
    assert.equal(idleLimit(60 * MIN, undefined), 60 * MIN);
    assert.equal(idleLimit(0, 15 * MIN), 15 * MIN);
    assert.equal(idleLimit(0, undefined), 0);
  });
});
