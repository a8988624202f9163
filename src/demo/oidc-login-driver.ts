/**
 * A headless `pgkey login`: the authorization code flow with PKCE for `pgkey-cli`, driven
 * through the provider's real HTTP endpoints, with the software authenticator standing in
 * for the person and their key:
 *
 *   discovery → GET authorization_endpoint → (redirects) → sign-in page /interaction/<uid>
 *   → POST …/webauthn/options → navigator.credentials.get() → POST …/webauthn/verify
 *   → (redirects) → 303 to the loopback redirect URI with `code` → POST token_endpoint
 *
 * Nothing listens on the redirect URI: like a browser handing the callback to the CLI's
 * loopback listener (RFC 8252 §7.3), the driver reads the code from the Location header.
 */
import { PgkeyError } from '../errors/pgkey-error.ts';
import { HeadlessBrowser } from './headless-browser.ts';
import {
  authorizationRequest,
  codeFromCallback,
  discover,
  exchangeCode,
  type LoginTokens,
} from './oidc-client.ts';
import type { SoftAuthenticator } from './soft-authenticator.ts';

export type { LoginTokens } from './oidc-client.ts';

/** Any loopback port will do for a native client (RFC 8252 §7.3); this one is never bound. */
export const DRIVER_REDIRECT_URI = 'http://127.0.0.1:53682/callback';

export interface SoftKeyLoginOptions {
  readonly issuer: string;
  readonly authenticator: SoftAuthenticator;
  readonly clientId?: string;
  readonly redirectUri?: string;
  readonly scope?: string;
  /** Extra authorization request parameters (`prompt`, `max_age`, `resource`, …). */
  readonly params?: Readonly<Record<string, string>>;
  /** Reuse a browser (its provider session cookies), e.g. for a second login. */
  readonly browser?: HeadlessBrowser;
}

export async function loginWithSoftKey(options: SoftKeyLoginOptions): Promise<LoginTokens> {
  const issuer = options.issuer.replace(/\/+$/, '');
  const browser = options.browser ?? new HeadlessBrowser(issuer);
  const discovery = await discover(issuer);
  const request = authorizationRequest(discovery, {
    redirectUri: options.redirectUri ?? DRIVER_REDIRECT_URI,
    ...(options.clientId === undefined ? {} : { clientId: options.clientId }),
    ...(options.scope === undefined ? {} : { scope: options.scope }),
    ...(options.params === undefined ? {} : { params: options.params }),
  });

  const callback = await approveWithSoftKey(browser, request.url, options.authenticator);
  if (!callback.href.startsWith(request.redirectUri)) {
    throw new PgkeyError('ERR_INTERNAL', {
      message: `the provider redirected to ${callback.origin}${callback.pathname}, not to the client`,
      reason: 'login_flow',
    });
  }
  return exchangeCode(discovery, request, codeFromCallback(callback, request));
}

/**
 * The browser's part of a login: from an authorization URL through the sign-in page and
 * the key to the redirect that leaves the provider; returns where it points (the client's
 * redirect URI with `code` and `state`, or with `error`).
 */
export async function approveWithSoftKey(
  browser: HeadlessBrowser,
  authorizationUrl: string,
  authenticator: SoftAuthenticator,
): Promise<URL> {
  const page = await browser.follow(authorizationUrl);
  await page.response.body?.cancel();
  if (page.response.status !== 200 || !/\/interaction\/[\w-]+$/.test(page.url)) {
    throw flowError('the authorization request did not reach the sign-in page', page);
  }
  const begun = await browser.postJson(`${page.url}/webauthn/options`, {});
  if (begun.status !== 200) throw refused('sign-in options', begun);
  const assertion = await authenticator.get(begun.json.options as never, {
    origin: browser.origin,
  });
  const verified = await browser.postJson(`${page.url}/webauthn/verify`, {
    challengeId: begun.json.challengeId,
    response: assertion,
  });
  if (verified.status !== 200) throw refused('sign-in', verified);

  const done = await browser.follow(String(verified.json.redirectTo));
  await done.response.body?.cancel();
  const location = done.response.headers.get('location');
  if (location === null) throw flowError('the provider did not redirect back to the client', done);
  return new URL(location, done.url);
}

/** A step the provider refused: its stable `error` code and message. */
function refused(step: string, answer: { status: number; json: Record<string, unknown> }) {
  const error = typeof answer.json.error === 'string' ? answer.json.error : 'refused';
  const message = typeof answer.json.message === 'string' ? answer.json.message : '';
  return new PgkeyError('ERR_WEBAUTHN_AUTHENTICATION', {
    message: `${step} refused (${answer.status} ${error})${message === '' ? '' : `: ${message}`}`,
    reason: error,
  });
}

function flowError(message: string, at: { response: Response; url: string }): PgkeyError {
  return new PgkeyError('ERR_INTERNAL', {
    message: `${message} (HTTP ${at.response.status} at ${new URL(at.url).pathname})`,
    reason: 'login_flow',
  });
}
