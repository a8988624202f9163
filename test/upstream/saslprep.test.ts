import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { saslprep, scramPasswordBytes } from '../../src/upstream/saslprep.ts';

describe('saslprep (RFC 4013)', () => {
  // RFC 4013 §3 examples, plus PostgreSQL's own behaviour where it differs.
  const valid: ReadonlyArray<readonly [string, string, string]> = [
    ['soft hyphen mapped to nothing (§3 #1)', 'I\u00adX', 'IX'],
    ['no transformation (§3 #2)', 'user', 'user'],
    ['case preserved (§3 #3)', 'USER', 'USER'],
    ['NFKC of a feminine ordinal (§3 #4)', '\u00aa', 'a'],
    ['NFKC of a roman numeral (§3 #5)', '\u2168', 'IX'],
    ['non-ASCII space mapped to space (§2.1)', 'pass\u00a0word\u00e9', 'pass word\u00e9'],
    ['zero-width joiner mapped to nothing (B.1)', 'p\u200dw\u00e9', 'pw\u00e9'],
    ['an all right-to-left string (RFC 3454 §6)', '\u05d0\u05d1', '\u05d0\u05d1'],
  ];
  for (const [name, input, output] of valid) {
    it(`prepares ${name}`, () => assert.equal(saslprep(input), output));
  }

  const invalid: ReadonlyArray<readonly [string, string]> = [
    ['a control character (§3 #6)', '\u0007'],
    ['mixed right-to-left and digits (§3 #7)', '\u0627\u0031'],
    ['right-to-left mixed with left-to-right letters', '\u05d0a\u05d1'],
    ['a private-use character (C.3)', '\ue000x'],
    ['a plane non-character (C.4)', '\u{1fffe}'],
    ['a lone surrogate (C.5)', '\ud800'],
    ['a string that maps to nothing', '\u00ad'],
  ];
  for (const [name, input] of invalid) {
    it(`rejects ${name}`, () => assert.equal(saslprep(input), undefined));
  }
});

describe('scramPasswordBytes (libpq pg_saslprep use)', () => {
  it('uses an ASCII password as is, even with control characters', () => {
    assert.deepEqual(scramPasswordBytes('a\u0007b'), Buffer.from('a\u0007b'));
  });

  it('uses the prepared form when SASLprep accepts the password', () => {
    assert.deepEqual(scramPasswordBytes('I\u00adX\u2168'), Buffer.from('IXIX'));
  });

  it('falls back to the raw UTF-8 bytes when SASLprep refuses it', () => {
    assert.deepEqual(scramPasswordBytes('\u0627\u0031'), Buffer.from('\u0627\u0031', 'utf8'));
  });
});
