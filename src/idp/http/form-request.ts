/**
 * The guard in front of the account pages' form POSTs (sign out, rename, remove, every admin
 * action): same-origin, url-encoded, small. The per-session CSRF token inside the form is
 * checked by the pages (pages/csrf.ts); this is the Fetch-metadata half of the defence.
 *
 * Same origin: `Origin` must be the issuer's origin. One exception, found in Chromium: the
 * provider's pages set `Referrer-Policy: no-referrer`, and for a form POST (a navigation, not
 * a CORS request) the browser then serializes the Origin as `null` (Fetch §3.1 "append a
 * request `Origin` header", step "no-referrer"). There `Sec-Fetch-Site: same-origin`, which
 * no page can forge (a forbidden header name), carries the proof instead. A cross-site form
 * sends `cross-site`, a sandboxed frame `cross-site` too.
 */
import type { IncomingMessage } from 'node:http';

export const MAX_FORM_BODY_BYTES = 16 * 1024;

export type FormRequest =
  | { readonly ok: true; readonly fields: URLSearchParams }
  | {
      readonly ok: false;
      readonly status: number;
      readonly error: string;
      readonly message: string;
    };

const refuse = (status: number, error: string, message: string): FormRequest => ({
  ok: false,
  status,
  error,
  message,
});

/** Fetch metadata: the request was made by a page of `origin` itself. */
export function isSameOrigin(req: IncomingMessage, origin: string): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return false;
  const from = req.headers.origin;
  return from === origin || (from === 'null' && site === 'same-origin');
}

/** Checks origin and Content-Type, then reads at most MAX_FORM_BODY_BYTES. */
export async function readFormRequest(req: IncomingMessage, origin: string): Promise<FormRequest> {
  if (!isSameOrigin(req, origin)) {
    return refuse(403, 'cross_origin', 'Forms must be sent from this site’s own pages.');
  }
  const type = (req.headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    return refuse(
      415,
      'unsupported_media_type',
      'Send a form (application/x-www-form-urlencoded).',
    );
  }
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (declared > MAX_FORM_BODY_BYTES) return refuse(413, 'too_large', 'Request body too large.');
  const chunks: Buffer[] = [];
  let received = 0;
  // Stop reading without destroying the socket, so the 413 still reaches the client.
  for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    received += chunk.length;
    if (received > MAX_FORM_BODY_BYTES) return refuse(413, 'too_large', 'Request body too large.');
    chunks.push(chunk);
  }
  return { ok: true, fields: new URLSearchParams(Buffer.concat(chunks).toString('utf8')) };
}
