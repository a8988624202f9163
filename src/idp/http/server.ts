/**
 * The provider's own listener (node:http, or node:https with `idp.tls`). Routes, below the
 * issuer's path:
 *
 *   /assets/<name>                          static files (assets.ts)
 *   /interaction/<uid>                      GET: sign-in page
 *   /interaction/<uid>/webauthn/options     POST JSON
 *   /interaction/<uid>/webauthn/verify      POST JSON
 *   /login, /logout, /enroll/…, /me, /admin  the account pages (pages/account-routes.ts),
 *                                           when given; they pass on what is not theirs
 *   anything else                           oidc-provider (discovery, JWKS, authorize, token, …)
 *
 * Security headers go on every response first (security-headers.ts). Timeouts bound slow
 * clients (reliability.md A7 applies to this port too).
 */
import { createServer as createHttpServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { closeGracefully, listenOn } from '../../runtime/http-server.ts';
import type { Logger } from '../../runtime/logger.ts';
import type { AccountRouter } from '../pages/account-routes.ts';
import type { HandlerResult, InteractionHandlers } from '../provider/interactions.ts';
import { messagePage } from '../provider/pages.ts';
import type { IdpSettings } from '../provider/settings.ts';
import { serveAsset, type Assets } from './assets.ts';
import { readJsonRequest } from './json-request.ts';
import { setSecurityHeaders } from './security-headers.ts';

export interface IdpServerOptions {
  /** `host:port`; IPv6 hosts in brackets. */
  readonly address: string;
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer } | undefined;
  readonly settings: IdpSettings;
  readonly handlers: InteractionHandlers;
  /** The current oidc-provider request handler (the provider is rebuilt on key changes). */
  readonly provider: () => (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  readonly assets: Assets;
  /** The account pages (sign-in, enrollment, my keys, administration). */
  readonly pages?: AccountRouter;
  readonly logger: Logger;
}

export interface IdpServer {
  /** The bound `host:port` (the real port when 0 was asked). */
  readonly address: string;
  close(): Promise<void>;
}

const INTERACTION = /^\/interaction\/([A-Za-z0-9_-]{1,64})(?:\/webauthn\/(options|verify))?$/;
const CLOSE_GRACE_MS = 5000;

function send(res: ServerResponse, result: HandlerResult): void {
  const body = result.type === 'json' ? JSON.stringify(result.body) : result.body;
  res.writeHead(result.status, {
    'Content-Type':
      result.type === 'json' ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
  });
  res.end(body);
}

function splitAddress(address: string): { host: string; port: number } {
  const colon = address.lastIndexOf(':');
  return {
    host: address.slice(0, colon).replace(/^\[(.*)\]$/, '$1'),
    port: Number(address.slice(colon + 1)),
  };
}

export async function startIdpServer(options: IdpServerOptions): Promise<IdpServer> {
  const { settings, handlers, logger } = options;
  const { mountPath } = settings;
  const https = options.tls !== undefined;
  // HSTS whenever people reach us over https, also when TLS ends at a proxy in front.
  const publicHttps = new URL(settings.issuer).protocol === 'https:';
  const notFound = (res: ServerResponse) =>
    send(res, {
      type: 'html',
      status: 404,
      body: messagePage(mountPath, 'Not found', 'There is no page here.'),
    });

  async function interaction(
    req: IncomingMessage,
    res: ServerResponse,
    uid: string,
    action: string | undefined,
  ): Promise<void> {
    const wanted = action === undefined ? 'GET' : 'POST';
    if (req.method !== wanted) {
      res.setHeader('Allow', wanted);
      send(res, { type: 'json', status: 405, body: { error: 'method_not_allowed' } });
      return;
    }
    if (action === undefined) {
      send(res, await handlers.page(req, res, uid));
      return;
    }
    const request = await readJsonRequest(req, settings.origin);
    if (!request.ok) {
      if (request.status === 413) res.setHeader('Connection', 'close');
      const { status, error, message } = request;
      send(res, { type: 'json', status, body: { error, message } });
      return;
    }
    send(
      res,
      action === 'options'
        ? await handlers.options(req, res, uid)
        : await handlers.verify(req, res, uid, request.body),
    );
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    setSecurityHeaders(res, { https: publicHttps });
    const raw = req.url ?? '/';
    // Mounted below the issuer path: strip it, as a router mounting oidc-provider would.
    const below =
      mountPath === ''
        ? raw
        : raw === mountPath || raw.startsWith(`${mountPath}/`) || raw.startsWith(`${mountPath}?`)
          ? raw.slice(mountPath.length) || '/'
          : undefined;
    if (below === undefined || !below.startsWith('/')) return notFound(res);
    const pathname = below.split('?', 1)[0] ?? '/';
    if (pathname.startsWith('/assets/')) {
      const isRead = req.method === 'GET' || req.method === 'HEAD';
      if (!isRead || !serveAsset(options.assets, pathname.slice('/assets/'.length), req, res)) {
        notFound(res);
      }
      return;
    }
    const match = INTERACTION.exec(pathname);
    if (match !== null) return interaction(req, res, match[1] ?? '', match[2]);
    if (pathname.startsWith('/interaction/')) return notFound(res);
    if (options.pages !== undefined) {
      const query = new URLSearchParams(below.slice(pathname.length + 1));
      if (await options.pages(req, res, pathname, query)) return;
    }
    if (below !== raw) {
      // Express's convention, which oidc-provider reads to build URLs below the mount path.
      (req as IncomingMessage & { originalUrl?: string }).originalUrl = raw;
      req.url = below;
    }
    await options.provider()(req, res);
  }

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    route(req, res).catch((error: unknown) => {
      logger.error({ err: error, path: req.url?.split('?', 1)[0] }, 'idp request failed');
      if (res.headersSent) {
        res.destroy();
        return;
      }
      send(
        res,
        req.method === 'POST'
          ? {
              type: 'json',
              status: 500,
              body: { error: 'server_error', message: 'Internal error.' },
            }
          : {
              type: 'html',
              status: 500,
              body: messagePage(mountPath, 'Something went wrong', 'Try again in a moment.'),
            },
      );
    });
  };

  const server: Server = https
    ? createHttpsServer({ cert: options.tls?.cert, key: options.tls?.key }, listener)
    : createHttpServer(listener);
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;

  const { host, port } = splitAddress(options.address);
  const address = await listenOn(server, host, port);

  return {
    address,
    close: () => closeGracefully(server, CLOSE_GRACE_MS).catch(() => undefined),
  };
}
