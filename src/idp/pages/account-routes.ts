/**
 * The account pages' router: one place that decides, for every request below /login,
 * /logout, /enroll, /me and /admin, in this order,
 *
 * 1. whose session it is (the cookie, re-checked against the directory; a dead session's
 *    cookie is cleared in the answer);
 * 2. for /admin, whether that person is an administrator — if not, the request goes on to
 *    oidc-provider like any unknown path, so it gets the very 404 every unknown path gets;
 * 3. the method (GET never changes anything; actions are POST);
 * 4. same origin and body type, bounded (http/json-request.ts, http/form-request.ts);
 * 5. the session's CSRF token (csrf.ts) for everything done as a signed-in person;
 * 6. a fresh sign-in (`idp.admin_fresh_auth`) for admin actions and adding keys;
 *
 * and then hands over to the page modules. The sign-in and enrollment endpoints run before
 * any session exists; their defence is the same-origin JSON check plus the WebAuthn
 * ceremony itself, which no other site can perform for this RP ID.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFormRequest } from '../http/form-request.ts';
import { readJsonRequest } from '../http/json-request.ts';
import { html, messagePage } from '../provider/pages.ts';
import { isAdmin, isFresh, pathsOf, reLoginUrl, type AccountContext } from './account-context.ts';
import type { ActiveSession } from './account-sessions.ts';
import { addKeyOptions, addKeyVerify } from './add-key.ts';
import { parseAdminAction, runAdminAction } from './admin-actions.ts';
import { adminPage } from './admin-view.ts';
import { CSRF_FIELD, CSRF_HEADER, csrfMatches } from './csrf.ts';
import { enrollOptions, enrollPage, enrollVerify } from './enroll.ts';
import { loginOptions, loginPage, loginVerify, logout } from './login.ts';
import { accountPage, formatDuration } from './layout.ts';
import { myKeysPage, removeKey, renameKey } from './my-keys.ts';
import { htmlReply, jsonError, seeOther, sendReply, type PageReply } from './reply.ts';
import { clearSessionCookie, readSessionId } from './session-cookie.ts';

/** True when the request was answered; false to let oidc-provider have it. */
export type AccountRouter = (
  req: IncomingMessage,
  res: ServerResponse,
  pathname: string,
  query: URLSearchParams,
) => Promise<boolean>;

const ROOTS: ReadonlySet<string> = new Set(['login', 'logout', 'enroll', 'me', 'admin']);
const MAX_SEGMENT = 2048;

/** `/a/b%2Fc` → ['a', 'b/c']; undefined for bad escapes or absurd lengths. */
function segmentsOf(pathname: string): string[] | undefined {
  try {
    const parts = pathname.split('/').slice(1).map(decodeURIComponent);
    return parts.every((p) => p.length <= MAX_SEGMENT) ? parts : undefined;
  } catch {
    return undefined;
  }
}

type Next = PageReply | undefined;

