import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectError, connectPg, readAudit } from '../support/e2e-clients.ts';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';
import { assertNotInTrail, call, mint, peek, refused, tokenOf } from './sts-client.ts';

/**
 * Human-minted service tokens over real HTTP, used through the real gateway: the refusals
 * the issue names (stale login, a role the person lacks, a lifetime over the maximum, a
 * caller that is not a person with a security key) and the grant the gateway enforces.
 */
const POLICY = [
  {
    name: 'analysts',
    match: { groups: ['analytics'] },
    databases: ['warehouse'],
    roles: ['analyst', 'reporting'],
  },
  // Matches everybody (a config warning says so): a service token must still not use it.
  { name: 'everyone', match: {}, databases: ['postgres'], roles: ['analyst'] },
];

describe('token service: minting service tokens', () => {
  let h: GatewayHarness;
  before(async () => {
    h = await startGatewayHarness({
      policy: POLICY,
      tokenService: { mint: { fresh_auth: '5m', max_ttl: '1h' }, admin_group: 'pgkey-admins' },
    });
  });
  after(async () => {
    await h?.close();
  });

  it('mints a token for svc:<name> that records who minted it and with which key', async () => {
    const person = await h.token(['analytics'], { credential_id: 'cred-alice' });
    const answer = await mint(h, person, {
      name: 'ci-deploy',
      database: 'warehouse',
      role: 'reporting',
      ttl: '15m',
    });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    assert.equal(answer.headers.get('cache-control'), 'no-store');
    assert.equal(answer.headers.get('access-control-allow-origin'), null, 'CORS stays off');
    assert.equal(answer.body.token_type, 'Bearer');
    assert.equal(answer.body.expires_in, 900);
    const { header, claims } = peek(tokenOf(answer));
    assert.equal(header.typ, 'at+jwt');
    assert.equal(header.alg, 'ES256');
    assert.equal(claims.iss, h.tokenService);
    assert.equal(claims.aud, 'pgkey');
    assert.equal(claims.sub, 'svc:ci-deploy');
    assert.equal(typeof claims.jti, 'string');
    assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 900);
    assert.deepEqual(claims.pgkey_grant, {
      database: 'warehouse',
      role: 'reporting',
      rule: 'analysts',
    });
    assert.deepEqual(claims.minted_by, {
      issuer: h.issuer.issuer,
      sub: 'alice',
      email: 'alice@example.com',
      credential_id: 'cred-alice',
    });
    const record = answer.body.token as Record<string, unknown>;
    assert.equal(record.jti, claims.jti);
    assert.equal(record.subject, 'svc:ci-deploy');
    assert.equal(record.state, 'active');

    const line = readAudit(h).find((e) => e.type === 'token.minted' && e.jti === claims.jti);
    assert.ok(line !== undefined, 'token.minted is audited');
    assert.equal(line.actor, 'alice@example.com');
    assert.equal(line.subject, 'svc:ci-deploy');
    assert.equal(line.credential_id, 'cred-alice');
    assert.equal(line.issuer, 'test');
    assert.equal(line.database, 'warehouse');
    assert.equal(line.role, 'reporting');
    assert.equal(line.name, 'ci-deploy');
    assert.equal(line.expires, new Date((claims.exp ?? 0) * 1000).toISOString());
  });

  it('refuses a stale login with 401 and an RFC 9470 step-up challenge', async () => {
    const stale = await h.token(['analytics'], {
      auth_time: Math.floor(Date.now() / 1000) - 10 * 60,
      credential_id: 'cred-alice',
    });
    const answer = await refused(h, () =>
      mint(h, stale, { name: 'ci', database: 'warehouse', role: 'reporting', ttl: 900 }),
    );
    assert.equal(answer.status, 401);
    assert.equal(answer.body.error, 'insufficient_user_authentication');
    assert.match(String(answer.body.error_description), /within the last 5m; yours was 10m/);
    assert.match(
      answer.headers.get('www-authenticate') ?? '',
      /^Bearer realm="pgkey", error="insufficient_user_authentication", error_description="[^"]+", max_age=300$/,
    );
    // SOC 2 CC7.2: the refusal is in the trail, naming who asked for what, and no token.
    const { time, id, chain, seq, prev, client, ...record } = answer.record;
    assert.deepEqual(record, {
      type: 'token.refused',
      operation: 'mint',
      reason: 'stale_auth',
      status: 401,
      name: 'ci',
      database: 'warehouse',
      role: 'reporting',
      ttl: '900',
      issuer: 'test',
      subject: 'alice',
      email: 'alice@example.com',
      groups: ['analytics'],
      credential_id: 'cred-alice',
    });
    assert.equal((client as { address: string }).address, '127.0.0.1');
    assert.ok([time, id, chain, seq, prev].every((field) => field !== undefined));
    assertNotInTrail(h, stale);
  });

  it('refuses a role the policy does not grant the person with 403', async () => {
    const person = await h.token(['analytics']);
    const answer = await refused(h, () =>
      mint(h, person, { name: 'ci', database: 'warehouse', role: 'app_owner' }),
    );
    assert.equal(answer.status, 403);
    assert.equal(answer.body.error, 'access_denied');
    assert.match(String(answer.body.error_description), /may not use role "app_owner"/);
    assert.match(String(answer.body.hint), /Roles you may use: analyst, reporting on warehouse/);
    const { record } = answer;
    assert.deepEqual(
      [record.operation, record.reason, record.status, record.subject],
      ['mint', 'policy_denied', 403, 'alice'],
    );
    assert.deepEqual([record.name, record.database, record.role], ['ci', 'warehouse', 'app_owner']);
    assertNotInTrail(h, person);
  });

  it('refuses a lifetime over the maximum with 400 naming the maximum', async () => {
    const person = await h.token(['analytics']);
    const answer = await refused(h, () =>
      mint(h, person, { name: 'ci', database: 'warehouse', role: 'reporting', ttl: '2h' }),
    );
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error, 'invalid_request');
    assert.equal(
      answer.body.error_description,
      'ttl 2h is longer than the maximum 1h (token_service.mint.max_ttl)',
    );
    const { record } = answer;
    assert.deepEqual(
      [record.operation, record.reason, record.status, record.ttl, record.email],
      ['mint', 'invalid_request', 400, '2h', 'alice@example.com'],
    );
    assertNotInTrail(h, person);
  });

  it('refuses callers that are not a person signed in with a security key', async () => {
    const noFido = await h.token(['analytics'], { acr: undefined, amr: undefined });
    const plain = await refused(h, () =>
      mint(h, noFido, { name: 'ci', database: 'warehouse', role: 'reporting' }),
    );
    assert.equal(plain.status, 401);
    assert.equal(plain.body.error, 'insufficient_user_authentication');
    // Refused at verification: no identity, and the body was never read.
    assert.deepEqual(
      [plain.record.operation, plain.record.reason, plain.record.status],
      ['mint', 'fido2_missing', 401],
    );
    for (const field of ['subject', 'email', 'issuer', 'name', 'database', 'role']) {
      assert.equal(plain.record[field], undefined, field);
    }

    const person = await h.token(['analytics']);
    const service = tokenOf(
      await mint(h, person, { name: 'nested', database: 'warehouse', role: 'reporting' }),
    );
    const chained = await refused(h, () =>
      mint(h, service, { name: 'ci', database: 'warehouse', role: 'reporting' }),
    );
    assert.equal(chained.status, 403);
    assert.match(String(chained.body.error_description), /service token cannot mint/);
    assert.deepEqual(
      [chained.record.reason, chained.record.subject, chained.record.minted_by],
      ['person_required', 'svc:nested', 'alice@example.com'],
    );

    const none = await refused(h, () => call(h, 'POST', '/v1/tokens', { json: { name: 'ci' } }));
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="pgkey"');
    assert.deepEqual([none.record.reason, none.record.subject], ['token_missing', undefined]);

    const bad = await refused(h, () =>
      mint(h, 'not-a-jwt', { name: 'ci', database: 'warehouse', role: 'x' }),
    );
    assert.equal(bad.status, 401);
    assert.equal(bad.body.error, 'invalid_token');
    assert.match(bad.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    assert.equal(bad.record.status, 401);
    assert.equal(bad.record.subject, undefined);
    assertNotInTrail(h, noFido, service, 'not-a-jwt');
  });

  it('refuses malformed requests before anything is signed', async () => {
    const person = await h.token(['analytics']);
    for (const [request, pattern] of [
      [{ name: 'CI Deploy', database: 'warehouse', role: 'reporting' }, /name must be/],
      [{ name: 'ci', database: '*', role: 'reporting' }, /one named database/],
      [{ name: 'ci', db: 'warehouse', role: 'reporting' }, /unknown field "db"/],
      [{ name: 'ci', database: 'warehouse', role: 'reporting', ttl: 'soon' }, /ttl must be/],
    ] as const) {
      const answer = await refused(h, () => mint(h, person, request));
      assert.equal(answer.status, 400, JSON.stringify(request));
      assert.match(String(answer.body.error_description), pattern);
      assert.equal(answer.record.reason, 'invalid_request');
    }
  });

  it('opens only its own database and role at the gateway, even where a rule allows more', async () => {
    const person = await h.token(['analytics']);
    const service = tokenOf(
      await mint(h, person, { name: 'ci-deploy', database: 'warehouse', role: 'reporting' }),
    );
    const client = await connectPg(h, service, { user: 'reporting', database: 'warehouse' });
    const { rows } = await client.query<{ user: string }>('SELECT current_user AS user');
    assert.equal(rows[0]?.user, 'reporting');
    await client.end();
    const success = readAudit(h).findLast(
      (e) => e.type === 'auth.success' && e.subject === 'svc:ci-deploy',
    );
    assert.equal(success?.rule, 'minted:analysts');
    assert.equal(success?.minted_by, 'alice@example.com');

    const otherRole = await connectError(h, service, { user: 'analyst', database: 'warehouse' });
    assert.equal(otherRole.code, '28000');
    assert.match(otherRole.message, /this service token opens only role "reporting"/);
    // The empty-match rule `everyone` would let any identity use analyst on postgres.
    const otherDb = await connectError(h, service, { user: 'analyst', database: 'postgres' });
    assert.equal(otherDb.code, '28000');
  });

  it('lists the tokens a person minted; an administrator sees everyone’s', async () => {
    const alice = await h.token(['analytics']);
    const bob = await h.token(['analytics'], { sub: 'bob', email: 'bob@example.com' });
    const mine = tokenOf(
      await mint(h, bob, { name: 'bob-job', database: 'warehouse', role: 'analyst' }),
    );
    const listed = await call(h, 'GET', '/v1/tokens', { token: bob });
    assert.equal(listed.status, 200);
    const tokens = listed.body.tokens as Record<string, unknown>[];
    assert.deepEqual(
      tokens.map((t) => t.jti),
      [peek(mine).claims.jti],
      'bob sees his token only',
    );
    const aliceList = (await call(h, 'GET', '/v1/tokens', { token: alice })).body.tokens as Record<
      string,
      unknown
    >[];
    assert.ok(aliceList.length >= 1);
    assert.ok(aliceList.every((t) => (t.minted_by as { sub: string }).sub === 'alice'));
    const admin = await h.token(['pgkey-admins'], { sub: 'root', email: 'root@example.com' });
    const all = (await call(h, 'GET', '/v1/tokens', { token: admin })).body.tokens as unknown[];
    assert.equal(all.length, aliceList.length + 1);

    const jti = String(peek(mine).claims.jti);
    const denied = await refused(h, () => call(h, 'DELETE', `/v1/tokens/${jti}`, { token: alice }));
    assert.equal(denied.status, 404, 'someone else’s token is not yours to revoke');
    assert.deepEqual(
      [denied.record.operation, denied.record.reason, denied.record.status, denied.record.jti],
      ['revoke', 'token_not_found', 404, jti],
    );
    assert.equal(denied.record.email, 'alice@example.com');
    // Reads are not recorded (routes.ts): a refused list leaves no token.refused.
    const before = readAudit(h).length;
    assert.equal((await call(h, 'GET', '/v1/tokens', { token: 'not-a-jwt' })).status, 401);
    assert.ok(
      readAudit(h)
        .slice(before)
        .every((e) => e.type !== 'token.refused'),
    );
    assertNotInTrail(h, alice, bob, mine, admin);
  });
});
