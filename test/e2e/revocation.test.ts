import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { revokeKey, type DemoActor } from '../../src/demo/demo-accounts.ts';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';
import type { BuiltinIdp, EnrolledUser } from '../support/builtin-idp.ts';
import {
  activeBackends,
  connectError,
  connectPg,
  readAudit,
  spawnPsql,
  waitFor,
  type AuditLine,
} from '../support/e2e-clients.ts';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';

/**
 * Revocation that bites (DESIGN.md step 8): revoking a key, disabling a person or taking a
 * group away ends that identity's live sessions within a second with FATAL 57P01 and the
 * reason, and the tokens they held open no new session. Tokens come from the built-in
 * provider the way `pgkey login` gets them (authorization code + PKCE, a WebAuthn sign-in).
 */

/** The bound: "ends that identity's live sessions within a second". */
const DEADLINE_MS = 1000;
const BIN = fileURLToPath(new URL('../../bin/pgkey.js', import.meta.url));

const POLICY = [
  {
    name: 'analysts',
    match: { groups: ['analytics'] },
    databases: ['warehouse'],
    roles: ['analyst'],
  },
  {
    name: 'reports',
    match: { groups: ['reports'] },
    databases: ['warehouse'],
    roles: ['reporting'],
  },
];

/**
 * Starts a statement that runs until the gateway ends the session under it; resolves once
 * PostgreSQL runs it, with the promise of its failure (wrapped: an async function would
 * wait for a returned promise).
 */
async function sleeping(h: GatewayHarness, client: pg.Client, sql: string) {
  const failed = client.query(sql).then(
    () => assert.fail(`${sql} finished: the session was not ended`),
    (error: unknown) => {
      assert.ok(
        error instanceof pg.DatabaseError,
        `expected a DatabaseError, got ${String(error)}`,
      );
      return { error, at: performance.now() };
    },
  );
  await waitFor(`${sql} upstream`, async () => (await activeBackends(h, sql)) === 1);
  return { failed };
}

function sessionsOf(h: GatewayHarness, person: EnrolledUser): string[] {
  return h.gateway.sessions
    .list()
    .filter((s) => s.identity.subject === person.user.id)
    .map((s) => s.id);
}

function terminated(h: GatewayHarness, session: string): Promise<AuditLine> {
  return waitFor(`session.terminated of ${session}`, () =>
    readAudit(h).find((e) => e.type === 'session.terminated' && e.session === session),
  );
}

