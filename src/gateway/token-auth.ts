import type { Duplex } from 'node:stream';
import type { OAuthListenerConfig } from '../config/schema.ts';
import { PgkeyError, asPgkeyError } from '../errors/pgkey-error.ts';
import type { Identity } from '../identity/identity.ts';
import {
  authenticationCleartextPassword,
  authenticationSasl,
  authenticationSaslContinue,
} from '../protocol/backend-serializer.ts';
import { FRONTEND } from '../protocol/constants.ts';
import { decodePasswordMessage, decodeSaslInitialResponse } from '../protocol/frontend-decoder.ts';
import type { Frame } from '../protocol/message-reader.ts';
import {
  OAUTHBEARER,
  errorResult,
  parseClientResponse,
  parseDummyResponse,
} from '../protocol/oauthbearer.ts';
import { protocolViolation } from '../protocol/protocol-error.ts';
import type { FrameSource } from './frame-source.ts';

/**
 * How a listener asks for the token (DESIGN.md step 3, docs/decisions/0007): the cleartext
 * password every driver can send, or SASL OAUTHBEARER as PostgreSQL 18 asks for it. A
 * listener has exactly one, as a pg_hba line has one method.
 */
export const DOOR = {
  Password: 'password',
  OAuthBearer: 'oauthbearer',
} as const;
export type Door = (typeof DOOR)[keyof typeof DOOR];

/** What the session hands the auth step: the wire, and what to do with a token. */
export interface TokenExchange {
  readonly stream: Duplex;
  readonly frames: FrameSource;
  /** Sent in the same write as the auth request (NegotiateProtocolVersion). */
  readonly preamble: readonly Buffer[];
  /** The user name of the StartupMessage (PostgreSQL's failure text names it). */
  readonly user: string;
  /**
   * The client has presented a credential. From here on a refusal is an authentication
   * failure the session records; a hang-up or a discovery request before it is not.
   */
  readonly presented: () => void;
  /** Verifies a token into an Identity; throws a PgkeyError when it is refused. */
  readonly verify: (token: string) => Promise<Identity>;
}

export type TokenOutcome =
  | { readonly kind: 'verified'; readonly identity: Identity }
  /** EOF before a token: psql hangs up to prompt for a password, then reconnects. */
  | { readonly kind: 'hung-up' }
  /**
   * An OAUTHBEARER discovery exchange ran to its end. It must still fail (FATAL 28000), but
   * PostgreSQL "abandons" it quietly: no failure in its log, so no audit record here.
   */
  | { readonly kind: 'discovered'; readonly error: PgkeyError };

/** Runs the auth exchange of `door` up to a verified identity (or throws). */
export function exchangeToken(
  door: Door,
  io: TokenExchange,
  oauth: OAuthListenerConfig | undefined,
): Promise<TokenOutcome> {
  switch (door) {
    case DOOR.Password:
      return cleartextPassword(io);
    case DOOR.OAuthBearer:
      return oauthBearer(io, oauth);
    default:
      throw new TypeError(`unhandled door ${String(door satisfies never)}`);
  }
}

function send(io: TokenExchange, request: Buffer): void {
  io.stream.write(io.preamble.length === 0 ? request : Buffer.concat([...io.preamble, request]));
}

/** protocol.md §2.2: AuthenticationCleartextPassword ('R' 3), then one PasswordMessage ('p'). */
async function cleartextPassword(io: TokenExchange): Promise<TokenOutcome> {
  send(io, authenticationCleartextPassword());
  const reply = await io.frames.next();
  if (reply === undefined) return { kind: 'hung-up' };
  if (reply.type !== FRONTEND.Password) {
    throw protocolViolation(
      'unexpected_message',
      `expected password response, got message type ${String.fromCharCode(reply.type)}`,
    );
  }
  const token = decodePasswordMessage(reply.body);
  io.presented();
  return { kind: 'verified', identity: await io.verify(token) };
}

/** The steps of one OAUTHBEARER exchange (auth-sasl.c CheckSASLAuth + auth-oauth.c). */
const OAUTH_STEP = {
  /** AuthenticationSASL ('R' 10) sent: a SASLInitialResponse ('p') is next. */
  Initial: 'initial',
  /** The initial response was absent: the client sends it as a SASLResponse ('p'). */
  ClientResponse: 'client-response',
  /** The RFC 7628 §3.2.2 error result sent: only the §3.2.3 dummy 0x01 may follow. */
  ErrorSent: 'error-sent',
} as const;
type OAuthStep = (typeof OAUTH_STEP)[keyof typeof OAUTH_STEP];

