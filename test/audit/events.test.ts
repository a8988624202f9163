import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  identityFields,
  serializeAuditEvent,
  type AuditEvent,
  type AuthFailureEvent,
} from '../../src/audit/events.ts';
import type { Identity } from '../../src/identity/identity.ts';

/** C0 and C1 controls, DEL, U+2028/2029 and bidi overrides: nothing a terminal acts on. */
function hasUnsafeCharacter(text: string): boolean {
  return [...text].some((char) => {
    const cp = char.codePointAt(0) ?? 0;
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x2028 && cp <= 0x202e);
  });
}

const identity: Identity = {
  issuerName: 'corp',
  issuer: 'https://idp.example.com',
  subject: 'u-123',
  kind: 'human',
  email: 'ada@example.com',
  groups: ['dba', 'eng'],
  authTime: 0,
  acr: 'phrh',
  amr: ['hwk'],
  fido2: true,
  credentialId: 'Y3JlZA',
  aaguid: 'ee882879-721c-4913-9775-3dfcce97072a',
  deviceBound: true,
  attested: true,
  userVerified: true,
  actor: undefined,
  tokenId: 'jti-1',
  issuedAt: undefined,
  expiresAt: 1,
  claims: { secret_claim: 'x' },
};

function failure(user: string): AuthFailureEvent {
  return {
    type: 'auth.failure',
    time: '2026-01-01T00:00:00.000Z',
    id: 'AAAAAAAAAAAAAAAAAAAAAA',
    client: { address: '192.0.2.1', port: 5000 },
    reason: 'token_invalid',
    user,
    database: 'app',
  };
}

describe('audit events', () => {
  it('builds identity fields without claims, tokens or undefined values', () => {
    assert.deepEqual(identityFields(identity), {
      issuer: 'corp',
      subject: 'u-123',
      email: 'ada@example.com',
      groups: ['dba', 'eng'],
      credential_id: 'Y3JlZA',
      aaguid: 'ee882879-721c-4913-9775-3dfcce97072a',
    });
  });

  it('serializes time, id and type first, as one line of valid JSON', () => {
    const event: AuditEvent = {
      type: 'session.end',
      time: '2026-01-01T00:00:00.000Z',
      id: 'abc',
      session: 's-1',
      client: { address: '2001:db8::1', port: 1 },
      ...identityFields(identity),
      reason: 'idle_timeout',
      duration_ms: 1500,
      bytes_from_client: 10,
      bytes_from_server: 20,
    };
    const line = serializeAuditEvent(event);
    assert.ok(
      line.startsWith('{"time":"2026-01-01T00:00:00.000Z","id":"abc","type":"session.end",'),
    );
    assert.deepEqual(JSON.parse(line), event);
  });

  // reliability.md §7 G34: user-supplied text must not break the line or drive a terminal.
  const hostile: ReadonlyArray<readonly [string, string]> = [
    ['a newline and a forged event', 'alice\n{"type":"auth.success","role":"postgres"}'],
    ['CR', 'alice\rbob'],
    ['an ANSI escape sequence', 'alice\u001b[2J\u001b]0;pwned\u0007'],
    ['a C1 CSI and DEL', 'alice\u009b2J\u007f'],
    ['U+2028 and U+2029', 'alice\u2028bob\u2029'],
    ['a bidi override', 'alice\u202egnp.exe'],
    ['JSON syntax', 'a","role":"postgres'],
    ['a NUL byte', 'a\u0000b'],
    ['a lone surrogate', 'a\ud800b'],
  ];
  for (const [name, user] of hostile) {
    it(`keeps ${name} escaped on one ASCII-safe line`, () => {
      const line = serializeAuditEvent(failure(user));
      assert.equal(hasUnsafeCharacter(line), false);
      assert.equal(line.split('\n').length, 1);
      const parsed = JSON.parse(line) as AuthFailureEvent;
      assert.equal(parsed.user, user);
      assert.equal(parsed.type, 'auth.failure');
      assert.equal((parsed as unknown as Record<string, unknown>).role, undefined);
    });
  }
});
