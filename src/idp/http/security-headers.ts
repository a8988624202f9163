/**
 * Headers on every response of the provider listener, set before any handler (ours or
 * oidc-provider's) writes.
 *
 * The Content-Security-Policy allows scripts, styles and requests from our own origin only:
 * no inline script or style, no external CDN, no framing (clickjacking of the sign-in button).
 * oidc-provider's form_post response page adds the hash of its one inline script to
 * `script-src` itself (lib/helpers/script_src_sha.js), which is why the header is set on the
 * response before it runs. `form-action` is left open: form_post and the logout confirmation
 * submit to (or redirect to) the relying party's own origin, which Chromium checks against
 * `form-action` across redirects.
 */
import type { ServerResponse } from 'node:http';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

export function setSecurityHeaders(res: ServerResponse, options: { https: boolean }): void {
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  // For browsers without CSP frame-ancestors.
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  // Authorization codes travel in URLs; never let them leak into a Referer.
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  if (options.https) res.setHeader('Strict-Transport-Security', 'max-age=31536000');
}
