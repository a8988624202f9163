import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import { describe, it } from 'node:test';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';
import { startAdminServer, type HealthStatus } from '../../src/ops/admin-server.ts';
import { createMetrics } from '../../src/ops/metrics.ts';

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** A raw node:http request, so HEAD, bodies and keep-alive are under the test's control. */
function call(
  address: string,
  path: string,
  options: { method?: string; body?: string; agent?: Agent } = {},
): Promise<Reply> {
  const url = new URL(`http://${address}${path}`);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method: options.method ?? 'GET',
        agent: options.agent,
        headers:
          options.body === undefined ? {} : { 'content-length': Buffer.byteLength(options.body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

async function withServer(
  health: () => HealthStatus,
  fn: (address: string, metrics: ReturnType<typeof createMetrics>) => Promise<void>,
): Promise<void> {
  const metrics = createMetrics();
  const server = await startAdminServer({ address: '127.0.0.1:0', metrics, health });
  try {
    await fn(server.address, metrics);
  } finally {
    await server.close();
  }
}

const healthy = (): HealthStatus => ({ ok: true, detail: { sessions: 3 } });

describe('admin server', () => {
  it('serves Prometheus text with the pgkey_ metrics over real HTTP', async () => {
    await withServer(healthy, async (address, metrics) => {
      metrics.connectionsTotal.inc({ outcome: 'accepted' });
      metrics.authTotal.inc({ outcome: 'failure', reason: 'token_expired' });
      metrics.handshakeSeconds.observe(0.012);
      const reply = await call(address, '/metrics?name[]=ignored');
      assert.equal(reply.status, 200);
      assert.match(String(reply.headers['content-type']), /^text\/plain; version=0\.0\.4/);
      assert.equal(reply.headers['cache-control'], 'no-store');
      assert.match(reply.body, /^pgkey_connections_total\{outcome="accepted"\} 1$/m);
      assert.match(reply.body, /^pgkey_connections_total\{outcome="refused"\} 0$/m);
      assert.match(reply.body, /^pgkey_auth_total\{outcome="failure",reason="token_expired"\} 1$/m);
      assert.match(reply.body, /^pgkey_handshake_seconds_bucket\{le="0.025"\} 1$/m);
      assert.match(reply.body, /^pgkey_sessions_ended_total\{reason="idle_timeout"\} 0$/m);
      assert.match(reply.body, /^pgkey_process_cpu_seconds_total /m);
      assert.match(reply.body, /^# HELP pgkey_bytes_total \S/m);
    });
  });

  it('answers /healthz 200 when ok and 503 when not (draining)', async () => {
    let status: HealthStatus = healthy();
    await withServer(
      () => status,
      async (address) => {
        const ok = await call(address, '/healthz');
        assert.equal(ok.status, 200);
        assert.equal(ok.headers['content-type'], 'application/json');
        assert.deepEqual(JSON.parse(ok.body), { ok: true, sessions: 3 });
        status = { ok: false, detail: { draining: true } };
        const draining = await call(address, '/healthz');
        assert.equal(draining.status, 503);
        assert.deepEqual(JSON.parse(draining.body), { ok: false, draining: true });
      },
    );
  });

  it('answers 503, not a crash, when the health check throws', async () => {
    await withServer(
      () => {
        throw new Error('boom');
      },
      async (address) => {
        const reply = await call(address, '/healthz');
        assert.equal(reply.status, 503);
        assert.equal((JSON.parse(reply.body) as { ok: boolean }).ok, false);
      },
    );
  });

  it('answers 404 for other paths, 405 for other methods, 413 for a body', async () => {
    await withServer(healthy, async (address) => {
      for (const path of ['/', '/metrics/', '/METRICS', '/admin', '//metrics']) {
        assert.equal((await call(address, path)).status, 404, path);
      }
      const post = await call(address, '/metrics', { method: 'POST' });
      assert.equal(post.status, 405);
      assert.equal(post.headers.allow, 'GET, HEAD');
      const withBody = await call(address, '/healthz', { method: 'GET', body: 'x'.repeat(1000) });
      assert.equal(withBody.status, 413);
    });
  });

  it('handles HEAD with headers and no body', async () => {
    await withServer(healthy, async (address) => {
      const metrics = await call(address, '/metrics', { method: 'HEAD' });
      assert.equal(metrics.status, 200);
      assert.equal(metrics.body, '');
      assert.ok(Number(metrics.headers['content-length']) > 100);
      const health = await call(address, '/healthz', { method: 'HEAD' });
      assert.equal(health.status, 200);
      assert.equal(health.body, '');
    });
  });

  it('closes promptly while a keep-alive connection is open', async () => {
    const agent = new Agent({ keepAlive: true });
    const server = await startAdminServer({
      address: '127.0.0.1:0',
      metrics: createMetrics(),
      health: healthy,
    });
    assert.equal((await call(server.address, '/healthz', { agent })).status, 200);
    // Without closeIdleConnections this would wait for keepAliveTimeout (5 s) or more.
    const started = Date.now();
    await server.close();
    await server.close(); // idempotent
    assert.ok(Date.now() - started < CLOSE_BOUND_MS, 'close() waited for the idle connection');
    agent.destroy();
  });

  it('refuses a malformed address and an address in use with ERR_CONFIG', async () => {
    const options = { metrics: createMetrics(), health: healthy };
    for (const address of ['9187', 'localhost', 'host:99999', '[::1]']) {
      await assert.rejects(startAdminServer({ ...options, address }), (error) =>
        isPgkeyError(error, 'ERR_CONFIG'),
      );
    }
    const first = await startAdminServer({ ...options, address: '127.0.0.1:0' });
    try {
      await assert.rejects(startAdminServer({ ...options, address: first.address }), (error) =>
        isPgkeyError(error, 'ERR_CONFIG'),
      );
    } finally {
      await first.close();
    }
  });

  it('listens on IPv6 and reports the bracketed address', async (t) => {
    let server;
    try {
      server = await startAdminServer({
        address: '[::1]:0',
        metrics: createMetrics(),
        health: healthy,
      });
    } catch {
      t.skip('no IPv6 loopback here');
      return;
    }
    assert.match(server.address, /^\[::1\]:\d+$/);
    assert.equal((await call(server.address, '/healthz')).status, 200);
    await server.close();
  });
});

/** Far below the 5 s keep-alive timeout; a generous bound, not a performance assertion. */
const CLOSE_BOUND_MS = 1500;