export function accountRoutes(ctx: AccountContext): AccountRouter {
  const { origin, mountPath } = ctx.settings;
  const paths = pathsOf(mountPath);

  const card = (status: number, title: string, text: string): PageReply =>
    htmlReply(status, messagePage(mountPath, title, text));
  const notFound = () => card(404, 'Not found', 'There is no page here.');
  const forbidden = () =>
    card(
      403,
      'Request refused',
      'This form has expired or was not sent from this site. Go back, reload the page and try again.',
    );
  const freshPrompt = (next: string): PageReply =>
    htmlReply(
      403,
      accountPage({
        mountPath,
        title: 'Confirm it’s you',
        body: `<h1>Confirm it’s you</h1>
<p>This needs a sign-in from the last ${html(formatDuration(ctx.freshAuthMs))}. Use your security key again to continue.</p>
<p><a class="button" href="${html(reLoginUrl(ctx, next))}">Confirm with your key</a></p>`,
      }),
    );
  const toLogin = (next: string) =>
    seeOther(`${paths.login}?${new URLSearchParams({ next }).toString()}`);

  function method(req: IncomingMessage, ...allowed: string[]): Next {
    if (allowed.includes(req.method ?? '')) return undefined;
    return {
      ...card(405, 'Not allowed', 'This address does not take that request.'),
      headers: { Allow: allowed.join(', ') },
    };
  }

  /** A same-origin JSON POST; `run` gets the parsed body. */
  async function json(
    req: IncomingMessage,
    res: ServerResponse,
    run: (body: unknown) => Promise<PageReply>,
  ): Promise<PageReply> {
    const wrong = method(req, 'POST');
    if (wrong !== undefined) return wrong;
    const request = await readJsonRequest(req, origin);
    if (!request.ok) {
      if (request.status === 413) res.setHeader('Connection', 'close');
      return jsonError(request.status, request.error, request.message);
    }
    return run(request.body);
  }

  /** A same-origin form POST by a signed-in person carrying the session's CSRF token. */
  async function form(
    req: IncomingMessage,
    res: ServerResponse,
    active: ActiveSession,
    run: (fields: URLSearchParams) => Promise<Next>,
  ): Promise<PageReply> {
    const wrong = method(req, 'POST');
    if (wrong !== undefined) return wrong;
    const request = await readFormRequest(req, origin);
    if (!request.ok) {
      if (request.status === 413) res.setHeader('Connection', 'close');
      return request.status === 403
        ? forbidden()
        : card(request.status, 'Request refused', request.message);
    }
    if (!csrfMatches(active.session.csrf, request.fields.get(CSRF_FIELD))) return forbidden();
    return (await run(request.fields)) ?? notFound();
  }

  async function me(
    req: IncomingMessage,
    res: ServerResponse,
    rest: readonly string[],
    query: URLSearchParams,
    active: ActiveSession | undefined,
  ): Promise<Next> {
    const [keys, id, action] = rest;
    if (rest.length === 0) {
      if (active === undefined) return method(req, 'GET', 'HEAD') ?? toLogin(paths.me);
      return method(req, 'GET', 'HEAD') ?? myKeysPage(ctx, active, { notice: query.get('notice') });
    }
    if (keys !== 'keys') return undefined;
    if (rest.length === 2 && (id === 'options' || id === 'verify')) {
      return json(req, res, async (body) => {
        if (active === undefined) {
          return jsonError(401, 'signed_out', 'Your session has ended. Sign in again.', {
            redirectTo: `${paths.login}?next=${encodeURIComponent(paths.me)}`,
          });
        }
        if (!csrfMatches(active.session.csrf, req.headers[CSRF_HEADER])) {
          return jsonError(403, 'csrf', 'Reload the page and try again.');
        }
        return id === 'options' ? addKeyOptions(ctx, active) : addKeyVerify(ctx, active, body);
      });
    }
    if (rest.length !== 3 || id === undefined || (action !== 'rename' && action !== 'remove')) {
      return undefined;
    }
    if (active === undefined) return method(req, 'POST') ?? toLogin(paths.me);
    return form(req, res, active, (fields) =>
      action === 'rename' ? renameKey(ctx, active, id, fields) : removeKey(ctx, active, id),
    );
  }

  async function admin(
    req: IncomingMessage,
    res: ServerResponse,
    rest: readonly string[],
    query: URLSearchParams,
    active: ActiveSession | undefined,
  ): Promise<Next> {
    // Not an administrator (or not signed in): this page does not exist for them.
    if (active === undefined || !isAdmin(ctx, active.user)) return undefined;
    if (rest.length === 0) {
      const wrong = method(req, 'GET', 'HEAD');
      if (wrong !== undefined) return wrong;
      if (!isFresh(ctx, active)) return freshPrompt(paths.admin);
      return adminPage(ctx, active, { notice: query.get('notice') });
    }
    const action = parseAdminAction(rest);
    if (action === undefined) return undefined;
    return form(req, res, active, async (fields) =>
      isFresh(ctx, active) ? runAdminAction(ctx, active, action, fields) : freshPrompt(paths.admin),
    );
  }

  async function dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    segments: readonly string[],
    query: URLSearchParams,
    sessionId: string | undefined,
    active: ActiveSession | undefined,
  ): Promise<Next> {
    const [root, ...rest] = segments;
    const [first, second] = rest;
    switch (root ?? '') {
      case 'login':
        if (rest.length === 0) return method(req, 'GET', 'HEAD') ?? loginPage(ctx, active, query);
        if (rest.length !== 1 || (first !== 'options' && first !== 'verify')) return undefined;
        return json(req, res, (body) =>
          first === 'options' ? loginOptions(ctx, active) : loginVerify(ctx, sessionId, body),
        );
      case 'logout':
        if (rest.length !== 0) return undefined;
        if (active === undefined) {
          const wrong = method(req, 'POST');
          if (wrong !== undefined) return wrong;
          const request = await readFormRequest(req, origin);
          return request.ok ? logout(ctx, sessionId) : forbidden();
        }
        return form(req, res, active, () => logout(ctx, sessionId));
      case 'enroll':
        if (first === undefined || rest.length > 2) return undefined;
        if (rest.length === 1) return method(req, 'GET', 'HEAD') ?? enrollPage(ctx, first);
        if (second !== 'options' && second !== 'verify') return undefined;
        return json(req, res, (body) =>
          second === 'options'
            ? enrollOptions(ctx, first)
            : enrollVerify(ctx, first, sessionId, body),
        );
      case 'me':
        return me(req, res, rest, query, active);
      case 'admin':
        return admin(req, res, rest, query, active);
      default:
        return undefined;
    }
  }

  return async (req, res, pathname, query) => {
    const segments = segmentsOf(pathname);
    if (segments === undefined || !ROOTS.has(segments[0] ?? '')) return false;
    const sessionId = readSessionId(req, ctx.cookie);
    const active = sessionId === undefined ? undefined : await ctx.sessions.resume(sessionId);
    const reply = await dispatch(req, res, segments, query, sessionId, active);
    if (reply === undefined) return false;
    // A session that died on this request loses its cookie, unless the reply sets a new one.
    const dead = sessionId !== undefined && active === undefined;
    const cookies = reply.cookies ?? (dead ? [clearSessionCookie(ctx.cookie)] : []);
    sendReply(res, { ...reply, cookies });
    return true;
  };
}
