import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { ConfigInput } from '../../src/config/schema.ts';
import {
  activeBackends,
  connectError,
  connectPg,
  readAudit,
  waitFor,
} from '../support/e2e-clients.ts';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';
import { call, exchange, mint, peek, tokenOf } from './sts-client.ts';

/**
 * Revoking a minted service token bites like revoking a key (DESIGN.md step 8): its live
 * sessions end within a second and it opens no new one. A token stands on the person who
 * minted it: with the built-in provider, revoking that person's key ends it too.
 */
const DEADLINE_MS = 1000;
const POLICY: ConfigInput['policy'] = [
  {
    name: 'analysts',
    match: { groups: ['analytics'] },
    databases: ['warehouse'],
    roles: ['analyst', 'reporting'],
  },
  { name: 'agents', match: { kind: 'delegated' }, databases: ['warehouse'], roles: ['reporting'] },
];

/** A session through `token` that runs `sql` until the gateway ends it. */
async function sleeping(h: GatewayHarness, token: string, sql: string) {
  const client = await connectPg(h, token, { user: 'reporting' });
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
  return { client, failed };
}

describe('token service: revoking service tokens', () => {
  let h: GatewayHarness;
  before(async () => {
    h = await startGatewayHarness({ policy: POLICY, idp: true, tokenService: true });
  });
  after(async () => {
    await h?.close();
  });

  it('revocation ends a live session within a second and refuses new logins', async () => {
    const person = await h.token(['analytics']);
    const service = tokenOf(
      await mint(h, person, { name: 'nightly', database: 'warehouse', role: 'reporting' }),
    );
    const jti = String(peek(service).claims.jti);
    const { client, failed } = await sleeping(h, service, 'SELECT pg_sleep(41)');

    const revokedAt = performance.now();
    const answer = await call(h, 'DELETE', `/v1/tokens/${jti}?reason=leaked%20in%20a%20log`, {
      token: person,
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.state, 'revoked');
    assert.equal(answer.body.revoked_by, 'alice@example.com');
    const { error, at } = await failed;
    assert.ok(at - revokedAt < DEADLINE_MS, `ended ${Math.round(at - revokedAt)} ms later`);
    assert.equal(error.code, '57P01');
    assert.equal(error.message, 'terminating connection: service token revoked: leaked in a log');
    await client.end().catch(() => undefined);

    const refused = await connectError(h, service, { user: 'reporting' });
    assert.equal(refused.code, '28P01');
    assert.equal(refused.message, 'token rejected: this service token was revoked');

    const audit = readAudit(h);
    const line = audit.find((e) => e.type === 'token.revoked' && e.jti === jti);
    assert.equal(line?.actor, 'alice@example.com');
    assert.equal(line?.subject, 'svc:nightly');
    assert.equal(line?.reason, 'leaked in a log');
    const ended = await waitFor('session.terminated', () =>
      readAudit(h).find((e) => e.type === 'session.terminated' && e.subject === 'svc:nightly'),
    );
    assert.equal(ended.detail, 'service token revoked: leaked in a log');

    const listed = (await call(h, 'GET', '/v1/tokens', { token: person })).body.tokens as {
      jti: string;
      state: string;
    }[];
    assert.equal(listed.find((t) => t.jti === jti)?.state, 'revoked');
    const again = await call(h, 'DELETE', `/v1/tokens/${jti}`, { token: person });
    assert.equal(again.status, 200, 'revoking twice is fine');
    const unknown = await call(h, 'DELETE', '/v1/tokens/nope', { token: person });
    assert.equal(unknown.status, 404);
  });

  it('revoking the key that minted a token ends the token too', async () => {
    assert.ok(h.idp !== undefined);
    const dana = await h.idp.enroll('dana@example.com', ['analytics']);
    const login = await h.idp.token(dana);
    assert.equal(peek(login).claims.credential_id, dana.credentialId);
    const service = tokenOf(
      await mint(h, login, { name: 'dana-job', database: 'warehouse', role: 'reporting' }),
    );
    assert.equal(
      (peek(service).claims.minted_by as { credential_id?: string }).credential_id,
      dana.credentialId,
    );
    const { client, failed } = await sleeping(h, service, 'SELECT pg_sleep(42)');
    const revokedAt = performance.now();
    await h.idp.directory.credentials.revoke(dana.credentialId, 'lost', Date.now());
    const { error, at } = await failed;
    assert.ok(at - revokedAt < DEADLINE_MS, `ended ${Math.round(at - revokedAt)} ms later`);
    assert.equal(
      error.message,
      'terminating connection: the security key that minted this token was revoked: lost',
    );
    await client.end().catch(() => undefined);
    const refused = await connectError(h, service, { user: 'reporting' });
    assert.equal(refused.message, 'token rejected: the security key that minted it was revoked');
  });

  it('disabling the person ends the sessions of the agents acting for them', async () => {
    assert.ok(h.idp !== undefined);
    const erin = await h.idp.enroll('erin@example.com', ['analytics']);
    const agent = tokenOf(await exchange(h, await h.idp.token(erin), 'report-bot'));
    const { client, failed } = await sleeping(h, agent, 'SELECT pg_sleep(43)');
    const session = h.gateway.sessions.list().find((s) => s.identity.actor === 'agent:report-bot');
    assert.equal(session?.identity.subject, erin.user.id, 'the gateway sees the person');
    assert.equal(session?.identity.issuerName, 'builtin', 'judged as their issuer');
    const disabledAt = performance.now();
    await h.idp.directory.users.setDisabled(erin.user.id, true, 'left', Date.now());
    const { error, at } = await failed;
    assert.ok(at - disabledAt < DEADLINE_MS, `ended ${Math.round(at - disabledAt)} ms later`);
    assert.equal(error.message, 'terminating connection: account disabled: left');
    await client.end().catch(() => undefined);
    const refused = await connectError(h, agent, { user: 'reporting' });
    assert.equal(refused.message, 'token rejected: this account is disabled');
  });
});
