/**
 * The browser's JSON for a new credential or an assertion, checked for shape and size
 * before anything decodes its contents (reliability.md D26: huge or garbage input is
 * refused fast). The HTTP layer should call parseRegistrationResponse /
 * parseAuthenticationResponse on the raw body, which caps the size before JSON.parse; the
 * ceremonies re-check objects they are handed, in case a caller parsed them elsewhere.
 *
 * The checked value is a fresh object holding only the fields WebAuthn defines.
 */
import type { AuthenticationResponseJSON, RegistrationResponseJSON } from '@simplewebauthn/server';
import { authenticationError, refuse, registrationError } from './refusal.ts';

/** A whole response, as JSON text; real ones are a few KiB. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

const B64URL = /^[A-Za-z0-9_-]*={0,2}$/;
/** base64url characters for n bytes, rounded up. */
const chars = (n: number): number => Math.ceil((n * 4) / 3);
const LIMITS = {
  credentialId: chars(1023), // WebAuthn L3 §7.1 step 25
  clientDataJSON: 8 * 1024,
  attestationObject: 48 * 1024,
  authenticatorData: 16 * 1024,
  signature: chars(1024),
  userHandle: chars(64), // user.id is at most 64 bytes (§5.4.3)
  extensionResults: 4 * 1024,
};
const TRANSPORTS = new Set(['ble', 'cable', 'hybrid', 'internal', 'nfc', 'smart-card', 'usb']);

type Json = Record<string, unknown>;

function object(value: unknown): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    refuse('response_malformed');
  }
  return value as Json;
}

function b64url(value: unknown, max: number, optional = false): string | undefined {
  if (optional && (value === undefined || value === null)) return undefined;
  if (typeof value !== 'string' || value.length > max || !B64URL.test(value)) {
    refuse(
      typeof value === 'string' && value.length > max ? 'response_too_large' : 'response_malformed',
    );
  }
  return value;
}

function required(value: unknown, max: number): string {
  const text = b64url(value, max);
  if (text === undefined || text === '') refuse('response_malformed');
  return text;
}

function common(value: unknown): { outer: Json; inner: Json; id: string } {
  let size: number;
  try {
    size = JSON.stringify(value)?.length ?? 0;
  } catch {
    return refuse('response_malformed');
  }
  if (size > MAX_RESPONSE_BYTES) refuse('response_too_large');
  const outer = object(value);
  const id = required(outer['id'], LIMITS.credentialId);
  // The library insists on id === rawId; so do we, before it runs.
  if (outer['rawId'] !== id || outer['type'] !== 'public-key') refuse('response_malformed');
  const extensions = outer['clientExtensionResults'];
  if (extensions !== undefined) {
    object(extensions);
    if (JSON.stringify(extensions).length > LIMITS.extensionResults) refuse('response_too_large');
  }
  return { outer, inner: object(outer['response']), id };
}

function attachment(value: unknown): { authenticatorAttachment?: 'platform' | 'cross-platform' } {
  return value === 'platform' || value === 'cross-platform'
    ? { authenticatorAttachment: value }
    : {};
}

export function checkRegistrationResponse(value: unknown): RegistrationResponseJSON {
  const { outer, inner, id } = common(value);
  const transports = inner['transports'];
  if (transports !== undefined && (!Array.isArray(transports) || transports.length > 16)) {
    refuse('response_malformed');
  }
  return {
    id,
    rawId: id,
    type: 'public-key',
    response: {
      clientDataJSON: required(inner['clientDataJSON'], LIMITS.clientDataJSON),
      attestationObject: required(inner['attestationObject'], LIMITS.attestationObject),
      transports: ((transports as unknown[] | undefined) ?? []).filter(
        (t): t is string => typeof t === 'string' && TRANSPORTS.has(t),
      ),
    },
    clientExtensionResults: {},
    ...attachment(outer['authenticatorAttachment']),
  };
}

export function checkAuthenticationResponse(value: unknown): AuthenticationResponseJSON {
  const { outer, inner, id } = common(value);
  const userHandle = b64url(inner['userHandle'], LIMITS.userHandle, true);
  return {
    id,
    rawId: id,
    type: 'public-key',
    response: {
      clientDataJSON: required(inner['clientDataJSON'], LIMITS.clientDataJSON),
      authenticatorData: required(inner['authenticatorData'], LIMITS.authenticatorData),
      signature: required(inner['signature'], LIMITS.signature),
      ...(userHandle === undefined ? {} : { userHandle }),
    },
    clientExtensionResults: {},
    ...attachment(outer['authenticatorAttachment']),
  };
}

function parseBody(body: string | Uint8Array): unknown {
  const length = typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.byteLength;
  if (length > MAX_RESPONSE_BYTES) refuse('response_too_large');
  try {
    return JSON.parse(typeof body === 'string' ? body : Buffer.from(body).toString('utf8'));
  } catch {
    return refuse('response_malformed');
  }
}

/**
 * For the HTTP layer: caps the body size, then parses and checks it. Failures are the
 * ceremony's own client-facing errors (ERR_WEBAUTHN_REGISTRATION).
 */
export function parseRegistrationResponse(body: string | Uint8Array): RegistrationResponseJSON {
  try {
    return checkRegistrationResponse(parseBody(body));
  } catch (error) {
    throw registrationError(error);
  }
}

/** As parseRegistrationResponse, for assertions (ERR_WEBAUTHN_AUTHENTICATION). */
export function parseAuthenticationResponse(body: string | Uint8Array): AuthenticationResponseJSON {
  try {
    return checkAuthenticationResponse(parseBody(body));
  } catch (error) {
    throw authenticationError(error);
  }
}
