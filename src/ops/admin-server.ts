import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { PgkeyError } from '../errors/pgkey-error.ts';
import { closeGracefully, listenOn } from '../runtime/http-server.ts';
import type { Logger } from '../runtime/logger.ts';
import type { Metrics } from './metrics.ts';

export interface HealthStatus {
  readonly ok: boolean;
  readonly detail: Record<string, unknown>;
}

export interface AdminServerOptions {
  /** `host:port`, `[v6]:port`; port 0 picks a free port (tests). */
  readonly address: string;
  readonly metrics: Metrics;
  /** Called per /healthz request; `ok: false` (e.g. while draining) answers 503. */
  readonly health: () => HealthStatus;
  readonly logger?: Logger;
}

export interface AdminServer {
  /** The address actually bound, as `host:port`. */
  readonly address: string;
  close(): Promise<void>;
}

/** How long close() lets in-flight scrapes finish before cutting their connections. */
const CLOSE_GRACE_MS = 2000;

/**
 * The operations listener: GET /metrics (Prometheus text format) and GET /healthz (JSON),
 * HEAD for both, 404 for anything else. It takes no input: a request with a body is refused
 * unread. Meant for a private address (default 127.0.0.1:9187); it exposes no secrets.
 */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const { host, port } = parseAddress(options.address);
  const server = createServer(
    { requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 5_000, maxHeaderSize: 8192 },
    (request, response) => {
      handle(request, response, options).catch((error: unknown) => {
        options.logger?.error({ err: error }, 'admin request failed');
        if (!response.headersSent) response.writeHead(500);
        response.end();
      });
    },
  );
  const address = await listenOn(server, host, port).catch((cause: NodeJS.ErrnoException) => {
    throw new PgkeyError('ERR_CONFIG', {
      message: `admin.address ${options.address}: cannot listen (${cause.code ?? 'error'})`,
      reason: 'admin_listen',
      cause,
    });
  });
  let closing: Promise<void> | undefined;
  return {
    address,
    close() {
      closing ??= closeGracefully(server, CLOSE_GRACE_MS);
      return closing;
    },
  };
}

async function handle(
  request: IncomingMessage,
  response: ServerResponse,
  options: AdminServerOptions,
): Promise<void> {
  response.setHeader('cache-control', 'no-store');
  response.setHeader('x-content-type-options', 'nosniff');
  const length = request.headers['content-length'];
  if (
    request.headers['transfer-encoding'] !== undefined ||
    (length !== undefined && length !== '0')
  ) {
    // Answer without reading the body, then drop the connection rather than drain it.
    response.writeHead(413, { connection: 'close' }).end();
    return;
  }
  const path = (request.url ?? '').split('?', 1)[0];
  if (path !== '/metrics' && path !== '/healthz') {
    send(response, request, 404, 'text/plain; charset=utf-8', 'not found\n');
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('allow', 'GET, HEAD');
    send(response, request, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    return;
  }
  if (path === '/metrics') {
    const registry = options.metrics.registry;
    send(response, request, 200, registry.contentType, await registry.metrics());
    return;
  }
  let status: HealthStatus;
  try {
    status = options.health();
  } catch (error) {
    options.logger?.error({ err: error }, 'health check threw');
    status = { ok: false, detail: { error: 'health check failed' } };
  }
  const body = `${JSON.stringify({ ok: status.ok, ...status.detail })}\n`;
  send(response, request, status.ok ? 200 : 503, 'application/json', body);
}

function send(
  response: ServerResponse,
  request: IncomingMessage,
  status: number,
  contentType: string,
  body: string,
): void {
  response.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
  });
  response.end(request.method === 'HEAD' ? undefined : body);
}

function parseAddress(address: string): { host: string; port: number } {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  const port = Number(match?.[3]);
  if (match === null || port > 65535) {
    throw new PgkeyError('ERR_CONFIG', {
      message: `admin.address ${JSON.stringify(address)}: expected host:port`,
      reason: 'admin_address',
    });
  }
  return { host: match[1] ?? match[2] ?? '', port };
}
