/**
 * pgkey's own connection to PostgreSQL for provisioning, separate from every session: it logs
 * in as `provisioning.admin_role` with a certificate from the upstream CA, like sessions do
 * (the CN is the admin role), over TLS verify-full to the same server. A small pool of
 * node-postgres clients; a client that breaks is dropped and the next checkout reconnects
 * with a certificate that is still fresh.
 */
import tls from 'node:tls';
import pg from 'pg';
import { PgkeyError, isPgkeyError } from '../errors/pgkey-error.ts';
import type { UpstreamCredential, UpstreamTarget } from '../upstream/connector.ts';

/** The longest one provisioning statement may run, server side. */
const STATEMENT_TIMEOUT_MS = 60_000;
/** How much longer the client waits before it gives the connection up as dead. */
const CLIENT_SLACK_MS = 5_000;

export type Row = Record<string, unknown>;
export type Sql = (text: string, values?: readonly unknown[]) => Promise<Row[]>;

export interface AdminConnectionOptions {
  readonly target: UpstreamTarget;
  readonly role: string;
  readonly database: string;
  readonly poolSize: number;
  /** Connecting, and waiting for a lock (lock_timeout), each give up after this long. */
  readonly timeoutMs: number;
  /** The admin role's certificate (cached by the issuer until it nears expiry). */
  readonly credential: (role: string) => Promise<UpstreamCredential>;
}

export class AdminConnection {
  readonly #options: AdminConnectionOptions;
  readonly #pool: pg.Pool;
  #ssl: tls.ConnectionOptions | undefined;

  constructor(options: AdminConnectionOptions) {
    this.#options = options;
    const ssl = (): tls.ConnectionOptions => {
      if (this.#ssl === undefined) throw new TypeError('admin credential not loaded');
      return this.#ssl;
    };
    // The pool builds each client from its options: this class gives every new one the
    // certificate current at that moment, so one that expired is never presented.
    class AdminClient extends pg.Client {
      constructor(config?: pg.ClientConfig) {
        super({ ...config, ssl: ssl() });
      }
    }
    this.#pool = new pg.Pool({
      ...this.#clientConfig(options.database),
      max: options.poolSize,
      idleTimeoutMillis: 60_000,
      Client: AdminClient as unknown as new () => pg.ClientBase,
    });
    this.#pool.on('error', () => undefined); // an idle client died; the next checkout reconnects
  }

  /** Runs `work` in one transaction (BEGIN … COMMIT, ROLLBACK when it throws). */
  async transaction<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
    await this.#loadCredential();
    const client = await this.#pool.connect().catch((error: unknown) => {
      throw unavailable(error);
    });
    let broken: Error | undefined;
    // pg-pool takes its own 'error' listener off a client while it is checked out, and a
    // client with none throws from its socket handler: a backend terminated while this
    // transaction waits between statements (idle_in_transaction_session_timeout,
    // pg_terminate_backend, a restart — retire's REASSIGN in other databases takes long)
    // would take the whole gateway down. The next statement fails instead.
    const onError = (error: Error): void => {
      broken ??= error;
    };
    client.on('error', onError);
    try {
      const sql = bind(client);
      await sql('BEGIN');
      try {
        const result = await work(sql);
        await sql('COMMIT');
        return result;
      } catch (error) {
        await sql('ROLLBACK').catch((rollback: unknown) => {
          broken = rollback instanceof Error ? rollback : new Error(String(rollback));
        });
        throw error;
      }
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  /**
   * Runs `work` in one transaction of a connection of its own to another database (REASSIGN
   * OWNED and DROP OWNED act on the current database only).
   */
  async inDatabase<T>(database: string, work: (sql: Sql) => Promise<T>): Promise<T> {
    await this.#loadCredential();
    const client = new pg.Client({ ...this.#clientConfig(database), ssl: this.#ssl });
    client.on('error', () => undefined);
    await client.connect().catch((error: unknown) => {
      throw unavailable(error);
    });
    try {
      const sql = bind(client);
      await sql('BEGIN');
      const result = await work(sql);
      await sql('COMMIT');
      return result;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    await this.#pool.end().catch(() => undefined);
  }

  #clientConfig(database: string): pg.ClientConfig {
    const { target, role, timeoutMs } = this.#options;
    return {
      host: target.host,
      port: target.port,
      user: role,
      database,
      application_name: 'pgkey provisioning',
      connectionTimeoutMillis: timeoutMs,
      lock_timeout: timeoutMs,
      // A statement (REASSIGN OWNED in a large database) may take longer than a connect, but
      // never forever; the client-side limit also ends a wait on a silently dead network path,
      // where the server-side one cannot, and keepalives notice such a path while idle.
      statement_timeout: Math.max(timeoutMs, STATEMENT_TIMEOUT_MS),
      query_timeout: Math.max(timeoutMs, STATEMENT_TIMEOUT_MS) + CLIENT_SLACK_MS,
      keepAlive: true,
    };
  }

  async #loadCredential(): Promise<void> {
    const { target, role } = this.#options;
    const credential = await this.#options.credential(role);
    if (credential.kind !== 'cert') {
      throw new PgkeyError('ERR_CONFIG', {
        message: 'provisioning needs upstream.auth "cert"',
        reason: 'provision_auth',
      });
    }
    const name = target.servername;
    this.#ssl = {
      ca: target.ca,
      key: credential.key,
      cert: credential.cert,
      minVersion: 'TLSv1.2',
      rejectUnauthorized: true,
      // verify-full against the configured name, as the session connector does.
      checkServerIdentity: (_host, cert) => tls.checkServerIdentity(name, cert),
    };
  }
}

function bind(client: pg.ClientBase): Sql {
  return async (text, values) =>
    (await client.query<Row>(text, values === undefined ? undefined : [...values])).rows;
}

function unavailable(error: unknown): PgkeyError {
  if (isPgkeyError(error)) return error;
  return new PgkeyError('ERR_PROVISION_FAILED', {
    reason: 'provision_admin_unavailable',
    hint: 'pgkey cannot reach PostgreSQL as its provisioning role; ask whoever runs pgkey',
    cause: error,
  });
}
