/**
 * A client of the token service's HTTP interface (api-types.ts), for `pgkey token …`. It
 * speaks node:https so a private CA can be trusted for this one connection (the profile's
 * gateway CA: the service often shares the gateway's certificate); answers are capped, time
 * out, and errors come back as PgkeyErrors carrying the service's own description and hint.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { ErrorCode } from '../errors/codes.ts';
import { PgkeyError } from '../errors/pgkey-error.ts';
import { isSafeUrl } from '../identity/issuer-keys.ts';
import {
  ACCESS_TOKEN_TYPE,
  AGENT_NAME_TOKEN_TYPE,
  STS_PATHS,
  TOKEN_EXCHANGE_GRANT,
  type BootstrapDocument,
  type ExchangeResponse,
  type MintedTokenJson,
  type MintRequest,
  type MintResponse,
  type TokenListResponse,
  type WhoamiResponse,
} from './api-types.ts';

const MAX_RESPONSE_BYTES = 1024 * 1024;
const TIMEOUT_MS = 15_000;

export interface ServiceClientOptions {
  /** The token service's issuer URL. */
  readonly url: string;
  /** PEM certificates to trust besides the system's. */
  readonly ca?: string | undefined;
  readonly timeoutMs?: number;
}

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** OAuth errors (RFC 6749 §5.2, RFC 9470) → the codes the CLI knows how to explain. */
function codeFor(status: number, error: unknown): ErrorCode {
  if (error === 'insufficient_user_authentication') return 'ERR_STALE_AUTH';
  if (error === 'access_denied' || status === 403) return 'ERR_ACCESS_DENIED';
  if (status === 401 || error === 'invalid_token') return 'ERR_TOKEN_INVALID';
  if (status === 404) return 'ERR_NOT_FOUND';
  if (status === 400) return 'ERR_USAGE';
  return 'ERR_PROVIDER_UNAVAILABLE';
}

export class TokenServiceClient {
  readonly url: string;
  readonly #ca: string[] | undefined;
  readonly #timeoutMs: number;

  constructor(options: ServiceClientOptions) {
    if (!isSafeUrl(options.url)) {
      throw new PgkeyError('ERR_USAGE', {
        message: `${options.url} is not an https:// URL (http:// only for localhost)`,
      });
    }
    this.url = options.url.replace(/\/+$/, '');
    this.#ca = options.ca === undefined ? undefined : [...rootCertificates, options.ca];
    this.#timeoutMs = options.timeoutMs ?? TIMEOUT_MS;
  }

  async bootstrap(): Promise<BootstrapDocument> {
    return (await this.#ok('GET', STS_PATHS.bootstrap)) as unknown as BootstrapDocument;
  }

  async whoami(token: string): Promise<WhoamiResponse> {
    return (await this.#ok('GET', STS_PATHS.whoami, { token })) as unknown as WhoamiResponse;
  }

  async mint(token: string, request: MintRequest): Promise<MintResponse> {
    const body = JSON.stringify(request);
    return (await this.#ok('POST', STS_PATHS.tokens, {
      token,
      body,
      type: 'application/json',
    })) as unknown as MintResponse;
  }

  async list(token: string): Promise<TokenListResponse> {
    return (await this.#ok('GET', STS_PATHS.tokens, { token })) as unknown as TokenListResponse;
  }

  async revoke(token: string, jti: string, reason?: string): Promise<MintedTokenJson> {
    const query = reason === undefined ? '' : `?${new URLSearchParams({ reason }).toString()}`;
    const path = `${STS_PATHS.tokens}/${encodeURIComponent(jti)}${query}`;
    return (await this.#ok('DELETE', path, { token })) as unknown as MintedTokenJson;
  }

  /** RFC 8693 §2.1: the person's token and the agent's name; `ttlSeconds` is pgkey's `expires_in`. */
  async exchange(
    subjectToken: string,
    agent: string,
    ttlSeconds?: number,
  ): Promise<ExchangeResponse> {
    const form = new URLSearchParams({
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: subjectToken,
      subject_token_type: ACCESS_TOKEN_TYPE,
      actor_token: agent,
      actor_token_type: AGENT_NAME_TOKEN_TYPE,
      requested_token_type: ACCESS_TOKEN_TYPE,
      ...(ttlSeconds === undefined ? {} : { expires_in: String(ttlSeconds) }),
    });
    return (await this.#ok('POST', STS_PATHS.token, {
      body: form.toString(),
      type: 'application/x-www-form-urlencoded',
    })) as unknown as ExchangeResponse;
  }

  async #ok(
    method: string,
    path: string,
    options: { token?: string; body?: string; type?: string } = {},
  ): Promise<Record<string, unknown>> {
    const answer = await this.#send(method, path, options);
    if (answer.status >= 200 && answer.status < 300) return answer.body;
    const { error, error_description: description, hint } = answer.body;
    throw new PgkeyError(codeFor(answer.status, error), {
      message:
        typeof description === 'string'
          ? description
          : `the token service answered HTTP ${answer.status}${typeof error === 'string' ? ` (${error})` : ''}`,
      ...(typeof hint === 'string' && { hint }),
      reason: typeof error === 'string' ? error : `http_${answer.status}`,
    });
  }

  #send(
    method: string,
    path: string,
    options: { token?: string; body?: string; type?: string },
  ): Promise<Answer> {
    const url = new URL(`${this.url}${path}`);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    if (options.body !== undefined) {
      headers['content-type'] = options.type ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(options.body));
    }
    const unreachable = (cause: unknown) =>
      new PgkeyError('ERR_PROVIDER_UNAVAILABLE', {
        message: `cannot reach the token service at ${this.url}`,
        reason: 'token_service_unreachable',
        cause,
      });
    return new Promise((resolve, reject) => {
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = send(
        url,
        { method, headers, timeout: this.#timeoutMs, ...(this.#ca && { ca: this.#ca }) },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_RESPONSE_BYTES) req.destroy(new Error('response too large'));
            else chunks.push(chunk);
          });
          res.on('error', (cause) => reject(unreachable(cause)));
          res.on('end', () => {
            let body: unknown;
            try {
              body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              body = undefined;
            }
            resolve({
              status: res.statusCode ?? 0,
              body:
                typeof body === 'object' && body !== null && !Array.isArray(body)
                  ? (body as Record<string, unknown>)
                  : {},
            });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (cause) => reject(unreachable(cause)));
      req.end(options.body);
    });
  }
}
