/**
 * "My keys": the signed-in person's security keys and passkeys.
 *
 *   GET  /me                       the list: name, model, kind, added, last used, state
 *   POST /me/keys/<id>/rename      form: `name`
 *   POST /me/keys/<id>/remove      form: revokes the key ("removed by owner")
 *   POST /me/keys/options|verify   adding a key (add-key.ts)
 *
 * Removing the last working key is refused: the person could never sign in again and would
 * need a new invite. Someone else's key id answers like an unknown one. Removing the key of
 * this very session ends the session (the key no longer signs anything in).
 */
import { html } from '../provider/pages.ts';
import { isAdmin, isFresh, pathsOf, reLoginUrl, type AccountContext } from './account-context.ts';
import type { ActiveSession } from './account-sessions.ts';
import {
  cleanKeyName,
  isActiveKey,
  keyKind,
  keyModelHtml,
  keyStateHtml,
  sortKeys,
} from './key-labels.ts';
import {
  accountPage,
  ACCOUNT_SCRIPTS,
  dataTable,
  errorBanner,
  noticeBanner,
  postForm,
  textInput,
  timeTag,
} from './layout.ts';
import { htmlReply, seeOther, type PageReply } from './reply.ts';

export const OWNER_REMOVAL_REASON = 'removed by owner';
export const LAST_KEY_MESSAGE =
  'This is your only working key, so it cannot be removed: you could not sign in again. Add another key first.';

const NOTICES: Readonly<Record<string, string>> = {
  enrolled: 'Your key is registered and you are signed in.',
  'key-added': 'Your new key is registered.',
  'key-renamed': 'The key is renamed.',
  'key-removed': 'The key is removed; it no longer signs you in.',
};

export async function myKeysPage(
  ctx: AccountContext,
  active: ActiveSession,
  options: { notice?: string | null; error?: string; status?: number } = {},
): Promise<PageReply> {
  const { mountPath } = ctx.settings;
  const paths = pathsOf(mountPath);
  const { user, session } = active;
  const keys = sortKeys(await ctx.directory.credentials.listByUser(user.id));
  const rows = keys.map((key) => {
    const current = key.id === session.credentialId ? ' <span class="tag">this sign-in</span>' : '';
    const actions = isActiveKey(key)
      ? `${postForm(
          paths.key(key.id, 'rename'),
          session.csrf,
          `${textInput({ name: 'name', label: `New name for ${key.name}`, value: key.name, required: true, maxLength: 64, hiddenLabel: true })}<button type="submit" class="secondary">Rename</button>`,
        )}${postForm(
          paths.key(key.id, 'remove'),
          session.csrf,
          `<button type="submit" class="danger">Remove</button>`,
        )}`
      : '';
    return `<tr>
<th scope="row">${html(key.name)}${current}</th>
<td>${keyModelHtml(key, ctx.describeAuthenticator)}</td>
<td>${html(keyKind(key))}</td>
<td>${timeTag(key.createdAt)}</td>
<td>${timeTag(key.lastUsedAt)}</td>
<td>${keyStateHtml(key)}</td>
<td class="actions">${actions}</td>
</tr>`;
  });
  const addKey = isFresh(ctx, active)
    ? `<div data-ceremony="register" data-options-url="${html(`${paths.me}/keys/options`)}" data-verify-url="${html(`${paths.me}/keys/verify`)}" data-csrf="${html(session.csrf)}" class="add-key">
${textInput({ name: 'name', label: 'Name for the new key (optional)', maxLength: 64, placeholder: 'e.g. Spare YubiKey' })}
<button type="button" disabled>Add a security key or passkey</button>
<p class="status" role="status" aria-live="polite"></p>
</div>`
    : `<p>Adding a key needs a recent sign-in. <a class="button" href="${html(reLoginUrl(ctx, paths.me))}">Confirm it’s you to add a key</a></p>`;
  return htmlReply(
    options.status ?? 200,
    accountPage({
      mountPath,
      title: 'My keys',
      wide: true,
      scripts: ACCOUNT_SCRIPTS,
      viewer: { email: user.email, isAdmin: isAdmin(ctx, user), csrf: session.csrf },
      body: `<h1>My keys</h1>
${noticeBanner(NOTICES, options.notice ?? null)}${errorBanner(options.error)}
<p>Signed in as <strong>${html(user.displayName)}</strong> (${html(user.email)}).</p>
${dataTable('Your security keys and passkeys', ['Name', 'Model', 'Kind', 'Added', 'Last used', 'State', ''], rows)}
<h2>Add a key</h2>
<p>Keep a second key in a safe place: if you lose your only key, you need a new invite.</p>
${addKey}`,
    }),
  );
}

/** The person's own key, or undefined (unknown and someone else's read the same). */
async function ownKey(ctx: AccountContext, active: ActiveSession, id: string) {
  const key = await ctx.directory.credentials.get(id);
  return key?.userId === active.user.id ? key : undefined;
}

export async function renameKey(
  ctx: AccountContext,
  active: ActiveSession,
  id: string,
  fields: URLSearchParams,
): Promise<PageReply | undefined> {
  const key = await ownKey(ctx, active, id);
  if (key === undefined) return undefined;
  const name = cleanKeyName(fields.get('name'));
  if (name === undefined) {
    return myKeysPage(ctx, active, { error: 'Enter a name for the key.', status: 400 });
  }
  await ctx.directory.credentials.rename(key.id, name);
  ctx.onAdminAction({
    type: 'key.renamed',
    actor: active.user.email,
    target: key.id,
    user: active.user.email,
  });
  return seeOther(`${pathsOf(ctx.settings.mountPath).me}?notice=key-renamed`);
}

export async function removeKey(
  ctx: AccountContext,
  active: ActiveSession,
  id: string,
): Promise<PageReply | undefined> {
  const key = await ownKey(ctx, active, id);
  if (key === undefined) return undefined;
  const paths = pathsOf(ctx.settings.mountPath);
  if (!isActiveKey(key)) return seeOther(`${paths.me}?notice=key-removed`);
  const others = (await ctx.directory.credentials.listByUser(active.user.id)).filter(
    (c) => c.id !== key.id && isActiveKey(c),
  );
  if (others.length === 0) {
    return myKeysPage(ctx, active, { error: LAST_KEY_MESSAGE, status: 409 });
  }
  await ctx.directory.credentials.revoke(key.id, OWNER_REMOVAL_REASON, ctx.clock.now());
  ctx.onAdminAction({
    type: 'key.revoked',
    actor: active.user.email,
    target: key.id,
    user: active.user.email,
    reason: OWNER_REMOVAL_REASON,
  });
  // This session's own key: the session ends with it (account-sessions.ts), so say why.
  return key.id === active.session.credentialId
    ? seeOther(`${paths.login}?notice=key-removed`)
    : seeOther(`${paths.me}?notice=key-removed`);
}
