import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import pg from 'pg';
import { cancelRequest, sslRequest } from '../../src/protocol/frontend-serializer.ts';
import { run, type GatewayHarness, type RunResult } from './gateway-harness.ts';

/**
 * Client-side helpers for the end-to-end suites: `pg` clients through the gateway, psql
 * processes the test can signal or stream, hand-rolled CancelRequests, the audit file and
 * /metrics, and polling for a condition instead of sleeping.
 */

export interface PgOptions {
  readonly user?: string;
  readonly database?: string;
  readonly pipeline?: boolean;
}

/** node-postgres settings for the gateway: verify-full against the gateway's test CA. */
export function pgConfig(h: GatewayHarness, token: string, o: PgOptions = {}): pg.ClientConfig {
  return {
    host: 'localhost',
    port: h.gateway.port,
    user: o.user ?? 'analyst',
    database: o.database ?? 'warehouse',
    password: token,
    ssl: { ca: readFileSync(h.clientCaFile, 'utf8'), servername: 'localhost' },
    application_name: 'pgkey-e2e',
    connectionTimeoutMillis: 10_000,
    ...(o.pipeline === true ? { pipeline: true } : {}),
  };
}

/** A connected client. Asynchronous 'error' events are collected, not thrown. */
export async function connectPg(
  h: GatewayHarness,
  token: string,
  o: PgOptions = {},
): Promise<pg.Client & { readonly errors: Error[] }> {
  const client = Object.assign(new pg.Client(pgConfig(h, token, o)), { errors: [] as Error[] });
  client.on('error', (error) => client.errors.push(error));
  await client.connect();
  return client;
}

/** The connection error a client gets, or fails the test if it connects. */
export async function connectError(
  h: GatewayHarness,
  token: string,
  o: PgOptions = {},
): Promise<pg.DatabaseError> {
  const client = new pg.Client(pgConfig(h, token, o));
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    if (error instanceof pg.DatabaseError) return error;
    throw new Error(`expected a DatabaseError, got ${String(error)}`, { cause: error });
  }
  await client.end();
  throw new Error('expected the connection to be refused, but it succeeded');
}

/** pg keeps the BackendKeyData pgkey sent on the client; @types/pg does not declare it. */
export function backendKey(client: pg.Client): { processId: number; secretKey: number } {
  const raw = client as unknown as { processID: number | null; secretKey: number | null };
  if (raw.processID === null || raw.secretKey === null) throw new Error('no BackendKeyData');
  return { processId: raw.processID, secretKey: raw.secretKey };
}

/**
 * Sends a CancelRequest to the gateway on a new connection, the way libpq does (plaintext,
 * PostgreSQL ≤ 16) or after an SSLRequest (`tls: true`, as PostgreSQL 17's PQcancelCreate).
 * Resolves when the gateway closes the connection: it never answers a cancel.
 */
export function sendCancel(
  h: GatewayHarness,
  processId: number,
  secretKey: number | Buffer,
  options: { tls?: boolean } = {},
): Promise<void> {
  const secret = typeof secretKey === 'number' ? int32(secretKey) : secretKey;
  return new Promise((resolve, reject) => {
    const raw = net.connect({ host: '127.0.0.1', port: h.gateway.port });
    raw.once('error', reject);
    raw.once('close', () => resolve());
    if (options.tls !== true) {
      raw.once('connect', () => raw.end(cancelRequest(processId, secret)));
      return;
    }
    raw.once('connect', () => raw.write(sslRequest()));
    raw.once('data', (reply: Buffer) => {
      if (reply.toString() !== 'S') return reject(new Error(`SSLRequest answered ${reply[0]}`));
      const secure = tls.connect({
        socket: raw,
        ca: readFileSync(h.clientCaFile, 'utf8'),
        servername: 'localhost',
      });
      secure.once('error', reject);
      secure.once('secureConnect', () => secure.end(cancelRequest(processId, secret)));
      secure.resume();
    });
  });
}

function int32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32BE(value);
  return buffer;
}

