import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { SESSION_END_REASONS } from '../audit/events.ts';

/**
 * pgkey's Prometheus metrics, on a registry of its own (never prom-client's global one, so
 * tests and embedders can run several gateways in one process). Labels are small closed sets
 * or operator-configured names (issuer), never client-supplied text: an attacker must not be
 * able to mint series. Timings are histograms in seconds (Prometheus naming conventions).
 */
export interface Metrics {
  readonly registry: Registry;
  /** Accepted: a client got as far as the startup; refused: turned away before (caps, TLS). */
  readonly connectionsTotal: Counter<'outcome'>;
  readonly connectionsActive: Gauge<'state'>;
  /** `reason` is a stable PgkeyError reason (`token_expired`, …) or `ok`. */
  readonly authTotal: Counter<'outcome' | 'reason'>;
  readonly handshakeSeconds: Histogram;
  readonly upstreamConnectSeconds: Histogram;
  readonly bytesTotal: Counter<'direction'>;
  /**
   * The relay adds to these plain numbers per chunk; `pgkey_bytes_total` reads them when
   * scraped. A labelled Counter.inc per chunk costs more than the chunk's own bookkeeping.
   */
  readonly relayedBytes: { clientToServer: number; serverToClient: number };
  readonly sessionsEndedTotal: Counter<'reason'>;
  readonly keyFetchTotal: Counter<'issuer' | 'outcome'>;
  readonly auditWriteSeconds: Histogram<'durable'>;
  /**
   * Read when scraped: `pgkey_audit_dropped_total` and `pgkey_audit_sink_up{sink}`. The
   * gateway points `status` at its AuditLog.
   */
  readonly audit: { status: () => AuditMetricsSource };
}

/** What the audit metrics read (AuditLog.status()). */
export interface AuditMetricsSource {
  readonly dropped: number;
  readonly sinks: readonly { readonly name: string; readonly up: boolean }[];
}

export const CONNECTION_OUTCOMES = ['accepted', 'refused'] as const;
export const CONNECTION_STATES = ['handshake', 'session'] as const;
export const AUTH_OUTCOMES = ['success', 'failure'] as const;
export const BYTE_DIRECTIONS = ['client_to_server', 'server_to_client'] as const;

/** A login through pgkey takes milliseconds (cached keys) to seconds (JWKS fetch, slow DB). */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** An audit append is microseconds; an fdatasync is 0.1 ms (NVMe) to tens of ms (network disk). */
const AUDIT_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
];

export function createMetrics(): Metrics {
  const registry = new Registry();
  const registers = [registry];
  // Process metrics (CPU, memory, event-loop lag, handles), named pgkey_process_* etc.
  collectDefaultMetrics({ register: registry, prefix: 'pgkey_' });

  const relayedBytes = { clientToServer: 0, serverToClient: 0 };
  const audit: Metrics['audit'] = { status: () => ({ dropped: 0, sinks: [] }) };
  const metrics: Metrics = {
    registry,
    relayedBytes,
    audit,
    connectionsTotal: new Counter({
      name: 'pgkey_connections_total',
      help: 'Client connections, by whether they were accepted or refused before the startup.',
      labelNames: ['outcome'],
      registers,
    }),
    connectionsActive: new Gauge({
      name: 'pgkey_connections_active',
      help: 'Client connections open now, by state: handshake (not yet authenticated) or session.',
      labelNames: ['state'],
      registers,
    }),
    authTotal: new Counter({
      name: 'pgkey_auth_total',
      help: 'Authentication attempts, by outcome and stable reason code.',
      labelNames: ['outcome', 'reason'],
      registers,
    }),
    handshakeSeconds: new Histogram({
      name: 'pgkey_handshake_seconds',
      help: 'Time from accepting a connection to ReadyForQuery, including the upstream login.',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    upstreamConnectSeconds: new Histogram({
      name: 'pgkey_upstream_connect_seconds',
      help: 'Time to connect, negotiate TLS and log in to the upstream PostgreSQL.',
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    bytesTotal: new Counter({
      name: 'pgkey_bytes_total',
      help: 'Bytes relayed after authentication, by direction.',
      labelNames: ['direction'],
      registers,
      collect() {
        this.reset();
        this.inc({ direction: 'client_to_server' }, relayedBytes.clientToServer);
        this.inc({ direction: 'server_to_client' }, relayedBytes.serverToClient);
      },
    }),
    sessionsEndedTotal: new Counter({
      name: 'pgkey_sessions_ended_total',
      help: 'Sessions ended, by reason (as in the session.end audit event).',
      labelNames: ['reason'],
      registers,
    }),
    keyFetchTotal: new Counter({
      name: 'pgkey_key_fetch_total',
      help: 'Signing-key (JWKS) fetches, by configured issuer name and outcome.',
      labelNames: ['issuer', 'outcome'],
      registers,
    }),
    auditWriteSeconds: new Histogram({
      name: 'pgkey_audit_write_seconds',
      help: 'Time for an audit event to be written (and fsynced when durable).',
      labelNames: ['durable'],
      buckets: AUDIT_BUCKETS,
      registers,
    }),
  };
  new Counter({
    name: 'pgkey_audit_dropped_total',
    help: 'Audit events dropped because a sink was down and its buffer full (audit.on_failure: continue).',
    registers,
    collect() {
      this.reset();
      this.inc(audit.status().dropped);
    },
  });
  new Gauge({
    name: 'pgkey_audit_sink_up',
    help: 'Whether each audit sink accepts records (1) or has failed (0).',
    labelNames: ['sink'],
    registers,
    collect() {
      this.reset();
      for (const sink of audit.status().sinks) this.set({ sink: sink.name }, sink.up ? 1 : 0);
    },
  });

  // Closed label sets start at zero, so rate() and alerts work before the first event.
  for (const outcome of CONNECTION_OUTCOMES) metrics.connectionsTotal.inc({ outcome }, 0);
  for (const state of CONNECTION_STATES) metrics.connectionsActive.set({ state }, 0);
  for (const reason of SESSION_END_REASONS) metrics.sessionsEndedTotal.inc({ reason }, 0);
  return metrics;
}
