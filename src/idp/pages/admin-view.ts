/**
 * The administration page (GET /admin): people, pending invites, every key, and the
 * gateway's live sessions, each row with its actions as small POST forms (admin-actions.ts).
 * Rendering only; the gate (admin group, fresh sign-in) is in account-routes.ts.
 */
import type { Credential, Invite, User } from '../../store/directory.ts';
import { html } from '../provider/pages.ts';
import { pathsOf, type AccountContext } from './account-context.ts';
import type { ActiveSession } from './account-sessions.ts';
import type { LiveSession } from './admin-hooks.ts';
import { isActiveKey, keyKind, keyModelHtml, keyStateHtml, sortKeys } from './key-labels.ts';
import {
  accountPage,
  dataTable,
  errorBanner,
  formatDuration,
  noticeBanner,
  postForm,
  textInput,
  timeTag,
} from './layout.ts';
import { htmlReply, type PageReply } from './reply.ts';

const NOTICES: Readonly<Record<string, string>> = {
  'user-disabled': 'The account is disabled; its sessions and tokens end now.',
  'user-enabled': 'The account is enabled again.',
  'group-added': 'The group is added.',
  'group-removed': 'The group is removed; tokens issued before now stop working.',
  'key-revoked': 'The key is revoked; sessions opened with it end now.',
  'session-terminated': 'The session is terminated.',
  'session-gone': 'That session had already ended.',
};

export interface AdminPageOptions {
  readonly notice?: string | null;
  readonly error?: string;
  readonly status?: number;
}

export const adminPath = (ctx: AccountContext, ...parts: string[]): string =>
  [pathsOf(ctx.settings.mountPath).admin, ...parts.map(encodeURIComponent)].join('/');

function userRow(
  ctx: AccountContext,
  csrf: string,
  user: User,
  keys: readonly Credential[],
): string {
  const groups = user.groups
    .map((group) =>
      postForm(
        adminPath(ctx, 'users', user.id, 'groups', 'remove'),
        csrf,
        `<input type="hidden" name="group" value="${html(group)}"><span class="chip">${html(group)}<button type="submit" class="chip-remove" aria-label="${html(`Remove ${user.email} from ${group}`)}">×</button></span>`,
        'chip-form',
      ),
    )
    .join('');
  const active = keys.filter(isActiveKey).length;
  const state = user.disabled
    ? `<span class="tag bad">Disabled</span>${user.disabledReason === undefined ? '' : ` <span class="muted">${html(user.disabledReason)}</span>`}`
    : '<span class="tag ok">Active</span>';
  const toggle = user.disabled
    ? postForm(
        adminPath(ctx, 'users', user.id, 'enable'),
        csrf,
        `${textInput({ name: 'reason', label: `Reason to enable ${user.email}`, hiddenLabel: true, placeholder: 'reason' })}<button type="submit" class="secondary">Enable</button>`,
      )
    : postForm(
        adminPath(ctx, 'users', user.id, 'disable'),
        csrf,
        `${textInput({ name: 'reason', label: `Reason to disable ${user.email}`, hiddenLabel: true, required: true, placeholder: 'reason' })}<button type="submit" class="danger">Disable</button>`,
      );
  const addGroup = postForm(
    adminPath(ctx, 'users', user.id, 'groups', 'add'),
    csrf,
    `${textInput({ name: 'group', label: `Group to add ${user.email} to`, hiddenLabel: true, required: true, maxLength: 100, placeholder: 'group' })}<button type="submit" class="secondary">Add group</button>`,
  );
  return `<tr>
<th scope="row">${html(user.displayName)}<br><span class="muted">${html(user.email)}</span></th>
<td>${groups || '<span class="muted">none</span>'}</td>
<td>${active}</td>
<td>${state}</td>
<td class="actions">${addGroup}${toggle}</td>
</tr>`;
}

function keyRow(
  ctx: AccountContext,
  csrf: string,
  key: Credential,
  owner: User | undefined,
): string {
  const revoke = isActiveKey(key)
    ? postForm(
        adminPath(ctx, 'keys', key.id, 'revoke'),
        csrf,
        `${textInput({ name: 'reason', label: `Reason to revoke ${key.name}`, hiddenLabel: true, required: true, placeholder: 'reason' })}<button type="submit" class="danger">Revoke</button>`,
      )
    : '';
  return `<tr>
<td>${html(owner?.email ?? key.userId)}</td>
<th scope="row">${html(key.name)}</th>
<td>${keyModelHtml(key, ctx.describeAuthenticator)}</td>
<td>${html(keyKind(key))}</td>
<td>${timeTag(key.createdAt)}</td>
<td>${timeTag(key.lastUsedAt)}</td>
<td>${keyStateHtml(key)}</td>
<td class="actions">${revoke}</td>
</tr>`;
}

