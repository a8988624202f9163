/**
 * reliability.md §7 A9: an unknown database, an unknown role and a bad token are all told
 * only after the token exchange (the client sees AuthenticationCleartextPassword first, so
 * nothing is learnt without a token), and no text from PostgreSQL's side leaks: no pg_hba
 * lines, file paths, server versions or source locations.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import {
  DEFAULT_POLICY,
  startGatewayHarness,
  type GatewayHarness,
} from '../support/gateway-harness.ts';
import { auditEvents, pgConnectionsSeen } from './observe.ts';
import { connectTls, errorFields, passwordPacket, startupPacket } from './wire.ts';

interface Attempt {
  readonly beforePassword: string;
  readonly fields: Map<string, string>;
}

describe('auth errors after the token, without upstream internals (A9)', () => {
  let h: GatewayHarness;
  let ca: string;
  before(async () => {
    h = await startGatewayHarness({
      policy: [
        ...DEFAULT_POLICY,
        // A role PostgreSQL does not have: policy lets it through, the server refuses it.
        {
          name: 'ghosts',
          match: { groups: ['ghosts'] },
          databases: ['warehouse'],
          roles: ['ghost'],
        },
      ],
    });
    ca = await readFile(h.clientCaFile, 'utf8');
  });
  after(async () => {
    await h?.close();
  });

  /** Startup, then the token; returns the message types before the password and the FATAL. */
  async function attempt(user: string, database: string, token: string): Promise<Attempt> {
    const wire = await connectTls(h.gateway.port, { ca });
    wire.write(
      startupPacket([
        ['user', user],
        ['database', database],
      ]),
    );
    const first = await wire.message();
    const beforePassword = `${first.type}${first.type === 'R' ? first.body.readInt32BE(0) : ''}`;
    if (first.type === 'R') wire.write(passwordPacket(token));
    const last = first.type === 'E' ? first : await wire.message(15_000);
    assert.equal(last.type, 'E', `expected an ErrorResponse, got ${last.type}`);
    await wire.closed();
    return { beforePassword, fields: errorFields(last.body) };
  }

  /** Nothing in what the client sees may come from the server's side of the login. */
  function assertNoInternals(fields: Map<string, string>): void {
    assert.deepEqual(
      [...fields.keys()].filter((k) => !['S', 'V', 'C', 'M', 'D', 'H'].includes(k)),
      [],
      'no F/L/R (source file, line, routine) or other server fields',
    );
    for (const [code, text] of fields) {
      assert.doesNotMatch(text, /\/(?:tmp|usr|var|etc|home|root|run)\//, `${code}: a file path`);
      assert.doesNotMatch(
        text,
        /PostgreSQL \d|\b1[0-9]\.\d+\b|server_version/,
        `${code}: a version`,
      );
      assert.doesNotMatch(text, /no pg_hba\.conf entry|hba line|pg_ident/i, `${code}: pg_hba text`);
      assert.doesNotMatch(text, /certificate authentication failed|does not exist for|SSL error/i);
      assert.doesNotMatch(text, /eyJ/, `${code}: token bytes`);
    }
    for (const code of ['M', 'D']) {
      assert.doesNotMatch(fields.get(code) ?? '', /pg_hba/, `${code} mentions pg_hba`);
    }
  }

  it('a database no rule grants → 28000 after the token', async () => {
    const seen = await pgConnectionsSeen(h);
    const token = await h.token(['analytics']);
    const unknown = await attempt('analyst', 'nosuchdb', token);
    assert.equal(unknown.beforePassword, 'R3');
    assert.equal(unknown.fields.get('S'), 'FATAL');
    assert.equal(unknown.fields.get('C'), '28000');
    assertNoInternals(unknown.fields);
    // Same answer, word for word, as for a database that exists but is not granted: policy
    // says no before PostgreSQL is asked, so the answer is no oracle for what exists.
    const existing = await attempt('analyst', 'postgres', token);
    assert.equal(existing.fields.get('C'), '28000');
    assert.equal(
      existing.fields.get('M'),
      unknown.fields.get('M')?.replaceAll('nosuchdb', 'postgres'),
    );
    assert.equal(await pgConnectionsSeen(h), seen, 'PostgreSQL was never asked');
  });

  it('a role no rule grants → 28000 after the token', async () => {
    const token = await h.token(['analytics']);
    const unknown = await attempt('nosuchrole', 'warehouse', token);
    assert.equal(unknown.beforePassword, 'R3');
    assert.equal(unknown.fields.get('C'), '28000');
    assert.match(unknown.fields.get('M') ?? '', /nosuchrole/);
    assertNoInternals(unknown.fields);
    const existing = await attempt('app_owner', 'warehouse', token);
    assert.equal(
      existing.fields.get('M'),
      unknown.fields.get('M')?.replaceAll('nosuchrole', 'app_owner'),
    );
  });

  it('a bad token → 28P01 after the exchange, and the token is not echoed', async () => {
    for (const token of ['garbage', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', 'a'.repeat(4000)]) {
      const result = await attempt('analyst', 'warehouse', token);
      assert.equal(result.beforePassword, 'R3');
      assert.equal(result.fields.get('C'), '28P01');
      assertNoInternals(result.fields);
    }
  });

  it('an expired token → 28P01 "token expired"', async () => {
    const token = await h.issuer.humanToken(
      { groups: ['analytics'] },
      { now: Date.now() - 3600_000, ttlSeconds: 60 },
    );
    const result = await attempt('analyst', 'warehouse', token);
    assert.equal(result.beforePassword, 'R3');
    assert.equal(result.fields.get('C'), '28P01');
    assert.match(result.fields.get('M') ?? '', /expired/);
    assertNoInternals(result.fields);
  });

  it('a granted database PostgreSQL does not have → 3D000 in pgkey’s words', async () => {
    const token = await h.token(['dba']);
    const result = await attempt('app_owner', 'nosuchdb', token);
    assert.equal(result.beforePassword, 'R3');
    assert.equal(result.fields.get('C'), '3D000');
    assert.equal(result.fields.get('M'), 'database "nosuchdb" does not exist');
    assertNoInternals(result.fields);
  });

  it('a granted role PostgreSQL refuses → 08001, none of the server’s text', async () => {
    const token = await h.token(['ghosts']);
    const result = await attempt('ghost', 'warehouse', token);
    assert.equal(result.beforePassword, 'R3');
    assert.equal(result.fields.get('C'), '08001');
    assert.equal(result.fields.get('M'), "the database server refused pgkey's credential");
    assertNoInternals(result.fields);
    // The server did refuse it, in its own words, which stayed in its log.
    const log = await readFile(h.pg.logFile, 'utf8');
    assert.match(log, /"ghost"/);
  });

  it('every refusal after the token is one auth.failure audit record', async () => {
    const before = (await auditEvents(h)).filter((e) => e.type === 'auth.failure').length;
    const token = await h.token(['analytics']);
    await attempt('analyst', 'nosuchdb', token);
    await attempt('analyst', 'warehouse', 'garbage');
    const failures = (await auditEvents(h)).filter((e) => e.type === 'auth.failure');
    assert.equal(failures.length, before + 2);
    assert.deepEqual(
      failures.slice(-2).map((e) => [e.user, e.database]),
      [
        ['analyst', 'nosuchdb'],
        ['analyst', 'warehouse'],
      ],
    );
  });
});
