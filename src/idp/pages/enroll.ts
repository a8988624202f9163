/**
 * Enrollment from an invite link.
 *
 *   GET  /enroll/<secret>          the page: "Register your security key or passkey"
 *   POST /enroll/<secret>/options  creation options for the invite's user; the invite stays
 *   POST /enroll/<secret>/verify   register the key, *then* spend the invite, sign in
 *
 * The invite is spent only after the key is registered, and atomically (InviteStore.consume):
 * of two registrations racing on one link, the one whose consume loses has its fresh key
 * revoked at once and is told the link is used. A link that is unknown, used, expired,
 * malformed, or whose person is disabled gets one and the same answer, so a link reveals
 * nothing about who exists.
 */
import type { Invite, User } from '../../store/directory.ts';
import { inviteTokenHash } from '../../store/invite-secret.ts';
import { html } from '../provider/pages.ts';
import { assuranceOf } from '../webauthn/assurance.ts';
import { pathsOf, startSession, type AccountContext } from './account-context.ts';
import { INVITE_SECRET, inviteUser } from './invites.ts';
import { accountPage, ACCOUNT_SCRIPTS, textInput } from './layout.ts';
import { finishRegistration, registrationRequest } from './registration-request.ts';
import { htmlReply, jsonError, jsonReply, withCookies, type PageReply } from './reply.ts';

const FLOW = 'enroll';
export const INVITE_INVALID =
  'This link is not valid any more; ask your administrator for a new one.';

/** The same page for every link that cannot be used. */
function invalidPage(ctx: AccountContext): PageReply {
  return htmlReply(
    404,
    accountPage({
      mountPath: ctx.settings.mountPath,
      title: 'Link not valid',
      body: `<h1>Link not valid</h1>\n<p>${html(INVITE_INVALID)}</p>`,
    }),
  );
}

const invalidJson = (): PageReply => jsonError(404, 'invite_invalid', INVITE_INVALID);

/** The invite behind `secret` while it can still be used; its user when one exists. */
async function usableInvite(
  ctx: AccountContext,
  secret: string,
): Promise<{ invite: Invite; user: User | undefined } | undefined> {
  if (!INVITE_SECRET.test(secret)) return undefined;
  const invite = await ctx.directory.invites.peek(inviteTokenHash(secret), ctx.clock.now());
  if (invite === undefined) return undefined;
  const user = await ctx.directory.users.findByEmail(invite.email);
  return user?.disabled === true ? undefined : { invite, user };
}

export async function enrollPage(ctx: AccountContext, secret: string): Promise<PageReply> {
  const found = await usableInvite(ctx, secret);
  if (found === undefined) return invalidPage(ctx);
  const base = pathsOf(ctx.settings.mountPath).enroll(secret);
  return htmlReply(
    200,
    accountPage({
      mountPath: ctx.settings.mountPath,
      title: 'Register your key',
      scripts: ACCOUNT_SCRIPTS,
      body: `<h1>Register your security key or passkey</h1>
<p>You are setting up sign-in for <strong>${html(found.invite.email)}</strong>. This link works once.</p>
<div data-ceremony="register" data-options-url="${html(`${base}/options`)}" data-verify-url="${html(`${base}/verify`)}">
${textInput({ name: 'name', label: 'Name for this key (optional)', maxLength: 64, placeholder: 'e.g. Blue YubiKey' })}
<button type="button" disabled>Register your key</button>
<p class="status" role="status" aria-live="polite"></p>
</div>
<noscript><p class="error">Registering a security key needs JavaScript.</p></noscript>`,
    }),
  );
}

export async function enrollOptions(ctx: AccountContext, secret: string): Promise<PageReply> {
  const found = await usableInvite(ctx, secret);
  if (found === undefined) return invalidJson();
  const user =
    found.user ??
    (await inviteUser(ctx.directory, {
      email: found.invite.email,
      now: ctx.clock.now(),
      random: ctx.random,
    }));
  const start = await ctx.ceremonies.beginRegistration(user, {
    flow: FLOW,
    invite: found.invite.id,
  });
  return jsonReply(200, start);
}

export async function enrollVerify(
  ctx: AccountContext,
  secret: string,
  previousId: string | undefined,
  body: unknown,
): Promise<PageReply> {
  const parsed = registrationRequest(body);
  if ('refused' in parsed) return parsed.refused;
  const found = await usableInvite(ctx, secret);
  if (found === undefined) return invalidJson();
  const outcome = await finishRegistration(ctx, parsed.request, 'enrollment');
  if ('refused' in outcome) return outcome.refused;
  const { credential, data } = outcome.registered;
  const now = ctx.clock.now();
  const revoke = (reason: string) => ctx.directory.credentials.revoke(credential.id, reason, now);
  if (data.flow !== FLOW || data.invite !== found.invite.id) {
    await revoke('registered through another page');
    return jsonError(400, 'challenge_mismatch', 'This key response belongs to another page.');
  }
  // Single use, decided by the store: only now is the invite spent.
  const consumed = await ctx.directory.invites.consume(inviteTokenHash(secret), now);
  if (consumed?.id !== found.invite.id) {
    await revoke('invite already used');
    ctx.logger.warn({ invite: found.invite.id, credential: credential.id }, 'invite raced');
    return invalidJson();
  }
  const user = await ctx.directory.users.get(credential.userId);
  const email = user?.email ?? found.invite.email;
  ctx.onAdminAction({ type: 'key.added', actor: email, target: credential.id, user: email });
  const { acr } = assuranceOf({
    userVerified: ctx.userVerificationRequired,
    deviceBound: !credential.backupEligible,
    attested: credential.attested,
  });
  const cookies = await startSession(
    ctx,
    { userId: credential.userId, credentialId: credential.id, acr },
    previousId,
  );
  ctx.logger.info({ user: credential.userId, credential: credential.id }, 'enrolled');
  const redirectTo = `${pathsOf(ctx.settings.mountPath).me}?notice=enrolled`;
  return withCookies(jsonReply(200, { redirectTo }), cookies);
}
