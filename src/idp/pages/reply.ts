/**
 * What an account page handler answers: an HTML page, a JSON body (the fetch() endpoints of
 * the WebAuthn ceremonies), or a 303 See Other after a form POST (RFC 9110 §15.4.4: the
 * browser then GETs the page, so reloading never repeats the action). Handlers stay pure
 * values, Set-Cookie lines included; `sendReply` is the only writer. Nothing here is
 * cacheable.
 */
import type { ServerResponse } from 'node:http';

export type PageReply = (
  | { readonly type: 'html'; readonly status: number; readonly body: string }
  | { readonly type: 'json'; readonly status: number; readonly body: unknown }
  | { readonly type: 'redirect'; readonly location: string }
) & {
  readonly cookies?: readonly string[];
  readonly headers?: Readonly<Record<string, string>>;
};

export const htmlReply = (status: number, body: string): PageReply => ({
  type: 'html',
  status,
  body,
});

export const jsonReply = (status: number, body: unknown): PageReply => ({
  type: 'json',
  status,
  body,
});

/** `error` is a stable code for scripts and tests, `message` a sentence for people. */
export const jsonError = (
  status: number,
  error: string,
  message: string,
  extra: Readonly<Record<string, string>> = {},
): PageReply => jsonReply(status, { error, message, ...extra });

export const seeOther = (location: string): PageReply => ({ type: 'redirect', location });

export const withCookies = (reply: PageReply, cookies: readonly string[]): PageReply => ({
  ...reply,
  cookies: [...(reply.cookies ?? []), ...cookies],
});

export function sendReply(res: ServerResponse, reply: PageReply): void {
  for (const cookie of reply.cookies ?? []) res.appendHeader('Set-Cookie', cookie);
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
  res.setHeader('Cache-Control', 'no-store');
  if (reply.type === 'redirect') {
    res.writeHead(303, { Location: reply.location, 'Content-Length': 0 }).end();
    return;
  }
  const body = reply.type === 'json' ? JSON.stringify(reply.body) : reply.body;
  res.writeHead(reply.status, {
    'Content-Type':
      reply.type === 'json' ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}