/** psql through the gateway as a child process the test can signal. */
export function spawnPsql(
  h: GatewayHarness,
  token: string,
  args: readonly string[],
  o: { user?: string; database?: string } = {},
): { child: ChildProcess; done: Promise<RunResult> } {
  const child = spawn(
    'psql',
    ['-X', '-U', o.user ?? 'analyst', '-d', o.database ?? 'warehouse', ...args],
    { env: h.env(token), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<RunResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { child, done };
}

/**
 * An interactive psql on a pseudo-terminal (util-linux `script`), so a test can type into it
 * and press Ctrl+C for real: the tty turns \x03 into SIGINT for psql, which then cancels
 * the running statement and, unlike a script run, keeps the session.
 */
export interface Terminal {
  /** Everything psql printed so far (echo included, CRLF line ends). */
  readonly output: () => string;
  type(text: string): void;
  /** Resolves once `text` has appeared after `from` (an offset into output()). */
  expect(text: string, from?: number): Promise<void>;
  /** Resolves with psql's output when the terminal closes. */
  readonly closed: Promise<string>;
  /** Closes the terminal if it is still open (psql gets SIGHUP from the pty). */
  kill(): void;
}

export function psqlTerminal(
  h: GatewayHarness,
  token: string,
  o: { user?: string; database?: string } = {},
): Terminal {
  const command = `psql -X -P pager=off -At -U ${o.user ?? 'analyst'} -d ${o.database ?? 'warehouse'}`;
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    env: { ...h.env(token), TERM: 'dumb' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const closed = new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', () => resolve(out));
  });
  return {
    output: () => out,
    type: (text) => child.stdin.write(text),
    expect: async (text, from = 0) => {
      await waitFor(`psql to print ${JSON.stringify(text)}`, () => out.includes(text, from));
    },
    closed,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** Runs psql and hashes its stdout as it streams (results too large to hold as a string). */
export function psqlDigest(
  h: GatewayHarness,
  token: string,
  args: readonly string[],
  o: { user?: string; database?: string; env?: Record<string, string> } = {},
): Promise<{ code: number | null; md5: string; bytes: number; lines: number; stderr: string }> {
  const child = spawn(
    'psql',
    [
      '-X',
      '-v',
      'ON_ERROR_STOP=1',
      '-U',
      o.user ?? 'analyst',
      '-d',
      o.database ?? 'warehouse',
      ...args,
    ],
    { env: h.env(token, o.env), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const hash = createHash('md5');
  let bytes = 0;
  let lines = 0;
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.length;
    for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines++;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, md5: hash.digest('hex'), bytes, lines, stderr }));
  });
}

/** Polls `condition` every 25 ms; rejects with `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  condition: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Upstream backends running `query` (seen over the cluster's own socket, not the gateway). */
export async function activeBackends(h: GatewayHarness, query: string): Promise<number> {
  const result = await h.pg.query(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query = $1",
    [query],
  );
  return (result.rows[0] as { n: number }).n;
}

export interface AuditLine {
  readonly type: string;
  readonly session?: string;
  readonly reason?: string;
  readonly role?: string;
  readonly database?: string;
  readonly user?: string;
  readonly rule?: string;
  readonly bytes_from_client?: number;
  readonly bytes_from_server?: number;
  readonly [field: string]: unknown;
}

export function readAudit(h: GatewayHarness): AuditLine[] {
  return readFileSync(h.auditFile, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as AuditLine);
}

/** The session.end record of a session, once it is written. */
export function sessionEnd(h: GatewayHarness, session: string): Promise<AuditLine> {
  return waitFor(`session.end of ${session}`, () =>
    readAudit(h).find((e) => e.type === 'session.end' && e.session === session),
  );
}

/** The id of the only live session whose role is `role` (the gateway's registry). */
export function liveSessionId(h: GatewayHarness, role: string): Promise<string> {
  return waitFor(`a live ${role} session`, () => {
    const found = h.gateway.sessions.list().filter((s) => s.role === role);
    return found.length === 1 ? found[0]?.id : undefined;
  });
}

/** GET /metrics from the admin listener. */
export async function scrapeMetrics(h: GatewayHarness): Promise<string> {
  const response = await fetch(`http://${h.gateway.adminAddress}/metrics`);
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  return response.text();
}

/** The value of one sample, e.g. `pgkey_auth_total{outcome="success",reason="ok"}`; 0 if absent. */
export function metricValue(text: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels);
  let total = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match?.[1] !== name) continue;
    const have = new Map(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (wanted.every(([k, v]) => have.get(k) === v)) total += Number(match[3]);
  }
  return total;
}

export interface PgbenchRun extends RunResult {
  /** "number of transactions actually processed". */
  readonly processed: number;
  /** "number of failed transactions" (pgbench 15+). */
  readonly failed: number;
}

/** Runs pgbench through the gateway as app_owner on warehouse (a dba token). */
export async function pgbench(
  h: GatewayHarness,
  token: string,
  args: readonly string[],
): Promise<PgbenchRun> {
  const result = await run('pgbench', ['-U', 'app_owner', ...args, 'warehouse'], h.env(token));
  const number = (label: RegExp): number => {
    const match = label.exec(result.stdout);
    return match === null ? Number.NaN : Number(match[1]);
  };
  return {
    ...result,
    processed: number(/^number of transactions actually processed: (\d+)/m),
    failed: number(/^number of failed transactions: (\d+)/m),
  };
}
