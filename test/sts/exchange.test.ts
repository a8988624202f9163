import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ACCESS_TOKEN_TYPE } from '../../src/sts/api-types.ts';
import { connectError, connectPg, readAudit } from '../support/e2e-clients.ts';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';
import { assertNotInTrail, call, exchange, mint, peek, refused, tokenOf } from './sts-client.ts';

/**
 * Agent delegation by OAuth 2.0 Token Exchange (RFC 8693): a person's FIDO2 token and an
 * agent's name give a short token with `act`, which the gateway sees as a delegated identity.
 * Only rules naming the agent (or `kind: delegated`) match it; audit shows person and agent.
 */
const POLICY = [
  {
    name: 'analysts',
    match: { groups: ['analytics'] },
    databases: ['warehouse'],
    roles: ['analyst', 'reporting'],
  },
  {
    name: 'report-bot-reads',
    match: { groups: ['analytics'], actor: ['agent:report-bot'] },
    databases: ['warehouse'],
    roles: ['reporting'],
  },
];

describe('token service: agent delegation (RFC 8693)', () => {
  let h: GatewayHarness;
  before(async () => {
    h = await startGatewayHarness({
      policy: POLICY,
      tokenService: { exchange: { max_ttl: '15m', default_ttl: '5m', fresh_auth: '10m' } },
    });
  });
  after(async () => {
    await h?.close();
  });

  it('exchanges a person’s token and an agent name for a short token with act', async () => {
    const person = await h.token(['analytics'], { credential_id: 'cred-alice' }, 3600);
    const answer = await exchange(h, person, 'report-bot');
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.issued_token_type, 'urn:ietf:params:oauth:token-type:access_token');
    assert.equal(answer.body.token_type, 'Bearer');
    assert.equal(answer.body.expires_in, 300);
    assert.equal(answer.headers.get('cache-control'), 'no-store');
    const { header, claims } = peek(tokenOf(answer));
    const original = peek(person).claims;
    assert.equal(header.typ, 'at+jwt');
    assert.equal(claims.iss, h.tokenService);
    assert.equal(claims.sub, 'alice');
    assert.deepEqual(claims.act, { sub: 'agent:report-bot' });
    assert.deepEqual(claims.groups, ['analytics']);
    assert.equal(claims.email, 'alice@example.com');
    assert.equal(claims.auth_time, original.auth_time, 'the login time is the person’s');
    assert.equal(claims.acr, 'phrh');
    assert.equal(claims.credential_id, 'cred-alice');
    assert.equal(claims.pgkey_subject_iss, h.issuer.issuer);
    assert.notEqual(claims.jti, original.jti);

    const line = readAudit(h).find((e) => e.type === 'token.exchanged' && e.jti === claims.jti);
    assert.equal(line?.actor, 'alice@example.com');
    assert.equal(line?.subject, 'alice');
    assert.equal(line?.agent, 'agent:report-bot');
    assert.equal(line?.issuer, 'test');
    assert.equal(line?.credential_id, 'cred-alice');
  });

  it('a rule naming the agent grants it read-only access; rules for people do not match it', async () => {
    const person = await h.token(['analytics']);
    const agent = tokenOf(await exchange(h, person, 'report-bot'));
    const client = await connectPg(h, agent, { user: 'reporting' });
    const { rows } = await client.query<{ who: string }>('SELECT current_user AS who');
    assert.equal(rows[0]?.who, 'reporting');
    await client.end();
    const success = readAudit(h).findLast(
      (e) => e.type === 'auth.success' && e.actor === 'agent:report-bot',
    );
    assert.equal(success?.subject, 'alice', 'audit shows the person');
    assert.equal(success?.email, 'alice@example.com');
    assert.equal(success?.issuer, 'test', 'judged as the issuer that signed the person in');
    assert.equal(success?.rule, 'report-bot-reads');

    // `analysts` grants alice `analyst`, but it does not name an actor.
    const refused = await connectError(h, agent, { user: 'analyst' });
    assert.equal(refused.code, '28000');
    assert.match(
      refused.hint ?? '',
      /people acting for themselves \(you act through agent:report-bot\)/,
    );

    const other = tokenOf(await exchange(h, person, 'other-bot'));
    const stranger = await connectError(h, other, { user: 'reporting' });
    assert.equal(stranger.code, '28000');
    assert.match(stranger.hint ?? '', /No rule grants you any role/);
  });

  it('never outlives the person’s token and refuses more than exchange.max_ttl', async () => {
    const person = await h.token(['analytics'], {}, 120);
    const short = await exchange(h, person, 'report-bot', { expires_in: '600' });
    const { claims } = peek(tokenOf(short));
    assert.ok((claims.exp ?? 0) <= (peek(person).claims.exp ?? 0));
    assert.ok((short.body.expires_in as number) <= 120);

    const long = await refused(h, () => exchange(h, person, 'report-bot', { expires_in: '3600' }));
    assert.equal(long.status, 400);
    assert.match(
      String(long.body.error_description),
      /maximum 15m \(token_service.exchange.max_ttl\)/,
    );
    // Refused before the subject token was verified: what was asked for, and no one.
    assert.deepEqual(
      [long.record.operation, long.record.reason, long.record.status],
      ['exchange', 'invalid_request', 400],
    );
    assert.deepEqual([long.record.agent, long.record.ttl], ['agent:report-bot', '3600']);
    assert.equal(long.record.subject, undefined);
    assertNotInTrail(h, person);
  });

  it('refuses a login older than exchange.fresh_auth, and audits no exchange', async () => {
    const exchanged = () => readAudit(h).filter((e) => e.type === 'token.exchanged').length;
    const before = exchanged();
    const stale = await h.token(['analytics'], {
      auth_time: Math.floor(Date.now() / 1000) - 20 * 60,
    });
    const answer = await refused(h, () => exchange(h, stale, 'report-bot'));
    assert.equal(answer.status, 401);
    assert.equal(answer.body.error, 'insufficient_user_authentication');
    assert.match(String(answer.body.error_description), /within the last 10m; yours was 20m/);
    assert.equal(answer.body.access_token, undefined);
    assert.equal(exchanged(), before);
    // It is recorded as refused, naming the person whose (verified) subject token it was.
    const { time, id, chain, seq, prev, client, ...record } = answer.record;
    assert.deepEqual(record, {
      type: 'token.refused',
      operation: 'exchange',
      reason: 'stale_auth',
      status: 401,
      agent: 'agent:report-bot',
      issuer: 'test',
      subject: 'alice',
      email: 'alice@example.com',
      groups: ['analytics'],
    });
    assert.equal((client as { address: string }).address, '127.0.0.1');
    assert.ok([time, id, chain, seq, prev].every((field) => field !== undefined));
    assertNotInTrail(h, stale);
  });

  it('answers RFC 8693 errors for requests it cannot serve', async () => {
    const person = await h.token(['analytics']);
    const grant = await refused(h, () =>
      exchange(h, person, 'report-bot', { grant_type: 'password' }),
    );
    assert.equal(grant.status, 400);
    assert.equal(grant.body.error, 'unsupported_grant_type');
    assert.equal(grant.record.reason, 'unsupported_grant_type');
    const noActor = await exchange(h, person, '');
    assert.equal(noActor.body.error, 'invalid_request');
    const type = await exchange(h, person, 'report-bot', { actor_token_type: 'urn:x' });
    assert.match(String(type.body.error_description), /agent-name/);
    const audience = await exchange(h, person, 'report-bot', { audience: 'elsewhere' });
    assert.equal(audience.body.error, 'invalid_target');
    const forgedToken = `${person.slice(0, -4)}AAAA`;
    const forged = await refused(h, () => exchange(h, forgedToken, 'report-bot'));
    assert.equal(forged.status, 400, 'RFC 8693 §2.2.2: a bad subject token is invalid_request');
    assert.equal(forged.body.error, 'invalid_request');
    // The status the client saw (400, not the verifier's 401), and the verifier's reason.
    assert.equal(forged.record.status, 400);
    assert.match(String(forged.record.reason), /^token_/);
    assert.equal(forged.record.subject, undefined);
    const json = await refused(h, () =>
      call(h, 'POST', '/v1/token', { json: { grant_type: 'x' } }),
    );
    assert.equal(json.status, 400);
    assert.equal(json.record.operation, 'exchange');
    // An actor_token that is not an agent name is never recorded: it could be a token.
    const actorToken = await refused(h, () =>
      exchange(h, person, person, { actor_token_type: ACCESS_TOKEN_TYPE }),
    );
    assert.equal(actorToken.status, 400);
    assert.equal(actorToken.record.agent, undefined);
    assertNotInTrail(h, person, forgedToken);
  });

  it('refuses to delegate from anything but a person’s own FIDO2 token', async () => {
    const person = await h.token(['analytics']);
    const agent = tokenOf(await exchange(h, person, 'report-bot'));
    const chained = await refused(h, () => exchange(h, agent, 'another-bot'));
    assert.equal(chained.status, 403);
    assert.match(String(chained.body.error_description), /an agent \(agent:report-bot\) cannot/);
    // The caller acts through agent:report-bot (`actor`) and asked for agent:another-bot.
    assert.deepEqual(
      [chained.record.reason, chained.record.subject, chained.record.actor, chained.record.agent],
      ['person_required', 'alice', 'agent:report-bot', 'agent:another-bot'],
    );
    assertNotInTrail(h, person, agent);
    const minted = await mint(h, agent, { name: 'x', database: 'warehouse', role: 'reporting' });
    assert.equal(minted.status, 403, 'an agent mints nothing');
  });
});
