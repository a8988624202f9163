/**
 * The `POST …/verify` half of a registration ceremony, as both pages that register keys
 * (enroll from an invite, add a key to one's account) take it: the body's shape, then the
 * ceremony, with a refusal (bad attestation, replayed challenge, …) answered as JSON naming
 * its reason. What the new key may be used for is each page's own check.
 */
import { isPgkeyError } from '../../errors/pgkey-error.ts';
import { refusalOf } from '../webauthn/refusal.ts';
import type { AccountContext } from './account-context.ts';
import { jsonError, type PageReply } from './reply.ts';

type Ceremonies = AccountContext['ceremonies'];
type RegistrationJSON = Parameters<Ceremonies['finishRegistration']>[1];
type Registered = Awaited<ReturnType<Ceremonies['finishRegistration']>>;

export interface RegistrationRequest {
  readonly challengeId: string;
  readonly response: RegistrationJSON;
  readonly name: string | undefined;
}

/** The request body, or the 400 reply for one that is not `{ challengeId, response }`. */
export function registrationRequest(
  body: unknown,
): { readonly request: RegistrationRequest } | { readonly refused: PageReply } {
  const { challengeId, response, name } = (body ?? {}) as Record<string, unknown>;
  if (typeof challengeId !== 'string' || typeof response !== 'object' || response === null) {
    return { refused: jsonError(400, 'invalid_request', 'Expected { challengeId, response }.') };
  }
  const request = {
    challengeId,
    response: response as RegistrationJSON,
    name: typeof name === 'string' ? name : undefined,
  };
  return { request };
}

/**
 * Runs the ceremony. A refusal is logged as `<what> refused` and answered with its status,
 * reason and message (plus hint); anything else (a 5xx) is thrown to the page's handler.
 */
export async function finishRegistration(
  ctx: AccountContext,
  request: RegistrationRequest,
  what: string,
): Promise<{ readonly registered: Registered } | { readonly refused: PageReply }> {
  try {
    const registered = await ctx.ceremonies.finishRegistration(
      request.challengeId,
      request.response,
      request.name === undefined ? {} : { name: request.name },
    );
    return { registered };
  } catch (error) {
    if (!isPgkeyError(error) || error.httpStatus >= 500) throw error;
    ctx.logger.info({ reason: refusalOf(error) ?? error.reason }, `${what} refused`);
    const message = error.hint === undefined ? error.message : `${error.message}. ${error.hint}`;
    return { refused: jsonError(error.httpStatus, error.reason, message) };
  }
}
