/**
 * /assets/login.js, the sign-in page's behaviour, served as a file so the page needs no inline
 * script (CSP `script-src 'self'`). Kept as a string here so the compiled package carries it.
 * It asks the provider for assertion options, runs navigator.credentials.get() through
 * @simplewebauthn/browser (loaded before it as a UMD bundle: `SimpleWebAuthnBrowser`), posts
 * the result, and follows the provider's `redirectTo` (always on the issuer's origin).
 */
export const LOGIN_SCRIPT = `'use strict';
(function () {
  var root = document.getElementById('login');
  var button = document.getElementById('signin');
  var status = document.getElementById('status');
  var webauthn = window.SimpleWebAuthnBrowser;
  if (!root || !button || !status) return;

  function say(text, isError) {
    status.textContent = text;
    status.className = isError ? 'status error' : 'status';
  }

  function post(url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        if (!response.ok) throw new Error(json.message || 'Sign-in failed. Try again.');
        return json;
      });
    });
  }

  function explain(error) {
    // WebAuthn L3 §5.1.4.1: NotAllowedError covers cancel, timeout and "no matching key".
    if (error && error.name === 'NotAllowedError') {
      return 'The key was not used: the request was cancelled, timed out, or no key of yours was found.';
    }
    return (error && error.message) || 'Sign-in failed. Try again.';
  }

  function signIn() {
    button.disabled = true;
    say('Use your security key or passkey now…', false);
    var challengeId;
    post(root.dataset.optionsUrl, {})
      .then(function (start) {
        challengeId = start.challengeId;
        return webauthn.startAuthentication({ optionsJSON: start.options });
      })
      .then(function (response) {
        return post(root.dataset.verifyUrl, { challengeId: challengeId, response: response });
      })
      .then(function (result) {
        say('Signed in. Returning to the application…', false);
        window.location.assign(result.redirectTo);
      })
      .catch(function (error) {
        say(explain(error), true);
        button.disabled = false;
      });
  }

  if (!webauthn || !webauthn.browserSupportsWebAuthn()) {
    say('This browser cannot use security keys or passkeys.', true);
    return;
  }
  button.addEventListener('click', signIn);
  button.disabled = false;
})();
`;

/** /assets/pgkey.css: one small stylesheet for every provider page. */
export const STYLESHEET = `:root { color-scheme: light dark; --accent: #2456c9; }
* { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; display: grid; place-items: center;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; background: Canvas; color: CanvasText; }
.card { width: min(28rem, 100% - 2rem); padding: 2rem; border: 1px solid color-mix(in srgb, CanvasText 15%, transparent);
  border-radius: 0.75rem; }
h1 { margin: 0 0 1rem; font-size: 1.5rem; }
button { display: block; width: 100%; margin: 1rem 0 0; padding: 0.75rem 1rem; border: 0; border-radius: 0.5rem;
  background: var(--accent); color: #fff; font: inherit; font-weight: 600; cursor: pointer; }
button[disabled] { opacity: 0.6; cursor: default; }
button.secondary { background: transparent; color: inherit; border: 1px solid currentColor; }
input[type=text] { width: 100%; padding: 0.75rem; font: inherit; font-size: 1.25rem; text-align: center;
  text-transform: uppercase; letter-spacing: 0.1em; }
.status { min-height: 1.5em; margin-top: 1rem; }
.error { color: #c62828; }
.warning { padding: 0.75rem; border-left: 4px solid #e0a100; }
.detail { font-size: 0.875rem; opacity: 0.8; }
code.user-code { font-size: 1.5rem; letter-spacing: 0.1em; }
`;
