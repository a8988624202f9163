/**
 * Until `pgkey login` exists, the demo gets its token the way `pgkey login` will: as the
 * native client `pgkey-cli` with a loopback redirect (RFC 8252 §7.3) and PKCE. The person
 * opens http://127.0.0.1:<port>/login in the browser on this machine; it redirects to the
 * provider's sign-in page, they touch their key, the provider redirects back to
 * /callback with a code, and the code is exchanged for an access token that is written to
 * a file (mode 0600) for `PGPASSWORD="$(cat …)" psql …`.
 *
 * It listens on 127.0.0.1 only. Any local program could start a login here, but only the
 * person's key finishes one, and a callback must carry the state of a login started here.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { isPgkeyError } from '../errors/pgkey-error.ts';
import { html } from '../idp/provider/pages.ts';
import { isAddressInUse } from './free-port.ts';
import {
  authorizationRequest,
  codeFromCallback,
  discover,
  exchangeCode,
  jwtClaims,
  type AuthorizationRequest,
} from './oidc-client.ts';

export interface LoginHelperOptions {
  readonly issuer: string;
  /** Where the access token goes. */
  readonly tokenFile: string;
  /** The command to show once the token is saved. */
  readonly nextCommand: string;
  readonly preferredPort?: number;
  /** Told about each saved token (the demo prints a line). */
  readonly onToken?: (info: { email: string; expiresAt: number }) => void;
}

export interface LoginHelper {
  /** http://127.0.0.1:<port>/login */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const PENDING_MS = 10 * 60_000;

export async function startLoginHelper(options: LoginHelperOptions): Promise<LoginHelper> {
  let port = 0; // the bound port, once listening
  const redirectUri = (): string => `http://127.0.0.1:${port}/callback`;
  const pending = new Map<string, { request: AuthorizationRequest; expiresAt: number }>();

  const login = async (res: ServerResponse): Promise<void> => {
    const discovery = await discover(options.issuer);
    const request = authorizationRequest(discovery, { redirectUri: redirectUri() });
    const now = Date.now();
    for (const [state, entry] of pending) if (entry.expiresAt < now) pending.delete(state);
    pending.set(request.state, { request, expiresAt: now + PENDING_MS });
    res.writeHead(302, { Location: request.url, 'Cache-Control': 'no-store' }).end();
  };

  const callback = async (url: URL, res: ServerResponse): Promise<void> => {
    const entry = pending.get(url.searchParams.get('state') ?? '');
    if (entry === undefined) {
      return send(
        res,
        400,
        'Start again',
        `<p>This sign-in was not started here or has expired. <a href="/login">Sign in again</a>.</p>`,
      );
    }
    pending.delete(entry.request.state);
    const discovery = await discover(options.issuer);
    const tokens = await exchangeCode(
      discovery,
      entry.request,
      codeFromCallback(url, entry.request),
    );
    await writeFile(options.tokenFile, `${tokens.accessToken}\n`, { mode: 0o600 });
    const { payload } = jwtClaims(tokens.accessToken);
    const email = String(payload.email ?? payload.sub);
    const expiresAt = Number(payload.exp) * 1000;
    options.onToken?.({ email, expiresAt });
    const until = new Date(expiresAt).toLocaleTimeString();
    send(
      res,
      200,
      'Signed in',
      `<p>Signed in as <strong>${html(email)}</strong>. The access token is in <code>${html(options.tokenFile)}</code>, valid until ${html(until)}.</p>
<p>Now connect through the gateway:</p>
<pre>${html(options.nextCommand)}</pre>
<p>When it expires, <a href="/login">sign in again</a>.</p>`,
    );
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    const route =
      req.method !== 'GET'
        ? Promise.resolve(send(res, 405, 'Not allowed', '<p>Only GET here.</p>'))
        : url.pathname === '/' || url.pathname === '/login'
          ? login(res)
          : url.pathname === '/callback'
            ? callback(url, res)
            : Promise.resolve(send(res, 404, 'Not found', '<p><a href="/login">Sign in</a></p>'));
    route.catch((error: unknown) => {
      const message = isPgkeyError(error) ? error.message : 'something went wrong';
      if (!res.headersSent) {
        send(
          res,
          502,
          'Sign-in failed',
          `<p>${html(message)}</p><p><a href="/login">Try again</a></p>`,
        );
      }
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  const listen = (at: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(at, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  // The preferred port (the provider's + 1, so ssh -L lines stay the same), else any.
  await listen(options.preferredPort ?? 0).catch((error: unknown) => {
    if (!isAddressInUse(error)) throw error;
    return listen(0);
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/login`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function send(res: ServerResponse, status: number, title: string, body: string): void {
  const page = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">
<title>${html(title)} · pgkey demo</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem}pre{background:#f4f4f4;padding:1rem;white-space:pre-wrap;word-break:break-all}</style>
</head><body><h1>${html(title)}</h1>
${body}
</body></html>
`;
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    'Content-Security-Policy':
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'none'",
    'Referrer-Policy': 'no-referrer',
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(page);
}
