/**
 * The loopback redirect of a native app (RFC 8252 §7.3): an HTTP listener on 127.0.0.1 and
 * an ephemeral port, only for the lifetime of one `pgkey login`. The browser lands on
 * `/callback?code=…&state=…`; a request whose `state` is not this login's is answered and
 * ignored (another tab, a stale bookmark, a local program guessing). The page the person
 * sees says whether the login worked and that they may close the tab.
 *
 * IP literal, not `localhost` (§8.3): a resolver or hosts file cannot point it elsewhere.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PgkeyError } from '../errors/pgkey-error.ts';
import { html } from '../idp/provider/pages.ts';

export interface CallbackListener {
  /** `http://127.0.0.1:<port>/callback` */
  readonly redirectUri: string;
  /** The full callback URL with this login's state; the browser waits for `finish`. */
  next(signal: AbortSignal): Promise<URL>;
  /** Answers the browser that brought the callback. */
  finish(outcome: { ok: boolean; title: string; text: string }): void;
  close(): Promise<void>;
}

/** `port` 0 (default) is an ephemeral port; a fixed one for providers that compare it. */
export async function listenForCallback(
  expectedState: string,
  port = 0,
): Promise<CallbackListener> {
  let waiting: { resolve(url: URL): void } | undefined;
  let pending: { url: URL; res: ServerResponse } | undefined;
  let answering: ServerResponse | undefined;

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    if (req.method !== 'GET' || url.pathname !== '/callback') {
      return page(res, 404, 'Not found', 'This address only receives the pgkey login.');
    }
    if (url.searchParams.get('state') !== expectedState || answering !== undefined) {
      return page(
        res,
        400,
        'Not this login',
        'This page was not opened by the pgkey login waiting here. Start again from the terminal.',
      );
    }
    answering = res;
    if (waiting === undefined) pending = { url, res };
    else waiting.resolve(url);
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new PgkeyError('ERR_LOGIN_FAILED', {
              message: `the login callback port 127.0.0.1:${port} is in use`,
              hint: 'finish or stop the other pgkey login, or change redirect_port in the profile (and at the provider)',
            })
          : error,
      ),
    );
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;

  return {
    redirectUri: `http://127.0.0.1:${port}/callback`,
    next(signal) {
      if (pending !== undefined) return Promise.resolve(pending.url);
      return new Promise<URL>((resolve, reject) => {
        const abort = () => reject(signal.reason as Error);
        if (signal.aborted) return abort();
        signal.addEventListener('abort', abort, { once: true });
        waiting = {
          resolve(url) {
            signal.removeEventListener('abort', abort);
            resolve(url);
          },
        };
      });
    },
    finish(outcome) {
      if (answering === undefined || answering.headersSent) return;
      page(answering, outcome.ok ? 200 : 400, outcome.title, outcome.text);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // The answered browser may keep its connection alive; nothing else comes here.
        setTimeout(() => server.closeAllConnections(), 200).unref();
      }),
  };
}

function page(res: ServerResponse, status: number, title: string, text: string): void {
  const body = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${html(title)} · pgkey</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1b1b1b}h1{font-size:1.4rem}</style>
</head><body><h1 id="outcome" data-ok="${status === 200 ? 'yes' : 'no'}">${html(title)}</h1>
<p>${html(text)}</p>
</body></html>
`;
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    'Content-Security-Policy':
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'none'",
    'Referrer-Policy': 'no-referrer',
    'X-Content-Type-Options': 'nosniff',
    Connection: 'close',
  });
  res.end(body);
}
