/**
 * Signing in to the account pages, and out.
 *
 *   GET  /login[?next=…&fresh=1]  the page (a button; /assets/account.js runs the ceremony)
 *   POST /login/options           discoverable assertion options (no user named: the key
 *                                 says whose it is, so nothing is typed and nothing listed)
 *   POST /login/verify            verify, start a session, `{ redirectTo }`
 *   POST /logout                  end the session (form, CSRF field)
 *
 * A re-login (`fresh=1`, asked by the admin page and by "add a key") with a session in this
 * browser offers only that account's keys. Every refusal reads the same whatever the key or
 * its owner (refusal.ts): unknown, revoked or flagged keys and disabled users cannot be told
 * apart from here.
 */
import { isPgkeyError } from '../../errors/pgkey-error.ts';
import { html } from '../provider/pages.ts';
import { refusalOf } from '../webauthn/refusal.ts';
import {
  endSession,
  pathsOf,
  safeNext,
  startSession,
  type AccountCeremonies,
  type AccountContext,
} from './account-context.ts';
import type { ActiveSession } from './account-sessions.ts';
import { accountPage, ACCOUNT_SCRIPTS, formatDuration, noticeBanner } from './layout.ts';
import { htmlReply, jsonError, jsonReply, seeOther, withCookies, type PageReply } from './reply.ts';

type AssertionJSON = Parameters<AccountCeremonies['finishAuthentication']>[1];

const FLOW = 'account-login';

const NOTICES: Readonly<Record<string, string>> = {
  'signed-out': 'You are signed out.',
  'key-removed': 'The key is removed. You had signed in with it, so sign in with another key.',
};

export function loginPage(
  ctx: AccountContext,
  active: ActiveSession | undefined,
  query: URLSearchParams,
): PageReply {
  const { mountPath } = ctx.settings;
  const paths = pathsOf(mountPath);
  const next = safeNext(ctx, query.get('next'));
  const fresh = query.get('fresh') === '1';
  if (active !== undefined && !fresh) return seeOther(next ?? paths.me);
  const lead = fresh
    ? `<p>For this step, use your security key or passkey again: administration and adding keys need a sign-in from the last ${html(formatDuration(ctx.freshAuthMs))}.</p>`
    : '<p>Use your security key or passkey to see and manage your keys.</p>';
  return htmlReply(
    200,
    accountPage({
      mountPath,
      title: fresh ? 'Confirm it’s you' : 'Sign in',
      scripts: ACCOUNT_SCRIPTS,
      body: `<h1>${fresh ? 'Confirm it’s you' : 'Sign in to pgkey'}</h1>
${noticeBanner(NOTICES, query.get('notice'))}${lead}
<div data-ceremony="login" data-options-url="${html(`${paths.login}/options`)}" data-verify-url="${html(`${paths.login}/verify`)}"${next === undefined ? '' : ` data-next="${html(next)}"`}>
<button type="button" disabled>Sign in with your security key or passkey</button>
<p class="status" role="status" aria-live="polite"></p>
</div>
<noscript><p class="error">Signing in with a security key needs JavaScript.</p></noscript>`,
    }),
  );
}

export async function loginOptions(
  ctx: AccountContext,
  active: ActiveSession | undefined,
): Promise<PageReply> {
  // The user id comes from a signed-in session, never from the request (authentication.ts).
  const start = await ctx.ceremonies.beginAuthentication(
    { flow: FLOW },
    active === undefined ? {} : { userId: active.user.id },
  );
  return jsonReply(200, start);
}

export async function loginVerify(
  ctx: AccountContext,
  previousId: string | undefined,
  body: unknown,
): Promise<PageReply> {
  const { challengeId, response, next } = (body ?? {}) as Record<string, unknown>;
  if (typeof challengeId !== 'string' || typeof response !== 'object' || response === null) {
    return jsonError(400, 'invalid_request', 'Expected { challengeId, response }.');
  }
  let key;
  try {
    key = await ctx.ceremonies.finishAuthentication(challengeId, response as AssertionJSON);
  } catch (error) {
    if (!isPgkeyError(error) || error.httpStatus >= 500) throw error;
    ctx.logger.info({ reason: refusalOf(error) ?? error.reason }, 'account sign-in refused');
    return jsonError(error.httpStatus, error.reason, error.message);
  }
  // A challenge of the provider's own sign-in page (or of any other flow) is not for here.
  if (key.data.flow !== FLOW) {
    return jsonError(400, 'challenge_mismatch', 'This key response belongs to another page.');
  }
  const cookies = await startSession(
    ctx,
    { userId: key.user.id, credentialId: key.credential.id, acr: key.acr },
    previousId,
  );
  ctx.logger.info(
    { user: key.user.id, credential: key.credential.id, acr: key.acr },
    'account sign-in',
  );
  const redirectTo = safeNext(ctx, next) ?? pathsOf(ctx.settings.mountPath).me;
  return withCookies(jsonReply(200, { redirectTo }), cookies);
}

export async function logout(
  ctx: AccountContext,
  sessionId: string | undefined,
): Promise<PageReply> {
  const cookies = await endSession(ctx, sessionId);
  const { login } = pathsOf(ctx.settings.mountPath);
  return withCookies(seeOther(`${login}?notice=signed-out`), cookies);
}
