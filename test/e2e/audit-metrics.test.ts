import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  backendKey,
  connectPg,
  metricValue,
  readAudit,
  scrapeMetrics,
  sendCancel,
  waitFor,
} from '../support/e2e-clients.ts';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';

describe('audit trail and metrics for a known set of connections', () => {
  let h: GatewayHarness;
  before(async () => {
    h = await startGatewayHarness();
  });
  after(async () => {
    await h?.close();
  });

  it('records one auth event per login attempt, sessions in order, and no token text', async () => {
    const metricsBefore = await scrapeMetrics(h);
    const tokens: string[] = [];
    const token = async (...args: Parameters<GatewayHarness['token']>): Promise<string> => {
      const issued = await h.token(...args);
      tokens.push(issued);
      return issued;
    };

    // Three sessions: two psql runs and a pg client that also gets a cancel.
    const analyst = await token(['analytics']);
    for (const user of ['analyst', 'reporting']) {
      const ok = await h.psql(
        analyst,
        ['-At', '-c', 'SELECT count(*) FROM generate_series(1, 10)'],
        {
          user,
        },
      );
      assert.equal(ok.stdout, '10\n');
    }
    const client = await connectPg(h, await token(['dba']), { user: 'app_owner' });
    const canceled = client.query('SELECT pg_sleep(30)').catch((error: unknown) => error);
    await waitFor('pg_sleep upstream', async () => {
      const r = await h.pg.query(
        "SELECT 1 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)'",
      );
      return r.rowCount === 1;
    });
    const key = backendKey(client);
    await sendCancel(h, key.processId, key.secretKey);
    assert.equal(((await canceled) as { code?: string }).code, '57014');
    await client.end();

    // Four refusals: policy, expired, malformed, and a token from a key the gateway never saw.
    const denied = await h.psql(await token(['analytics']), ['-c', 'SELECT 1'], {
      user: 'app_owner',
    });
    const expired = await h.psql(await token(['analytics'], {}, -120), ['-c', 'SELECT 1']);
    const garbage = 'not-a-token-' + 'x'.repeat(40);
    tokens.push(garbage);
    const malformed = await h.psql(garbage, ['-c', 'SELECT 1']);
    const forged = (await token(['analytics'])).replace(/\.[^.]+$/, `.${'A'.repeat(86)}`);
    tokens.push(forged);
    const badSignature = await h.psql(forged, ['-c', 'SELECT 1']);
    for (const refused of [denied, expired, malformed, badSignature]) {
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /FATAL: {2}/);
    }

    // Not login attempts: a TCP probe that says nothing, and a cancel for an unknown key.
    await new Promise<void>((resolve, reject) => {
      const probe = net.connect({ host: '127.0.0.1', port: h.gateway.port }, () => probe.end());
      probe.once('error', reject).once('close', () => resolve());
    });
    await sendCancel(h, 12345, 678);

    const records = await waitFor('three session.end records', () => {
      const all = readAudit(h);
      return all.filter((e) => e.type === 'session.end').length === 3 ? all : undefined;
    });
    const auth = records.filter((e) => e.type.startsWith('auth.'));
    assert.deepEqual(
      auth.map((e) => [e.type, e.type === 'auth.success' ? e.role : e.reason]),
      [
        ['auth.success', 'analyst'],
        ['auth.success', 'reporting'],
        ['auth.success', 'app_owner'],
        ['auth.failure', 'policy_denied'],
        ['auth.failure', 'token_expired'],
        ['auth.failure', 'token_malformed'],
        ['auth.failure', 'token_signature_invalid'],
      ],
    );
    assert.equal(new Set(auth.map((e) => e.session)).size, 7, 'one session id per attempt');

    for (const success of auth.filter((e) => e.type === 'auth.success')) {
      const events = records.filter((e) => e.session === success.session);
      assert.deepEqual(
        events.map((e) => e.type),
        ['auth.success', 'session.start', 'session.end'],
      );
      const end = events[2]!;
      assert.equal(end.reason, 'client_closed');
      assert.ok((end.bytes_from_client ?? 0) > 0, 'bytes from the client were counted');
      assert.ok((end.bytes_from_server ?? 0) > 0, 'bytes from the server were counted');
      assert.equal(events[1]?.rule, success.rule);
    }
    for (const failure of auth.filter((e) => e.type === 'auth.failure')) {
      assert.deepEqual(
        records.filter((e) => e.session === failure.session).map((e) => e.type),
        ['auth.failure'],
      );
    }

    // Tokens never reach the audit trail, whole or in part (the signature is the secret bit).
    const file = readFileSync(h.auditFile, 'utf8');
    for (const text of tokens) {
      assert.ok(!file.includes(text), 'a token is in the audit file');
      for (const part of text.split('.')) {
        if (part.length >= 16)
          assert.ok(!file.includes(part), 'a token segment is in the audit file');
      }
    }

    const metricsAfter = await scrapeMetrics(h);
    const moved = (labels: Record<string, string>): number =>
      metricValue(metricsAfter, 'pgkey_auth_total', labels) -
      metricValue(metricsBefore, 'pgkey_auth_total', labels);
    assert.equal(moved({ outcome: 'success' }), 3);
    assert.equal(moved({ outcome: 'failure' }), 4);
    assert.equal(moved({ outcome: 'failure', reason: 'policy_denied' }), 1);
    assert.equal(moved({ outcome: 'failure', reason: 'token_expired' }), 1);
    const ended = (text: string): number =>
      metricValue(text, 'pgkey_sessions_ended_total', { reason: 'client_closed' });
    assert.equal(ended(metricsAfter) - ended(metricsBefore), 3);
    const relayed = (text: string): number =>
      metricValue(text, 'pgkey_bytes_total', { direction: 'server_to_client' });
    assert.ok(relayed(metricsAfter) > relayed(metricsBefore));
  });
});