function sessionRow(
  ctx: AccountContext,
  csrf: string,
  live: LiveSession,
  keyName: string | undefined,
): string {
  return `<tr>
<th scope="row">${html(live.email ?? live.subject)}</th>
<td>${html(live.role)}</td>
<td>${html(live.database)}</td>
<td>${html(live.clientAddress)}</td>
<td>${timeTag(live.startedAt)}</td>
<td>${keyName === undefined ? '<span class="muted">—</span>' : html(keyName)}</td>
<td class="actions">${postForm(
    adminPath(ctx, 'sessions', live.id, 'terminate'),
    csrf,
    `${textInput({ name: 'reason', label: `Reason to terminate the session of ${live.email ?? live.subject}`, hiddenLabel: true, placeholder: 'reason' })}<button type="submit" class="danger">Terminate</button>`,
  )}</td>
</tr>`;
}

export async function adminPage(
  ctx: AccountContext,
  active: ActiveSession,
  options: AdminPageOptions = {},
): Promise<PageReply> {
  const { directory } = ctx;
  const now = ctx.clock.now();
  const [users, keys, invites, live] = await Promise.all([
    directory.users.list(),
    directory.credentials.list(),
    directory.invites.list(),
    ctx.liveSessions === undefined ? undefined : ctx.liveSessions.list(),
  ]);
  const csrf = active.session.csrf;
  const owners = new Map(users.map((u) => [u.id, u]));
  const keysById = new Map(keys.map((k) => [k.id, k]));
  const pending = invites.filter((i: Invite) => i.usedAt === undefined && i.expiresAt > now);
  const inviteForm = postForm(
    adminPath(ctx, 'invites'),
    csrf,
    `${textInput({ name: 'email', label: 'E-mail', type: 'email', required: true, maxLength: 254 })}${textInput({ name: 'name', label: 'Display name (optional)', maxLength: 100 })}<button type="submit">Create invite link</button>`,
    'stacked',
  );
  const body = `<h1>Administration</h1>
${noticeBanner(NOTICES, options.notice ?? null)}${errorBanner(options.error)}
<nav class="sections" aria-label="Sections"><a href="#people">People</a> <a href="#keys">Keys</a> <a href="#sessions">Live sessions</a></nav>
<section id="people" aria-labelledby="people-h">
<h2 id="people-h">People</h2>
${dataTable(
  'People',
  ['Person', 'Groups', 'Active keys', 'State', ''],
  users.map((u) =>
    userRow(
      ctx,
      csrf,
      u,
      keys.filter((k) => k.userId === u.id),
    ),
  ),
)}
<h3>Invite someone</h3>
<p>The link lets one person register a key; it works once and expires after ${html(formatDuration(ctx.inviteTtlMs))}.</p>
${inviteForm}
<h3>Pending invites</h3>
${dataTable(
  'Pending invites',
  ['E-mail', 'Created by', 'Created', 'Expires'],
  pending.map(
    (i) =>
      `<tr><th scope="row">${html(i.email)}</th><td>${html(i.createdBy)}</td><td>${timeTag(i.createdAt)}</td><td>${timeTag(i.expiresAt)}</td></tr>`,
  ),
)}
</section>
<section id="keys" aria-labelledby="keys-h">
<h2 id="keys-h">Keys</h2>
${dataTable(
  'Keys',
  ['Person', 'Name', 'Model', 'Kind', 'Added', 'Last used', 'State', ''],
  sortKeys(keys).map((k) => keyRow(ctx, csrf, k, owners.get(k.userId))),
)}
</section>
<section id="sessions" aria-labelledby="sessions-h">
<h2 id="sessions-h">Live sessions</h2>
${
  live === undefined
    ? '<p class="muted">This provider runs without a gateway in the same process, so there are no live sessions to show.</p>'
    : dataTable(
        'Live database sessions',
        ['Person', 'Role', 'Database', 'Client', 'Started', 'Key', ''],
        live.map((s) =>
          sessionRow(
            ctx,
            csrf,
            s,
            s.credentialId === undefined ? undefined : keysById.get(s.credentialId)?.name,
          ),
        ),
      )
}
</section>`;
  return htmlReply(
    options.status ?? 200,
    accountPage({
      mountPath: ctx.settings.mountPath,
      title: 'Administration',
      wide: true,
      viewer: { email: active.user.email, isAdmin: true, csrf },
      body,
    }),
  );
}

/** Shown once, right after the invite is made: the secret is not stored anywhere. */
export function inviteCreatedPage(
  ctx: AccountContext,
  active: ActiveSession,
  created: { email: string; link: string; expiresAt: number },
): PageReply {
  return htmlReply(
    200,
    accountPage({
      mountPath: ctx.settings.mountPath,
      title: 'Invite link',
      wide: true,
      scripts: ['account.js'],
      viewer: { email: active.user.email, isAdmin: true, csrf: active.session.csrf },
      body: `<h1>Invite link for ${html(created.email)}</h1>
<p class="notice" role="status">Copy this link now and send it to ${html(created.email)}: it is shown only this once. It works once and expires ${timeTag(created.expiresAt)}.</p>
<label><span>Enrollment link</span><input type="text" class="link-box" readonly value="${html(created.link)}" id="invite-link"></label>
<p><a href="${html(pathsOf(ctx.settings.mountPath).admin)}">Back to administration</a></p>`,
    }),
  );
}
