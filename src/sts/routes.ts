/**
 * The token service's routes, below its issuer's path:
 *
 *   GET    /.well-known/pgkey-configuration   bootstrap for `pgkey login <url>`
 *   GET    /.well-known/openid-configuration  discovery (issuer, jwks_uri, token_endpoint)
 *   GET    /jwks.json                         public keys
 *   GET    /v1/whoami                         Bearer: identity and grants
 *   POST   /v1/tokens                         Bearer: mint a service token (JSON)
 *   GET    /v1/tokens                         Bearer: minted tokens (own; admins: all)
 *   DELETE /v1/tokens/<jti>                   Bearer: revoke one
 *   POST   /v1/token                          RFC 8693 token exchange (form)
 *
 * Every failure becomes an RFC 6749 §5.2 body (http-io.ts); anything that is not a
 * PgkeyError is an internal error, logged here and shown as `server_error` only. A refused
 * mint, exchange or revoke is also recorded here, once, as `token.refused` (refusal.ts),
 * before the answer goes out. Refused reads (whoami, the token list) are not: they grant and
 * change nothing, and `pgkey psql` and `pgkey status` ask whoami on every run, so an expired
 * login would fill the trail with noise; the gateway's `auth.failure` covers logins.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditClient, TokenOperation } from '../audit/events.ts';
import { asPgkeyError, PgkeyError } from '../errors/pgkey-error.ts';
import { STS_PATHS } from './api-types.ts';
import type { Caller, StsContext } from './context.ts';
import { bootstrapDocument, discoveryDocument, jwksDocument } from './documents.ts';
import { exchangeToken } from './exchange.ts';
import {
  bearerToken,
  errorReply,
  json,
  readForm,
  readJsonObject,
  send,
  type Reply,
} from './http-io.ts';
import { mintServiceToken } from './mint.ts';
import { listMintedTokens, revokeMintedToken } from './minted-tokens.ts';
import { Attempt, exchangeRequest, mintRequest } from './refusal.ts';
import { whoami } from './whoami.ts';

type Handler = (
  req: IncomingMessage,
  client: AuditClient,
  rest: string,
  attempt: Attempt,
) => Promise<Reply>;

interface Route {
  readonly methods: Readonly<Record<string, Handler>>;
  /** Takes a bearer token: a 401 carries the RFC 6750 challenge. */
  readonly bearer: boolean;
  /** The RFC 8693 token endpoint (its own error mapping, §2.2.2). */
  readonly tokenEndpoint?: boolean;
  /** The freshness a 401 challenge asks for (RFC 9470 `max_age`), in seconds. */
  readonly maxAgeSeconds?: () => number | undefined;
  /** Methods whose refusals are audited (`token.refused`), with the operation each is. */
  readonly operations?: Readonly<Record<string, TokenOperation>>;
}

const JTI = /^[A-Za-z0-9_-]{1,128}$/;

