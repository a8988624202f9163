/**
 * Just enough of a browser to walk the provider's pages without one: a cookie jar (name and
 * path, RFC 6265 §5.1.4 path matching, expiry by `Expires`/`Max-Age`) and fetch with manual
 * redirects, so each hop can be looked at. It sends the page's Origin on POSTs, as a browser
 * does for fetch() and forms (the provider refuses cross-origin POSTs), and speaks to one
 * origin only: redirects that leave it are returned, not followed.
 */
import { PgkeyError } from '../errors/pgkey-error.ts';

interface Cookie {
  readonly name: string;
  readonly value: string;
  readonly path: string;
}

const MAX_REDIRECTS = 10;

export class HeadlessBrowser {
  readonly origin: string;
  readonly #cookies = new Map<string, Cookie>();

  constructor(origin: string) {
    this.origin = new URL(origin).origin;
  }

  /** The Cookie header this browser sends to `url`. */
  cookieHeader(url: string | URL): string {
    const { pathname } = new URL(url);
    return [...this.#cookies.values()]
      .filter((c) => pathname === c.path || pathname.startsWith(c.path.replace(/\/?$/, '/')))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  /** One request, no redirects followed; Set-Cookie lines are stored. */
  async fetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const target = new URL(url);
    const headers = new Headers(init.headers);
    const cookie = this.cookieHeader(target);
    if (cookie !== '' && !headers.has('cookie')) headers.set('cookie', cookie);
    const response = await fetch(target, { ...init, headers, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) this.#store(line);
    return response;
  }

  /** GETs `url` and follows redirects while they stay on this origin. */
  async follow(url: string): Promise<{ response: Response; url: string }> {
    let response = await this.fetch(url);
    for (let hops = 0; hops < MAX_REDIRECTS; hops++) {
      const location = response.headers.get('location');
      if (response.status < 300 || response.status >= 400 || location === null) {
        return { response, url };
      }
      const next = new URL(location, url);
      if (next.origin !== this.origin) return { response, url };
      await response.body?.cancel();
      url = next.href;
      response = await this.fetch(url);
    }
    throw new PgkeyError('ERR_INTERNAL', {
      message: `more than ${MAX_REDIRECTS} redirects from ${url}`,
      reason: 'too_many_redirects',
    });
  }

  /** A same-origin JSON POST, as the pages' scripts send them. */
  async postJson(
    url: string,
    body: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; json: Record<string, unknown> }> {
    const response = await this.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: this.origin, ...headers },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      json = { error: 'not_json', message: text.slice(0, 200) };
    }
    return { status: response.status, json };
  }

  #store(line: string): void {
    const [pair = '', ...attributes] = line.split(';').map((part) => part.trim());
    const eq = pair.indexOf('=');
    if (eq <= 0) return;
    const name = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    const attribute = (key: string): string | undefined => {
      const found = attributes.find((a) => a.toLowerCase().startsWith(`${key}=`));
      return found?.slice(key.length + 1);
    };
    const path = attribute('path') ?? '/';
    const expires = attribute('expires');
    const maxAge = attribute('max-age');
    const expired =
      (maxAge !== undefined && Number(maxAge) <= 0) ||
      (expires !== undefined && Date.parse(expires) <= Date.now());
    const key = `${name}\u0000${path}`;
    if (value === '' || expired) this.#cookies.delete(key);
    else this.#cookies.set(key, { name, value, path });
  }
}
