import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';
import {
  checkRoleName,
  quoteIdent,
  quoteLiteral,
  roleNameFromClaims,
} from '../../src/provision/role-name.ts';

/** The error code and SQLSTATE `fn` throws. */
function refusal(fn: () => unknown): { code: string; sqlstate: string; message: string } {
  try {
    fn();
  } catch (error) {
    assert.ok(isPgkeyError(error), `expected a PgkeyError, got ${String(error)}`);
    return { code: error.code, sqlstate: error.sqlstate, message: error.message };
  }
  assert.fail('expected a refusal');
}

describe('role names from claims', () => {
  it('takes the claim as it is: quotes, spaces, case and Unicode included', () => {
    for (const name of [
      'alice@example.com',
      `o'brien "x"@example.com`,
      'Alice@Example.COM',
      'zoë@example.com',
      '李雷@例子.中国',
      'a b;c--d',
      'x'.repeat(63),
    ]) {
      assert.equal(roleNameFromClaims({ email: name }, 'email'), name);
    }
  });

  it('normalizes Unicode to NFC: the decomposed and precomposed spellings are one name', () => {
    const decomposed = 'zoe\u0308@example.com';
    assert.equal(roleNameFromClaims({ email: decomposed }, 'email'), 'zo\u00eb@example.com');
  });

  it('reads the configured claim, and only an own string property', () => {
    assert.equal(roleNameFromClaims({ upn: 'ann@corp' }, 'upn'), 'ann@corp');
    for (const claims of [{}, { email: '' }, { email: '   ' }, { email: 42 }, { email: ['a'] }]) {
      const r = refusal(() => roleNameFromClaims(claims, 'email'));
      assert.deepEqual([r.code, r.sqlstate], ['ERR_ROLE_NAME_INVALID', '22023']);
      assert.match(r.message, /no "email" claim/);
    }
    assert.equal(
      refusal(() => roleNameFromClaims({}, 'constructor')).code,
      'ERR_ROLE_NAME_INVALID',
    );
  });

  it('refuses more than 63 bytes, counting UTF-8 bytes, and never truncates', () => {
    const ascii63 = 'a'.repeat(63);
    assert.equal(checkRoleName(ascii63), ascii63);
    const r = refusal(() => checkRoleName(`${ascii63}a`));
    assert.deepEqual([r.code, r.sqlstate], ['ERR_ROLE_NAME_TOO_LONG', '42622']);
    assert.match(r.message, /is 64 bytes; PostgreSQL allows 63/);
    // 61 ASCII bytes + "é" (2 bytes) = 63; + "ë" once more = 65: 32 characters, but bytes count.
    const accented = `${'a'.repeat(61)}é`;
    assert.equal(Buffer.byteLength(accented), 63);
    assert.equal(checkRoleName(accented), accented);
    assert.equal(refusal(() => checkRoleName(`${accented}ë`)).code, 'ERR_ROLE_NAME_TOO_LONG');
    // A 4-byte character across the limit is refused whole, not split.
    assert.equal(
      refusal(() => checkRoleName(`${'a'.repeat(60)}🐘`)).code,
      'ERR_ROLE_NAME_TOO_LONG',
    );
    assert.equal(checkRoleName(`${'a'.repeat(59)}🐘`).length, 61);
  });

  it('refuses NUL, other control characters, bidi overrides and broken Unicode', () => {
    for (const bad of [
      'a\0b',
      '\ud800x',
      'x\udfff',
      'eve@example.com\n2026-01-01 LOG:  forged',
      'tab\there',
      'esc\u001b[31m',
      'del\u007f',
      'c1\u0085',
      'moc.elpmaxe@\u202eecila',
      'x\u2066y\u2069',
    ]) {
      const r = refusal(() => checkRoleName(bad));
      assert.deepEqual([r.code, r.sqlstate], ['ERR_ROLE_NAME_INVALID', '22023']);
      assert.ok(!r.message.includes('\0'), 'the message is safe to send');
    }
  });

  it('refuses names PostgreSQL reserves: pg_…, public, none', () => {
    for (const name of ['pg_monitor', 'pg_x@example.com', 'public', 'none']) {
      const r = refusal(() => checkRoleName(name));
      assert.deepEqual([r.code, r.sqlstate], ['ERR_ROLE_NAME_RESERVED', '42939'], name);
    }
    // Only these exact, case-sensitive names: quoted identifiers keep their case.
    for (const name of ['PUBLIC', 'None', 'pgx@example.com', 'Pg_x'])
      assert.equal(checkRoleName(name), name);
  });
});

describe('SQL text', () => {
  it('quotes identifiers as PostgreSQL reads them back: inner double quotes doubled', () => {
    assert.equal(quoteIdent('alice@example.com'), '"alice@example.com"');
    assert.equal(quoteIdent(`o'brien "x"@example.com`), `"o'brien ""x""@example.com"`);
    assert.equal(quoteIdent('zoë'), '"zoë"');
    assert.equal(quoteIdent('"'), '""""');
    assert.equal(quoteIdent('a\\b'), '"a\\b"');
  });

  it('writes string constants in the escape syntax: backslashes and quotes doubled', () => {
    assert.equal(quoteLiteral('plain'), "E'plain'");
    assert.equal(quoteLiteral(`it's`), "E'it''s'");
    assert.equal(quoteLiteral('a\\b'), "E'a\\\\b'");
    assert.equal(quoteLiteral(`\\'`), "E'\\\\'''");
    assert.throws(() => quoteLiteral('a\0'), TypeError);
  });
});
