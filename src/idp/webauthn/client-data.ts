/**
 * Collected client data (WebAuthn L3 §5.8.1), checked by us before the library sees it:
 * SimpleWebAuthn v14 checks `type`, `challenge` and `origin`, but at registration it ignores
 * `crossOrigin`/`topOrigin` altogether, and at authentication it accepts `crossOrigin: true`
 * when `topOrigin` is absent (SimpleWebAuthn issue #613). pgkey's login pages are never
 * framed by another origin, so any cross-origin context is refused.
 */
import { refuse } from './refusal.ts';

export type CeremonyType = 'webauthn.create' | 'webauthn.get';

export interface ClientData {
  readonly type: CeremonyType;
  readonly challenge: string;
  readonly origin: string;
}

export interface ExpectedClientData {
  readonly type: CeremonyType;
  readonly challenge: string;
  readonly origins: readonly string[];
}

const decoder = new TextDecoder('utf-8', { fatal: true });

function parse(clientDataJSON: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(decoder.decode(Buffer.from(clientDataJSON, 'base64url')));
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      return value as Record<string, unknown>;
    }
  } catch {
    // fall through
  }
  return refuse('response_malformed');
}

/**
 * WebAuthn L3 §7.1 steps 5–10 and §7.2 steps 8–13. `clientDataJSON` is the base64url
 * string from the response (its length is already capped by the response shape check).
 */
export function checkClientData(clientDataJSON: string, expected: ExpectedClientData): ClientData {
  const data = parse(clientDataJSON);
  const { type, challenge, origin, crossOrigin, topOrigin } = data;
  if (typeof type !== 'string' || typeof challenge !== 'string' || typeof origin !== 'string') {
    refuse('response_malformed');
  }
  // Step 7 (§7.1) / 11 (§7.2): a get() assertion must not pass as create(), and back.
  if (type !== expected.type) refuse('client_data_type');
  // Step 8 / 12: the challenge we issued, exactly.
  if (challenge !== expected.challenge) refuse('challenge_mismatch');
  // Step 9 / 13 and §13.4.9: exact match against the configured list, no parsing, no
  // prefixes (http://, another port, a look-alike or a sibling subdomain all fail here).
  if (!expected.origins.includes(origin)) refuse('origin_mismatch');
  // Step 10 / 13: we never expect to be framed by another origin.
  if (crossOrigin !== undefined && crossOrigin !== false) refuse('cross_origin');
  if (topOrigin !== undefined) refuse('top_origin');
  return { type: expected.type, challenge, origin };
}
