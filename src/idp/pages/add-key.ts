/**
 * Adding a key to one's own account (from "My keys"):
 *
 *   POST /me/keys/options  creation options for the signed-in user
 *   POST /me/keys/verify   register it, `{ redirectTo }`
 *
 * Both need a sign-in no older than `idp.admin_fresh_auth`: someone who finds an unlocked
 * browser with a session must not be able to plant a key of their own. A stale session gets
 * 401 `fresh_login_required` with the re-login URL, which the page's script follows.
 */
import { isFresh, pathsOf, reLoginUrl, type AccountContext } from './account-context.ts';
import type { ActiveSession } from './account-sessions.ts';
import { finishRegistration, registrationRequest } from './registration-request.ts';
import { jsonError, jsonReply, type PageReply } from './reply.ts';

const FLOW = 'add-key';

function staleReply(ctx: AccountContext): PageReply {
  return jsonError(
    401,
    'fresh_login_required',
    'Adding a key needs a recent sign-in. Confirm it’s you first.',
    { redirectTo: reLoginUrl(ctx, pathsOf(ctx.settings.mountPath).me) },
  );
}

export async function addKeyOptions(
  ctx: AccountContext,
  active: ActiveSession,
): Promise<PageReply> {
  if (!isFresh(ctx, active)) return staleReply(ctx);
  const start = await ctx.ceremonies.beginRegistration(active.user, {
    flow: FLOW,
    account: active.user.id,
  });
  return jsonReply(200, start);
}

export async function addKeyVerify(
  ctx: AccountContext,
  active: ActiveSession,
  body: unknown,
): Promise<PageReply> {
  if (!isFresh(ctx, active)) return staleReply(ctx);
  const parsed = registrationRequest(body);
  if ('refused' in parsed) return parsed.refused;
  const outcome = await finishRegistration(ctx, parsed.request, 'add key');
  if ('refused' in outcome) return outcome.refused;
  const { credential, data } = outcome.registered;
  // The challenge must be this session's own add-key ceremony, not an invite's.
  if (
    data.flow !== FLOW ||
    data.account !== active.user.id ||
    credential.userId !== active.user.id
  ) {
    await ctx.directory.credentials.revoke(
      credential.id,
      'registered through another page',
      ctx.clock.now(),
    );
    return jsonError(400, 'challenge_mismatch', 'This key response belongs to another page.');
  }
  ctx.onAdminAction({
    type: 'key.added',
    actor: active.user.email,
    target: credential.id,
    user: active.user.email,
  });
  ctx.logger.info({ user: active.user.id, credential: credential.id }, 'key added');
  return jsonReply(200, { redirectTo: `${pathsOf(ctx.settings.mountPath).me}?notice=key-added` });
}
