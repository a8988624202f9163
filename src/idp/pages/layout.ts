/**
 * The frame of the account pages: the provider's one document template (provider/pages.ts,
 * whose `html` is the only escaper used here) with a header — who is signed in, links to
 * "My keys" and, for administrators, "Administration", and a sign-out button — and the
 * small pieces every page repeats: the CSRF field, one-line POST forms, times, notices.
 *
 * Every value interpolated into HTML goes through `html`; helpers that return markup say so
 * in their name or type and take only escaped input or escape it themselves.
 */
import { html, page } from '../provider/pages.ts';
import { CSRF_FIELD } from './csrf.ts';

/** The signed-in person, as the header shows them. */
export interface Viewer {
  readonly email: string;
  readonly isAdmin: boolean;
  readonly csrf: string;
}

export interface AccountPageOptions {
  readonly mountPath: string;
  readonly title: string;
  /** Already-escaped HTML. */
  readonly body: string;
  readonly viewer?: Viewer | undefined;
  /** `wide` for tables; the sign-in and enrollment pages are narrow cards. */
  readonly wide?: boolean;
  readonly scripts?: readonly string[];
}

export const ACCOUNT_SCRIPTS = ['simplewebauthn-browser.umd.min.js', 'account.js'] as const;

export function accountPage(options: AccountPageOptions): string {
  const { mountPath, viewer } = options;
  const header =
    viewer === undefined
      ? ''
      : `<header class="top">
<a class="brand" href="${html(`${mountPath}/me`)}">pgkey</a>
<nav aria-label="Account">
<a href="${html(`${mountPath}/me`)}">My keys</a>${
          viewer.isAdmin ? `\n<a href="${html(`${mountPath}/admin`)}">Administration</a>` : ''
        }
<span class="who">${html(viewer.email)}</span>
${postForm(`${mountPath}/logout`, viewer.csrf, '<button type="submit" class="link">Sign out</button>')}
</nav>
</header>
`;
  return page({
    mountPath,
    title: options.title,
    body: options.body,
    header,
    styles: ['account.css'],
    scripts: options.scripts ?? [],
    wide: options.wide ?? false,
  });
}

export function csrfInput(token: string): string {
  return `<input type="hidden" name="${CSRF_FIELD}" value="${html(token)}">`;
}

/** A POST form with the CSRF field; `inner` is already-escaped HTML. */
export function postForm(
  action: string,
  csrf: string,
  inner: string,
  className = 'inline',
): string {
  return `<form method="post" action="${html(action)}" class="${html(className)}">${csrfInput(csrf)}${inner}</form>`;
}

/** A labelled one-line text input (the label is visually hidden in table rows). */
export function textInput(options: {
  name: string;
  label: string;
  value?: string;
  required?: boolean;
  maxLength?: number;
  placeholder?: string;
  hiddenLabel?: boolean;
  type?: 'text' | 'email';
}): string {
  const label = `<span${options.hiddenLabel === true ? ' class="sr-only"' : ''}>${html(options.label)}</span>`;
  return `<label>${label}<input type="${options.type ?? 'text'}" name="${html(options.name)}"${
    options.value === undefined ? '' : ` value="${html(options.value)}"`
  }${options.required === true ? ' required' : ''} maxlength="${options.maxLength ?? 200}"${
    options.placeholder === undefined ? '' : ` placeholder="${html(options.placeholder)}"`
  } autocomplete="off"></label>`;
}

/**
 * A data table: `headings` are text (an empty one is the actions column, named for screen
 * readers only), `rows` already-escaped `<tr>` markup. No rows: a quiet "None.".
 */
export function dataTable(
  caption: string,
  headings: readonly string[],
  rows: readonly string[],
): string {
  if (rows.length === 0) return '<p class="muted">None.</p>';
  const head = headings
    .map(
      (h) => `<th scope="col">${h === '' ? '<span class="sr-only">Actions</span>' : html(h)}</th>`,
    )
    .join('');
  return `<div class="table"><table>
<caption class="sr-only">${html(caption)}</caption>
<thead><tr>${head}</tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table></div>`;
}

/** `2026-11-22 14:03 UTC`: unambiguous for every reader, no client-side time zone logic. */
export function formatTime(ms: number | undefined): string {
  if (ms === undefined) return 'never';
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** `45 minutes`, `72 hours`, `14 days`: a lifetime in the unit people say it in. */
export function formatDuration(ms: number): string {
  const minutes = Math.max(1, Math.round(ms / 60_000));
  const [n, unit] =
    minutes < 120
      ? [minutes, 'minute']
      : minutes < 96 * 60
        ? [Math.round(minutes / 60), 'hour']
        : [Math.round(minutes / 1440), 'day'];
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

export function timeTag(ms: number | undefined): string {
  return ms === undefined
    ? '<span class="muted">never</span>'
    : `<time datetime="${html(new Date(ms).toISOString())}">${html(formatTime(ms))}</time>`;
}

/** A fixed sentence for `?notice=`; unknown names show nothing (no text from the URL). */
export function noticeBanner(
  notices: Readonly<Record<string, string>>,
  name: string | null,
): string {
  const text = name !== null && Object.hasOwn(notices, name) ? notices[name] : undefined;
  return text === undefined ? '' : `<p class="notice" role="status">${html(text)}</p>`;
}

export function errorBanner(message: string | undefined): string {
  return message === undefined ? '' : `<p class="error" role="alert">${html(message)}</p>`;
}
