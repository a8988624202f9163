/**
 * /assets/account.js: the behaviour of the account pages, served as a file because the CSP
 * forbids inline script (`script-src 'self'`). Kept as a string so the compiled package
 * carries it. Plain ES5-era JavaScript, no framework, no build step.
 *
 * Every element with `data-ceremony="login"` or `"register"` becomes a WebAuthn ceremony:
 * POST its `data-options-url`, run @simplewebauthn/browser (the UMD bundle loaded before this
 * file: `SimpleWebAuthnBrowser`), POST the result to `data-verify-url` with the optional key
 * name and `data-next`, then follow the server's `redirectTo` (always one of our own pages).
 * `data-csrf` goes out as the X-CSRF-Token header. A 401 that names a `redirectTo` (the
 * session ended, or a fresh sign-in is needed) is followed too. On the invite page, the
 * one-time link is selected for copying.
 */
export const ACCOUNT_SCRIPT = `'use strict';
(function () {
  var webauthn = window.SimpleWebAuthnBrowser;

  function post(url, body, csrf) {
    var headers = { 'Content-Type': 'application/json', Accept: 'application/json' };
    if (csrf) headers['X-CSRF-Token'] = csrf;
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: headers,
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (json) {
        if (!response.ok) {
          var error = new Error(json.message || 'Something went wrong. Try again.');
          if (response.status === 401 && json.redirectTo) error.redirectTo = json.redirectTo;
          throw error;
        }
        return json;
      });
    });
  }

  function explain(error, kind) {
    var name = error && error.name;
    // WebAuthn L3 §5.1.3: InvalidStateError when a key in excludeCredentials was used.
    if (name === 'InvalidStateError') return 'This key is already registered to your account.';
    // §5.1.4.1: NotAllowedError covers cancel, timeout and "no matching key".
    if (name === 'NotAllowedError') {
      return kind === 'login'
        ? 'The key was not used: the request was cancelled, timed out, or no key of yours was found.'
        : 'The key was not used: the request was cancelled or timed out.';
    }
    return (error && error.message) || 'Something went wrong. Try again.';
  }

  function setUp(root) {
    var kind = root.getAttribute('data-ceremony');
    var button = root.querySelector('button');
    var status = root.querySelector('.status');
    var nameInput = root.querySelector('input[name="name"]');
    var csrf = root.getAttribute('data-csrf');
    if (!button || !status) return;

    function say(text, isError) {
      status.textContent = text;
      status.className = isError ? 'status error' : 'status';
    }

    function run() {
      button.disabled = true;
      say('Use your security key or passkey now…', false);
      var challengeId;
      post(root.getAttribute('data-options-url'), {}, csrf)
        .then(function (start) {
          challengeId = start.challengeId;
          return kind === 'login'
            ? webauthn.startAuthentication({ optionsJSON: start.options })
            : webauthn.startRegistration({ optionsJSON: start.options });
        })
        .then(function (response) {
          var body = { challengeId: challengeId, response: response };
          if (nameInput && nameInput.value) body.name = nameInput.value;
          if (root.getAttribute('data-next')) body.next = root.getAttribute('data-next');
          return post(root.getAttribute('data-verify-url'), body, csrf);
        })
        .then(function (result) {
          say(kind === 'login' ? 'Signed in.' : 'Key registered.', false);
          window.location.assign(result.redirectTo);
        })
        .catch(function (error) {
          if (error && error.redirectTo) {
            window.location.assign(error.redirectTo);
            return;
          }
          say(explain(error, kind), true);
          button.disabled = false;
          button.focus();
        });
    }

    if (!webauthn || !webauthn.browserSupportsWebAuthn()) {
      say('This browser cannot use security keys or passkeys.', true);
      return;
    }
    button.addEventListener('click', run);
    button.disabled = false;
  }

  var roots = document.querySelectorAll('[data-ceremony]');
  for (var i = 0; i < roots.length; i++) setUp(roots[i]);

  // The invite link is shown once: selecting it whole on focus makes copying it easy.
  var link = document.getElementById('invite-link');
  if (link) {
    link.addEventListener('focus', function () { link.select(); });
    link.focus();
  }
})();
`;
