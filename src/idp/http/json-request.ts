/**
 * The guard in front of the interaction POST endpoints: same-origin, JSON only, small.
 *
 * CSRF: a cross-site form can send neither `Content-Type: application/json` nor a matching
 * `Origin` (Fetch: browsers always send Origin on POST), and the interaction cookie is
 * SameSite=Lax and scoped to the interaction path; the handlers then require the cookie to
 * name the interaction in the URL. The body is capped before it is buffered, and a declared
 * length above the cap is refused before reading anything.
 */
import type { IncomingMessage } from 'node:http';

export const MAX_JSON_BODY_BYTES = 64 * 1024;

export type JsonRequest =
  | { readonly ok: true; readonly body: unknown }
  | {
      readonly ok: false;
      readonly status: number;
      readonly error: string;
      readonly message: string;
    };

const refuse = (status: number, error: string, message: string): JsonRequest => ({
  ok: false,
  status,
  error,
  message,
});

/** Checks Origin, Sec-Fetch-Site and Content-Type, then reads at most MAX_JSON_BODY_BYTES. */
export async function readJsonRequest(req: IncomingMessage, origin: string): Promise<JsonRequest> {
  if (req.headers.origin !== origin) {
    return refuse(403, 'cross_origin', 'Requests must come from the sign-in page.');
  }
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') {
    return refuse(403, 'cross_origin', 'Requests must come from the sign-in page.');
  }
  const type = (req.headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    return refuse(415, 'unsupported_media_type', 'Send application/json.');
  }
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (declared > MAX_JSON_BODY_BYTES) return refuse(413, 'too_large', 'Request body too large.');
  const chunks: Buffer[] = [];
  let received = 0;
  // Stop reading without destroying the socket, so the 413 still reaches the client.
  for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    received += chunk.length;
    if (received > MAX_JSON_BODY_BYTES) return refuse(413, 'too_large', 'Request body too large.');
    chunks.push(chunk);
  }
  try {
    return { ok: true, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown };
  } catch {
    return refuse(400, 'invalid_json', 'The request body is not JSON.');
  }
}
