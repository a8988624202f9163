/**
 * A client for SASL OAUTHBEARER written to libpq 18's byte formats (libpq 18 itself is not
 * installable here). Layouts from postgres src/interfaces/libpq: fe-auth.c pg_SASL_init
 * (SASLInitialResponse: String mechanism, Int32 length, the initial response),
 * fe-auth-oauth.c client_initial_response (`"n,," kvsep "auth=%s%s" kvsep kvsep`) and
 * oauth_exchange (the dummy kvsep after an error result); and the checks libpq makes of the
 * server's error result (handle_oauth_sasl_error, issuer_from_well_known_uri). The bytes are
 * laid out by test/support/bytes.ts, never by the gateway's codec.
 */
import assert from 'node:assert/strict';
import { bytes, typedMessage } from '../support/bytes.ts';
import { connectTls, startupPacket, type Wire } from './wire.ts';

export const KVSEP = 0x01;

/** RFC 7628 §3.1 client initial response as libpq builds it; no token = discovery. */
export function initialClientResponse(token?: string): Buffer {
  return bytes()
    .text('n,,')
    .byte(KVSEP)
    .text(token === undefined ? 'auth=' : `auth=Bearer ${token}`)
    .byte(KVSEP)
    .byte(KVSEP)
    .build();
}

/** SASLInitialResponse ('p'): String mechanism, Int32 length (-1 without data), data. */
export function saslInitialResponse(mechanism: string, data: Buffer | undefined): Buffer {
  const body = bytes().cstring(mechanism);
  if (data === undefined) body.int32(-1);
  else body.int32(data.length).raw(data);
  return typedMessage('p', body.build());
}

/** SASLResponse ('p'): the mechanism's bytes, the rest of the message. */
export const saslResponse = (data: Buffer | readonly number[]): Buffer => typedMessage('p', data);

/** 'R' AuthenticationSASL offering only OAUTHBEARER, as an `oauth` pg_hba line does. */
export const OAUTHBEARER_REQUEST = bytes()
  .byte('R')
  .int32(21)
  .int32(10)
  .cstring('OAUTHBEARER')
  .byte(0)
  .build();

/** 'R' AuthenticationSASLContinue with no data: "send me your initial response". */
export const EMPTY_CONTINUE = bytes().byte('R').int32(8).int32(11).build();

/** 'R' AuthenticationOk. */
export const AUTHENTICATION_OK = bytes().byte('R').int32(8).int32(0).build();

/** 'R' AuthenticationSASLContinue carrying `payload`. */
export function saslContinue(payload: Buffer): Buffer {
  return bytes()
    .byte('R')
    .int32(8 + payload.length)
    .int32(11)
    .raw(payload)
    .build();
}

export interface OAuthConnectOptions {
  readonly ca: string;
  readonly user?: string;
  readonly database?: string;
}

/**
 * TLS, StartupMessage, and the server's first answer, which must be exactly the OAUTHBEARER
 * request (libpq's pg_SASL_init picks OAUTHBEARER only when offered).
 */
export async function startOAuth(port: number, options: OAuthConnectOptions): Promise<Wire> {
  const wire = await connectTls(port, { ca: options.ca });
  wire.write(
    startupPacket([
      ['user', options.user ?? 'analyst'],
      ['database', options.database ?? 'warehouse'],
    ]),
  );
  assert.deepEqual(await wire.bytes(OAUTHBEARER_REQUEST.length), OAUTHBEARER_REQUEST);
  return wire;
}

/** What libpq 18 keeps from the server's error result. */
export interface DiscoveryResult {
  readonly discoveryUri: string;
  readonly scope: string | undefined;
}

/**
 * fe-auth-oauth.c handle_oauth_sasl_error + issuer_from_well_known_uri: valid UTF-8 without
 * NUL, a top-level object whose `status` is `invalid_token`, and an `openid-configuration`
 * URI (https, no query or fragment, a known .well-known suffix) whose issuer equals
 * `oauth_issuer` byte for byte.
 */
export function checkErrorResult(payload: Buffer, oauthIssuer: string): DiscoveryResult {
  assert.equal(payload.indexOf(0), -1, 'no embedded NUL');
  const text = new TextDecoder('utf-8', { fatal: true }).decode(payload);
  const json = JSON.parse(text) as Record<string, unknown>;
  assert.equal(json.status, 'invalid_token');
  const uri = json['openid-configuration'];
  assert.equal(typeof uri, 'string');
  const discoveryUri = uri as string;
  assert.match(discoveryUri, /^https:\/\//i, 'libpq needs https (PGOAUTHDEBUG aside)');
  assert.doesNotMatch(discoveryUri, /[?#]/);
  const suffix = /\/\.well-known\/(openid-configuration|oauth-authorization-server)(?=\/|$)/;
  const match = suffix.exec(discoveryUri);
  assert.ok(match !== null, `${discoveryUri} is not a .well-known URI`);
  const issuer =
    discoveryUri.slice(0, match.index) + discoveryUri.slice(match.index + match[0].length);
  assert.equal(issuer, oauthIssuer, 'discovery issuer must equal oauth_issuer byte for byte');
  const scope = json.scope;
  return { discoveryUri, scope: typeof scope === 'string' ? scope : undefined };
}
