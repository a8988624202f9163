/**
 * What the admin page's forms do. Each action changes the directory through its atomic
 * operations, reports an AdminActionEvent for the audit trail, and answers 303 back to the
 * page with a fixed notice. The directory's change feed does the rest: disabling a person or
 * revoking a key ends their gateway sessions (DirectoryChange), and account sessions end on
 * their next request (account-sessions.ts).
 *
 *   POST /admin/users/<id>/disable          reason (required)
 *   POST /admin/users/<id>/enable           reason
 *   POST /admin/users/<id>/groups/add       group
 *   POST /admin/users/<id>/groups/remove    group
 *   POST /admin/invites                     email, name → the link, shown once
 *   POST /admin/keys/<id>/revoke            reason (required)
 *   POST /admin/sessions/<id>/terminate     reason
 *
 * Two guard rails: an administrator cannot disable themselves or take themselves out of the
 * admin group here (the last administrator would lock everyone out).
 */
import { isPgkeyError } from '../../errors/pgkey-error.ts';
import type { User } from '../../store/directory.ts';
import { pathsOf, type AccountContext } from './account-context.ts';
import type { ActiveSession } from './account-sessions.ts';
import { adminPage, inviteCreatedPage } from './admin-view.ts';
import { createInvite } from './invites.ts';
import { cleanLine } from './key-labels.ts';
import { seeOther, type PageReply } from './reply.ts';

export type AdminAction =
  | { readonly kind: 'user'; readonly id: string; readonly verb: 'disable' | 'enable' }
  | { readonly kind: 'group'; readonly id: string; readonly verb: 'add' | 'remove' }
  | { readonly kind: 'invite' }
  | { readonly kind: 'key'; readonly id: string; readonly verb: 'revoke' }
  | { readonly kind: 'session'; readonly id: string; readonly verb: 'terminate' };

/** `segments` below /admin, already decoded. */
export function parseAdminAction(segments: readonly string[]): AdminAction | undefined {
  const [noun, id, verb, extra] = segments;
  if (noun === 'invites' && segments.length === 1) return { kind: 'invite' };
  if (id === undefined || id === '') return undefined;
  if (noun === 'users' && segments.length === 3 && (verb === 'disable' || verb === 'enable')) {
    return { kind: 'user', id, verb };
  }
  if (noun === 'users' && verb === 'groups' && (extra === 'add' || extra === 'remove')) {
    return segments.length === 4 ? { kind: 'group', id, verb: extra } : undefined;
  }
  if (noun === 'keys' && segments.length === 3 && verb === 'revoke')
    return { kind: 'key', id, verb };
  if (noun === 'sessions' && segments.length === 3 && verb === 'terminate') {
    return { kind: 'session', id, verb };
  }
  return undefined;
}

const MAX_REASON = 200;
const GROUP = /^[^\s\p{C}]{1,100}$/u;

const reasonOf = (fields: URLSearchParams): string | undefined =>
  cleanLine(fields.get('reason'), MAX_REASON);

export async function runAdminAction(
  ctx: AccountContext,
  active: ActiveSession,
  action: AdminAction,
  fields: URLSearchParams,
): Promise<PageReply> {
  const { directory } = ctx;
  const actor = active.user.email;
  const now = ctx.clock.now();
  const done = (notice: string) =>
    seeOther(`${pathsOf(ctx.settings.mountPath).admin}?notice=${notice}`);
  const refuse = (error: string, status: number) => adminPage(ctx, active, { error, status });
  const findUser = async (id: string): Promise<User | undefined> => directory.users.get(id);

  switch (action.kind) {
    case 'user': {
      const user = await findUser(action.id);
      if (user === undefined) return refuse('There is no such person.', 404);
      const reason = reasonOf(fields);
      if (action.verb === 'disable') {
        if (user.id === active.user.id) return refuse('You cannot disable your own account.', 409);
        if (reason === undefined) return refuse('Give a reason for disabling the account.', 400);
        await directory.users.setDisabled(user.id, true, reason, now);
        ctx.onAdminAction({ type: 'user.disabled', actor, target: user.email, reason });
        return done('user-disabled');
      }
      await directory.users.setDisabled(user.id, false, undefined, now);
      ctx.onAdminAction({
        type: 'user.enabled',
        actor,
        target: user.email,
        ...(reason === undefined ? {} : { reason }),
      });
      return done('user-enabled');
    }
    case 'group': {
      const user = await findUser(action.id);
      if (user === undefined) return refuse('There is no such person.', 404);
      const group = fields.get('group')?.trim() ?? '';
      if (!GROUP.test(group)) return refuse('Enter a group name without spaces.', 400);
      if (action.verb === 'add') {
        await directory.users.addGroup(user.id, group);
        ctx.onAdminAction({ type: 'group.added', actor, target: user.email, group });
        return done('group-added');
      }
      if (user.id === active.user.id && group === ctx.adminGroup) {
        return refuse(
          'You cannot remove yourself from the admin group; ask another administrator.',
          409,
        );
      }
      await directory.users.removeGroup(user.id, group, now);
      ctx.onAdminAction({ type: 'group.removed', actor, target: user.email, group });
      return done('group-removed');
    }
    case 'invite': {
      let created;
      try {
        created = await createInvite(directory, {
          email: fields.get('email') ?? '',
          displayName: fields.get('name') ?? undefined,
          createdBy: actor,
          ttlMs: ctx.inviteTtlMs,
          now,
          random: ctx.random,
          issuer: ctx.settings.issuer,
        });
      } catch (error) {
        if (isPgkeyError(error, 'ERR_USAGE')) return refuse(error.message, 400);
        if (isPgkeyError(error, 'ERR_CONFLICT')) return refuse(error.message, 409);
        throw error;
      }
      const { invite, link } = created;
      ctx.onAdminAction({ type: 'invite.created', actor, target: invite.email });
      ctx.logger.info({ invite: invite.id, by: actor }, 'invite created');
      return inviteCreatedPage(ctx, active, {
        email: invite.email,
        link,
        expiresAt: invite.expiresAt,
      });
    }
    case 'key': {
      const key = await directory.credentials.get(action.id);
      if (key === undefined) return refuse('There is no such key.', 404);
      const reason = reasonOf(fields);
      if (reason === undefined) return refuse('Give a reason for revoking the key.', 400);
      await directory.credentials.revoke(key.id, reason, now);
      const owner = await findUser(key.userId);
      ctx.onAdminAction({
        type: 'key.revoked',
        actor,
        target: key.id,
        credentialId: key.id,
        reason,
        ...(owner === undefined ? {} : { user: owner.email }),
      });
      return done('key-revoked');
    }
    case 'session': {
      if (ctx.liveSessions === undefined) return refuse('There is no such session.', 404);
      const reason = reasonOf(fields) ?? `terminated by ${actor}`;
      const live = (await ctx.liveSessions.list()).find((s) => s.id === action.id);
      const ended = await ctx.liveSessions.terminate(action.id, reason);
      if (!ended) return done('session-gone');
      ctx.onAdminAction({
        type: 'session.terminated',
        actor,
        target: action.id,
        reason,
        ...(live?.email === undefined ? {} : { user: live.email }),
        ...(live?.credentialId === undefined ? {} : { credentialId: live.credentialId }),
      });
      return done('session-terminated');
    }
    default:
      throw new Error(`unhandled admin action ${String((action as { kind: unknown }).kind)}`);
  }
}
