import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { register as globalRegistry } from 'prom-client';
import { createMetrics } from '../../src/ops/metrics.ts';

describe('createMetrics', () => {
  it('uses its own registry, so two gateways in one process do not collide', async () => {
    const a = createMetrics();
    const b = createMetrics();
    a.relayedBytes.clientToServer += 42;
    assert.notEqual(a.registry, globalRegistry);
    assert.match(
      await a.registry.metrics(),
      /pgkey_bytes_total\{direction="client_to_server"\} 42/,
    );
    assert.match(await b.registry.metrics(), /pgkey_bytes_total\{direction="client_to_server"\} 0/);
    assert.equal(
      await globalRegistry.getSingleMetricAsString('pgkey_bytes_total').catch(() => ''),
      '',
    );
  });

  it('names every metric pgkey_* and gives each help text', async () => {
    const metrics = createMetrics();
    const all = await metrics.registry.getMetricsAsJSON();
    assert.ok(all.length > 9);
    for (const metric of all) {
      assert.match(metric.name, /^pgkey_[a-z0-9_]+$/);
      assert.ok(metric.help.length > 10, metric.name);
    }
    const names = new Set(all.map((metric) => metric.name));
    for (const name of [
      'pgkey_connections_total',
      'pgkey_connections_active',
      'pgkey_auth_total',
      'pgkey_handshake_seconds',
      'pgkey_upstream_connect_seconds',
      'pgkey_bytes_total',
      'pgkey_sessions_ended_total',
      'pgkey_key_fetch_total',
      'pgkey_audit_write_seconds',
      'pgkey_process_resident_memory_bytes',
      'pgkey_nodejs_eventloop_lag_seconds',
    ]) {
      assert.ok(names.has(name), `${name} missing`);
    }
  });

  it('buckets handshakes from 1 ms to 10 s', async () => {
    const metrics = createMetrics();
    metrics.handshakeSeconds.observe(0.0008);
    metrics.handshakeSeconds.observe(9);
    const text = await metrics.registry.getSingleMetricAsString('pgkey_handshake_seconds');
    assert.match(text, /_bucket\{le="0.001"\} 1$/m);
    assert.match(text, /_bucket\{le="10"\} 2$/m);
  });

  it('tracks active connections by state', async () => {
    const metrics = createMetrics();
    metrics.connectionsActive.inc({ state: 'handshake' });
    metrics.connectionsActive.dec({ state: 'handshake' });
    metrics.connectionsActive.inc({ state: 'session' });
    const text = await metrics.registry.getSingleMetricAsString('pgkey_connections_active');
    assert.match(text, /\{state="handshake"\} 0$/m);
    assert.match(text, /\{state="session"\} 1$/m);
  });
});
