/**
 * The token service's HTTP edges: bodies read under a cap before parsing, the bearer token
 * taken from `Authorization` (RFC 6750 §2.1 only: never from a query or form), JSON replies
 * that are never cached (RFC 6749 §5.1), and errors as RFC 6749 §5.2 JSON with the
 * PgkeyError's `oauthError` and HTTP status. A 401 from an endpoint that takes a bearer token
 * carries its `WWW-Authenticate` challenge (RFC 6750 §3), with `max_age` when the login is too
 * old (RFC 9470 §3). No CORS headers: browsers may not read these answers from other origins.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PgkeyError } from '../errors/pgkey-error.ts';

export interface Reply {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

export const MAX_JSON_BODY_BYTES = 16 * 1024;
/** A form carries the person's token (at most 64 KiB, token-shape.ts) and a few names. */
export const MAX_FORM_BODY_BYTES = 80 * 1024;

const REALM = 'pgkey';

export function json(status: number, body: unknown): Reply {
  return { status, body };
}

function usage(message: string): PgkeyError {
  return new PgkeyError('ERR_USAGE', { message, reason: 'invalid_request' });
}

/** Reads at most `max` bytes of a body of media type `type`, refusing more before buffering. */
async function readCapped(req: IncomingMessage, type: string, max: number): Promise<string> {
  const got = (req.headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase();
  if (got !== type) throw usage(`send the request body as ${type}`);
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (declared > max) throw tooLarge(max);
  const chunks: Buffer[] = [];
  let received = 0;
  // Stop reading without destroying the socket, so the error still reaches the client.
  for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    received += chunk.length;
    if (received > max) throw tooLarge(max);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function tooLarge(max: number): PgkeyError {
  return new PgkeyError('ERR_USAGE', {
    message: `request body larger than ${max} bytes`,
    reason: 'body_too_large',
  });
}

/** A JSON object body. */
export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = await readCapped(req, 'application/json', MAX_JSON_BODY_BYTES);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw usage('the request body is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw usage('the request body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

/** RFC 6749 §3.2: a form body, each parameter at most once. */
export async function readForm(req: IncomingMessage): Promise<ReadonlyMap<string, string>> {
  const fields = new URLSearchParams(
    await readCapped(req, 'application/x-www-form-urlencoded', MAX_FORM_BODY_BYTES),
  );
  const form = new Map<string, string>();
  for (const [name, value] of fields) {
    if (form.has(name)) throw usage(`parameter ${name} appears more than once`);
    form.set(name, value);
  }
  return form;
}

/** RFC 6750 §2.1: `Authorization: Bearer <token>`. */
export function bearerToken(req: IncomingMessage): string {
  const header = req.headers.authorization ?? '';
  const match = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(header);
  if (match?.[1] === undefined) {
    throw new PgkeyError('ERR_TOKEN_INVALID', {
      message: 'send your access token as Authorization: Bearer <token>',
      hint: 'pgkey login, then try again',
      reason: 'token_missing',
    });
  }
  return match[1];
}

/** RFC 6750 §3: quoted-string contents may not hold `"` or `\`, and are ASCII. */
function quoted(text: string): string {
  return text.replace(/[^\x20-\x7e]|["\\]/g, ' ').slice(0, 300);
}

export interface ErrorOptions {
  /** The endpoint takes a bearer token: a 401 gets a WWW-Authenticate challenge. */
  readonly bearer?: boolean;
  /** RFC 9470 §3 `max_age` in seconds for an `insufficient_user_authentication` challenge. */
  readonly maxAgeSeconds?: number | undefined;
  /** RFC 8693 §2.2.2: at the token endpoint, a bad subject token is `invalid_request`. */
  readonly tokenEndpoint?: boolean;
}

export function errorReply(error: PgkeyError, options: ErrorOptions = {}): Reply {
  let status = error.httpStatus;
  let code = error.oauthError;
  if (options.tokenEndpoint && code === 'invalid_token') {
    status = 400;
    code = 'invalid_request';
  }
  const body = {
    error: code,
    error_description: error.message,
    ...(error.hint !== undefined && { hint: error.hint }),
  };
  if (!options.bearer || status !== 401) return { status, body };
  const params =
    error.reason === 'token_missing'
      ? [`realm="${REALM}"`] // RFC 6750 §3.1: no error code when no token was sent
      : [
          `realm="${REALM}"`,
          `error="${code}"`,
          `error_description="${quoted(error.message)}"`,
          ...(code === 'insufficient_user_authentication' && options.maxAgeSeconds !== undefined
            ? [`max_age=${options.maxAgeSeconds}`]
            : []),
        ];
  return { status, body, headers: { 'WWW-Authenticate': `Bearer ${params.join(', ')}` } };
}

export function send(res: ServerResponse, reply: Reply): void {
  const text = JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    // RFC 6749 §5.1: token responses are never cached.
    'Cache-Control': 'no-store',
    Pragma: 'no-cache',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    ...reply.headers,
  });
  res.end(text);
}