/**
 * SASL OAUTHBEARER exactly as PostgreSQL 18 runs it for an `oauth` pg_hba line
 * (reference/peers.md §5.3): 'R' 10 offering only OAUTHBEARER; the client's initial
 * response (or an empty 'R' 11 to ask for it); then either a verified token — and no
 * AuthenticationSASLFinal, OAUTHBEARER has no server data on success — or the error result
 * in 'R' 11, the client's 0x01, and FATAL 28000.
 */
async function oauthBearer(
  io: TokenExchange,
  settings: OAuthListenerConfig | undefined,
): Promise<TokenOutcome> {
  if (settings === undefined) {
    // The listener outlived its config (a reload removed listen.oauth): auth-oauth.c's answer.
    throw new PgkeyError('ERR_INTERNAL', {
      message: 'OAuth is not properly configured for this user',
      reason: 'oauth_not_configured',
    });
  }
  send(io, authenticationSasl([OAUTHBEARER]));
  let step: OAuthStep = OAUTH_STEP.Initial;
  /** Set when the error result answered a token; undefined when it answered discovery. */
  let refusal: PgkeyError | undefined;
  for (;;) {
    const frame = await io.frames.next();
    if (frame === undefined) {
      // A client that presented a bad token and left is still a failed login.
      if (refusal !== undefined) throw refusal;
      return { kind: 'hung-up' };
    }
    const body = saslResponse(frame);
    let response: Buffer;
    switch (step) {
      case OAUTH_STEP.Initial: {
        const initial = decodeSaslInitialResponse(body);
        if (initial.mechanism !== OAUTHBEARER) {
          throw protocolViolation(
            'invalid_sasl_mechanism',
            'client selected an invalid SASL authentication mechanism',
          );
        }
        if (initial.data === undefined) {
          // Length -1: "send an empty challenge, to which the client will respond with the
          // same data that usually comes in the Initial Client Response" (auth-oauth.c).
          io.stream.write(authenticationSaslContinue(Buffer.alloc(0)));
          step = OAUTH_STEP.ClientResponse;
          continue;
        }
        response = initial.data;
        break;
      }
      case OAUTH_STEP.ClientResponse:
        response = body;
        break;
      case OAUTH_STEP.ErrorSent:
        parseDummyResponse(body);
        if (refusal !== undefined) throw refusal;
        return { kind: 'discovered', error: oauthFailed(io.user, undefined) };
      default:
        throw new TypeError(`unhandled OAUTHBEARER step ${String(step satisfies never)}`);
    }

    const parsed = parseClientResponse(response);
    switch (parsed.kind) {
      case 'bearer':
        io.presented();
        try {
          return { kind: 'verified', identity: await io.verify(parsed.token) };
        } catch (error) {
          refusal = oauthFailed(io.user, asPgkeyError(error));
        }
        break;
      case 'malformed-token':
        // auth-oauth.c validate_token_format: logged, never echoed, and failed like a bad token.
        io.presented();
        refusal = oauthFailed(
          io.user,
          new PgkeyError('ERR_TOKEN_INVALID', {
            message: 'malformed OAuth bearer token',
            reason: 'token_malformed',
            cause: parsed.problem,
          }),
        );
        break;
      case 'discovery':
        break;
      default:
        throw new TypeError(`unhandled client response ${String(parsed satisfies never)}`);
    }
    io.stream.write(authenticationSaslContinue(errorResult(settings.issuer, settings.scope)));
    step = OAUTH_STEP.ErrorSent;
  }
}

/** Every client message of a SASL exchange is 'p' (auth-sasl.c CheckSASLAuth). */
function saslResponse(frame: Frame): Buffer {
  if (frame.type !== FRONTEND.Password) {
    throw protocolViolation(
      'unexpected_message',
      `expected SASL response, got message type ${frame.type}`,
    );
  }
  return frame.body;
}

/**
 * auth.c auth_failed for uaOAuth: FATAL 28000, the same words for discovery and for any
 * refused token. Why a token was refused goes to the audit trail as `reason`, and to the
 * client as DETAIL (pgkey's messages are safe to show; PostgreSQL keeps its own in the log).
 */
function oauthFailed(user: string, cause: PgkeyError | undefined): PgkeyError {
  const shown = cause !== undefined && cause.code !== 'ERR_INTERNAL' ? cause : undefined;
  return new PgkeyError('ERR_OAUTH_BEARER_FAILED', {
    message: `OAuth bearer authentication failed for user "${user}"`,
    reason: cause?.reason ?? 'oauth_discovery',
    ...(shown === undefined ? {} : { detail: shown.message }),
    ...(shown?.hint === undefined ? {} : { hint: shown.hint }),
    cause,
  });
}