describe('revocation through the built-in provider', () => {
  let h: GatewayHarness;
  let idp: BuiltinIdp;
  let admin: DemoActor;
  before(async () => {
    h = await startGatewayHarness({ idp: true, policy: POLICY });
    assert.ok(h.idp !== undefined);
    idp = h.idp;
    admin = { directory: idp.directory, audit: h.gateway.audit, actor: 'cli:test', now: Date.now };
  });
  after(async () => {
    await h?.close();
  });

  it('Revocation ends a live psql session within a second', async () => {
    const alice = await idp.enroll('alice@example.com', ['analytics']);
    const token = await idp.token(alice);
    const sql = 'SELECT pg_sleep(31)';
    const psql = spawnPsql(h, token, ['-At', '-v', 'VERBOSITY=verbose', '-c', sql]);
    await waitFor(`${sql} upstream`, async () => (await activeBackends(h, sql)) === 1);
    const [session] = sessionsOf(h, alice);
    assert.ok(session !== undefined);

    const revokedAt = performance.now();
    await revokeKey(admin, { credentialId: alice.credentialId, reason: 'lost on the train' });
    const result = await psql.done;
    const took = performance.now() - revokedAt;
    assert.ok(took < DEADLINE_MS, `the session ended ${Math.round(took)} ms after the revocation`);
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /^FATAL: {2}57P01: terminating connection: security key revoked: lost on the train$/m,
    );

    const refused = await connectError(h, token);
    assert.equal(refused.code, '28P01');
    assert.equal(refused.message, 'token rejected: the security key this token names was revoked');
    // The refusal says whose revoked key was tried: the incident responder's first question.
    const tried = await waitFor('the refusal’s auth.failure', () =>
      readAudit(h).findLast((e) => e.type === 'auth.failure' && e.reason === 'credential_revoked'),
    );
    assert.equal(tried.email, 'alice@example.com');
    assert.equal(tried.credential_id, alice.credentialId);
    await assert.rejects(idp.token(alice), (error) => isPgkeyError(error), 'no new login');

    const end = await terminated(h, session);
    assert.equal(end.reason, 'revoked');
    assert.equal(end.detail, 'security key revoked: lost on the train');
    assert.equal(end.credential_id, alice.credentialId);
    const revoked = readAudit(h).find(
      (e) => e.type === 'key.revoked' && e.credential_id === alice.credentialId,
    );
    assert.equal(revoked?.user, 'alice@example.com');
    assert.equal(revoked?.reason, 'lost on the train');
  });

  it('disabling a person ends their session and refuses their tokens and logins', async () => {
    const bob = await idp.enroll('bob@example.com', ['analytics']);
    const token = await idp.token(bob);
    const client = await connectPg(h, token);
    const { failed: ended } = await sleeping(h, client, 'SELECT pg_sleep(32)');
    const [session] = sessionsOf(h, bob);
    assert.ok(session !== undefined);

    const disabledAt = performance.now();
    await idp.directory.users.setDisabled(bob.user.id, true, 'left the company', Date.now());
    await h.gateway.audit.emit({
      type: 'user.disabled',
      actor: 'cli:test',
      user: bob.user.email,
      reason: 'left the company',
    });
    const { error, at } = await ended;
    assert.ok(at - disabledAt < DEADLINE_MS, `ended ${Math.round(at - disabledAt)} ms later`);
    assert.equal(error.code, '57P01');
    assert.equal(error.severity, 'FATAL');
    assert.equal(error.message, 'terminating connection: account disabled: left the company');

    const refused = await connectError(h, token);
    assert.equal(refused.code, '28P01');
    assert.equal(refused.message, 'token rejected: this account is disabled');
    const tried = await waitFor('the refusal’s auth.failure', () =>
      readAudit(h).findLast((e) => e.type === 'auth.failure' && e.reason === 'user_disabled'),
    );
    assert.equal(tried.email, 'bob@example.com');
    await assert.rejects(idp.token(bob), (e) => isPgkeyError(e), 'a disabled person cannot log in');
    assert.equal((await terminated(h, session)).detail, 'account disabled: left the company');
    assert.ok(readAudit(h).some((e) => e.type === 'user.disabled' && e.user === bob.user.email));
    await client.end().catch(() => undefined);
  });

  it('removing a group ends the sessions it granted and no others', async () => {
    const carol = await idp.enroll('carol@example.com', ['analytics', 'reports']);
    const token = await idp.token(carol);
    const analyst = await connectPg(h, token, { user: 'analyst' });
    const reporting = await connectPg(h, token, { user: 'reporting' });
    const { failed: ended } = await sleeping(h, analyst, 'SELECT pg_sleep(33)');
    const sessions = new Map(
      h.gateway.sessions
        .list()
        .filter((s) => s.identity.subject === carol.user.id)
        .map((s) => [s.role, s.id]),
    );

    const removedAt = performance.now();
    await idp.directory.users.removeGroup(carol.user.id, 'analytics', Date.now());
    const { error, at } = await ended;
    assert.ok(at - removedAt < DEADLINE_MS, `ended ${Math.round(at - removedAt)} ms later`);
    assert.equal(error.code, '57P01');
    assert.equal(error.message, 'terminating connection: group membership changed');
    assert.equal((await terminated(h, sessions.get('analyst') ?? '')).reason, 'revoked');

    // The `reports` group still grants `reporting`: that session stays up.
    await new Promise((resolve) => setTimeout(resolve, DEADLINE_MS));
    const still = await reporting.query<{ who: string }>('SELECT current_user AS who');
    assert.equal(still.rows[0]?.who, 'reporting');
    assert.deepEqual(reporting.errors, []);
    assert.ok(sessionsOf(h, carol).includes(sessions.get('reporting') ?? ''));
    await waitFor('the analyst session to leave the registry', () =>
      sessionsOf(h, carol).every((id) => id !== sessions.get('analyst')),
    );

    // The old token carries the old groups: refused for every role, not just the lost one.
    const refused = await connectError(h, token, { user: 'reporting' });
    assert.equal(refused.code, '28P01');
    assert.equal(
      refused.message,
      'token rejected: this token was issued before your access changed',
    );
    // A new login carries the groups as they are now.
    const fresh = await idp.token(carol);
    const again = await connectPg(h, fresh, { user: 'reporting' });
    await again.end();
    assert.equal((await connectError(h, fresh, { user: 'analyst' })).code, '28000');
    await reporting.end();
    await analyst.end().catch(() => undefined);
  });

  it('a key revoked by another process (pgkey keys revoke) ends the session within a second', async () => {
    assert.ok(h.configFile !== undefined);
    const dave = await idp.enroll('dave@example.com', ['analytics']);
    const token = await idp.token(dave);
    const client = await connectPg(h, token);
    const { failed: ended } = await sleeping(h, client, 'SELECT pg_sleep(34)');
    const [session] = sessionsOf(h, dave);
    assert.ok(session !== undefined);

    const cli = spawn(
      process.execPath,
      [BIN, 'keys', 'revoke', dave.credentialId, '--reason', 'stolen', '--config', h.configFile],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    let revokedAt: number | undefined;
    cli.stdout.setEncoding('utf8').on('data', (d: string) => {
      output += d;
      revokedAt ??= performance.now(); // the CLI prints after the revocation committed
    });
    cli.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    const code = await new Promise((resolve) => cli.once('close', resolve));
    assert.equal(code, 0, output);
    assert.match(output, /^revoked key /);

    const { error, at } = await ended;
    assert.ok(revokedAt !== undefined);
    assert.ok(at - revokedAt < DEADLINE_MS, `ended ${Math.round(at - revokedAt)} ms after the CLI`);
    assert.equal(error.code, '57P01');
    assert.equal(error.message, 'terminating connection: security key revoked: stolen');
    assert.equal((await terminated(h, session)).detail, 'security key revoked: stolen');
    assert.equal((await connectError(h, token)).code, '28P01');
    await client.end().catch(() => undefined);
  });
});