export function createRouter(
  ctx: StsContext,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const caller = async (
    req: IncomingMessage,
    client: AuditClient,
    attempt: Attempt,
  ): Promise<Caller> => ({
    identity: attempt.verified(await ctx.verify(bearerToken(req))),
    client,
  });
  const seconds = (ms: number | undefined) => (ms === undefined ? undefined : Math.ceil(ms / 1000));

  const routes = new Map<string, Route>([
    [
      STS_PATHS.bootstrap,
      { bearer: false, methods: { GET: () => Promise.resolve(json(200, bootstrapDocument(ctx))) } },
    ],
    [
      STS_PATHS.discovery,
      { bearer: false, methods: { GET: () => Promise.resolve(json(200, discoveryDocument(ctx))) } },
    ],
    [
      STS_PATHS.jwks,
      { bearer: false, methods: { GET: () => Promise.resolve(json(200, jwksDocument(ctx))) } },
    ],
    [
      STS_PATHS.whoami,
      {
        bearer: true,
        methods: {
          GET: async (req, client, _rest, attempt) =>
            json(200, whoami(ctx, (await caller(req, client, attempt)).identity)),
        },
      },
    ],
    [
      STS_PATHS.tokens,
      {
        bearer: true,
        maxAgeSeconds: () => seconds(ctx.settings().mint.freshAuthMs),
        operations: { POST: 'mint' },
        methods: {
          POST: async (req, client, _rest, attempt) => {
            const who = await caller(req, client, attempt);
            const body = await readJsonObject(req);
            attempt.asked(mintRequest(body));
            return json(201, await mintServiceToken(ctx, who, body));
          },
          GET: async (req, client, _rest, attempt) =>
            json(200, await listMintedTokens(ctx, await caller(req, client, attempt))),
        },
      },
    ],
    [
      `${STS_PATHS.tokens}/`,
      {
        bearer: true,
        operations: { DELETE: 'revoke' },
        methods: {
          DELETE: async (req, client, jti, attempt) => {
            if (!JTI.test(jti)) throw new PgkeyError('ERR_NOT_FOUND', { message: 'no such token' });
            attempt.asked({ jti });
            const who = await caller(req, client, attempt);
            const reason =
              new URL(req.url ?? '/', 'http://x').searchParams.get('reason') ?? undefined;
            return json(200, await revokeMintedToken(ctx, who, jti, reason?.slice(0, 200)));
          },
        },
      },
    ],
    [
      STS_PATHS.token,
      {
        bearer: false,
        tokenEndpoint: true,
        maxAgeSeconds: () => seconds(ctx.settings().exchange.freshAuthMs),
        operations: { POST: 'exchange' },
        methods: {
          POST: async (req, client, _rest, attempt) => {
            const form = await readForm(req);
            attempt.asked(exchangeRequest(form));
            // The subject token is verified inside the exchange: note whose it was.
            const verify = async (token: string) => attempt.verified(await ctx.verify(token));
            return json(200, await exchangeToken({ ...ctx, verify }, form, client));
          },
        },
      },
    ],
  ]);

  return async (req, res) => {
    const client = { address: req.socket.remoteAddress ?? '', port: req.socket.remotePort ?? 0 };
    const { mountPath } = ctx.settings();
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const below =
      mountPath === ''
        ? path
        : path.startsWith(`${mountPath}/`)
          ? path.slice(mountPath.length)
          : undefined;
    const prefix = below?.startsWith(`${STS_PATHS.tokens}/`) ? `${STS_PATHS.tokens}/` : below;
    const route = prefix === undefined ? undefined : routes.get(prefix);
    if (route === undefined || below === undefined) {
      send(res, json(404, { error: 'not_found', error_description: 'no such endpoint' }));
      return;
    }
    const handler = route.methods[req.method ?? ''];
    if (handler === undefined) {
      send(res, {
        status: 405,
        body: {
          error: 'invalid_request',
          error_description: `method ${req.method ?? ''} not allowed`,
        },
        headers: { Allow: Object.keys(route.methods).join(', ') },
      });
      return;
    }
    const attempt = new Attempt();
    let reply: Reply;
    try {
      reply = await handler(req, client, below.slice(prefix?.length ?? 0), attempt);
    } catch (raw) {
      const error = asPgkeyError(raw);
      if (error.code === 'ERR_INTERNAL')
        ctx.logger.error({ err: raw, path: below }, 'token service request failed');
      reply = errorReply(error, {
        bearer: route.bearer,
        tokenEndpoint: route.tokenEndpoint ?? false,
        maxAgeSeconds: route.maxAgeSeconds?.(),
      });
      // The body may not have been read (too large, wrong type): do not keep the connection.
      if (reply.status === 400 || reply.status === 413) res.setHeader('Connection', 'close');
      const operation = route.operations?.[req.method ?? ''];
      if (operation !== undefined) {
        // Recorded before the answer, as auth.failure is; a trail that cannot take it does
        // not change the answer (the request is refused either way), and is logged.
        await ctx.audit
          .emit(attempt.refusal(operation, error, reply.status, client))
          .catch((auditError: unknown) =>
            ctx.logger.error({ err: auditError }, 'audit write failed'),
          );
      }
    }
    send(res, reply);
  };
}
