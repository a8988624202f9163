/**
 * The provider's HTML: server-rendered, no framework, no inline script or style and nothing
 * from another origin (the Content-Security-Policy in http/security-headers.ts forbids it).
 * Behaviour lives in /assets/login.js; looks in /assets/pgkey.css. Every interpolated value
 * goes through `html`.
 */

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escapes text for HTML element content and double- or single-quoted attributes. */
export function html(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (char) => ESCAPES[char] ?? char);
}

export interface PageOptions {
  /** The issuer path prefix, so asset URLs work below a mounted issuer. */
  readonly mountPath: string;
  readonly title: string;
  /** Already-escaped HTML. */
  readonly body: string;
  readonly scripts?: readonly string[];
  /** More stylesheets from /assets, after pgkey.css. */
  readonly styles?: readonly string[];
  /** Already-escaped HTML before <main> (the account pages' navigation). */
  readonly header?: string;
  /** A full-width page (tables) instead of the centred card. */
  readonly wide?: boolean;
}

export function page(options: PageOptions): string {
  const { mountPath, title, body, scripts = [], styles = [], header = '' } = options;
  const asset = (name: string) => html(`${mountPath}/assets/${name}`);
  const tags = [
    ...styles.map((name) => `<link rel="stylesheet" href="${asset(name)}">`),
    ...scripts.map((name) => `<script src="${asset(name)}" defer></script>`),
  ].join('');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${html(title)} · pgkey</title>
<link rel="stylesheet" href="${html(`${mountPath}/assets/pgkey.css`)}">
${tags}
</head>
<body${options.wide === true ? ' class="wide"' : ''}>
${header}<main class="${options.wide === true ? 'wide' : 'card'}">
${body}
</main>
</body>
</html>
`;
}

export interface LoginPageOptions {
  readonly mountPath: string;
  readonly clientName: string;
  readonly optionsUrl: string;
  readonly verifyUrl: string;
  /** An existing sign-in being renewed (`prompt=login`, `max_age`): say so. */
  readonly reauthenticate: boolean;
}

export function loginPage(options: LoginPageOptions): string {
  const lead = options.reauthenticate
    ? `<strong>${html(options.clientName)}</strong> asks you to confirm it is you.`
    : `Sign in to <strong>${html(options.clientName)}</strong>.`;
  return page({
    mountPath: options.mountPath,
    title: 'Sign in',
    scripts: ['simplewebauthn-browser.umd.min.js', 'login.js'],
    body: `<h1>Sign in</h1>
<p>${lead}</p>
<div id="login" data-options-url="${html(options.optionsUrl)}" data-verify-url="${html(options.verifyUrl)}">
<button id="signin" type="button" disabled>Sign in with your security key or passkey</button>
<p id="status" class="status" role="status" aria-live="polite"></p>
</div>
<noscript><p class="error">Signing in with a security key needs JavaScript.</p></noscript>`,
  });
}

export function messagePage(
  mountPath: string,
  title: string,
  message: string,
  detail?: string,
): string {
  return page({
    mountPath,
    title,
    body: `<h1>${html(title)}</h1>
<p>${html(message)}</p>${detail === undefined ? '' : `\n<p class="detail">${html(detail)}</p>`}`,
  });
}

/** oidc-provider `renderError`: OAuth errors that must not be redirected (RFC 6749 §4.1.2.1). */
export function errorPage(mountPath: string, out: Readonly<Record<string, unknown>>): string {
  const error = typeof out.error === 'string' ? out.error : 'server_error';
  const description =
    typeof out.error_description === 'string' ? out.error_description : 'Something went wrong.';
  return page({
    mountPath,
    title: 'Sign-in failed',
    body: `<h1>Sign-in failed</h1>
<p>${html(description)}</p>
<p class="detail">Error code: <code>${html(error)}</code>. Start again from the application.</p>`,
  });
}

/** RFC 8628 §3.3: the page where the person types the code their device shows. */
export function deviceCodePage(mountPath: string, form: string, problem?: string): string {
  return page({
    mountPath,
    title: 'Connect a device',
    body: `<h1>Connect a device</h1>
${problem === undefined ? '<p>Enter the code your device shows.</p>' : `<p class="error">${html(problem)}</p>`}
${form}
<button type="submit" form="op.deviceInputForm">Continue</button>`,
  });
}

/**
 * RFC 8628 §5.4 (remote phishing): show where the request came from and ask the person to
 * stop unless they started it themselves, on a device in front of them.
 */
export function deviceConfirmPage(
  mountPath: string,
  options: { form: string; clientName: string; userCode: string; ip?: string; userAgent?: string },
): string {
  const origin = [options.ip, options.userAgent].filter((v) => v !== undefined && v !== '');
  return page({
    mountPath,
    title: 'Confirm the device',
    body: `<h1>Confirm the device</h1>
<p><strong>${html(options.clientName)}</strong> wants to sign in as you on another device.</p>
<p>Code: <code class="user-code">${html(options.userCode)}</code></p>
${origin.length === 0 ? '' : `<p class="detail">Requested from ${html(origin.join(', '))}.</p>`}
<p class="warning">Continue only if you started this yourself, on a device in front of you, and it shows this code. If someone sent you this link or code, stop: they are trying to use your account.</p>
${options.form}
<button type="submit" form="op.deviceConfirmForm">Continue</button>
<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes" class="secondary">Stop</button>`,
  });
}

export function logoutPage(mountPath: string, form: string, host: string): string {
  return page({
    mountPath,
    title: 'Sign out',
    body: `<h1>Sign out of ${html(host)}?</h1>
${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>
<button type="submit" form="op.logoutForm" class="secondary">Stay signed in</button>`,
  });
}
