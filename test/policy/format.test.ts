import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { capList, clip, formatAge, formatSpan, orList } from '../../src/policy/format.ts';

describe('policy wording', () => {
  it('formats limits exactly and ages to two units', () => {
    const S = 1000;
    const M = 60 * S;
    const H = 60 * M;
    const cases: [number, string, string][] = [
      [0, '0s', '0s'],
      [250, '250ms', '250ms'],
      [90 * S, '1m30s', '1m30s'],
      [10 * M, '10m', '10m'],
      [90 * M, '1h30m', '1h30m'],
      [2 * H + 13 * M + 20 * S, '2h13m20s', '2h13m'],
      [24 * H + 5 * M, '1d5m', '1d'],
      [3 * 24 * H + 4 * H + 5 * S, '3d4h5s', '3d4h'],
      [-5 * S, '0s', '0s'],
    ];
    for (const [ms, limit, age] of cases) {
      assert.equal(formatSpan(ms), limit, `span ${ms}`);
      assert.equal(formatAge(ms), age, `age ${ms}`);
    }
  });

  it('caps lists and clips text', () => {
    assert.equal(capList(['a', 'b']), 'a, b');
    assert.equal(capList(['a', 'b', 'c', 'd'], 2), 'a, b, …+2 more');
    assert.equal(orList(['a']), '"a"');
    assert.equal(orList(['a', 'b', 'c']), '"a", "b" or "c"');
    assert.equal(orList(['a', 'b', 'c', 'd', 'e', 'f'], 2), '"a", "b" or 4 more');
    assert.equal(clip('abcdef', 4), 'abc…');
    assert.equal(clip('abc', 4), 'abc');
  });
});
