// Signing in to the account pages and the session that follows: cookie attributes, where
// `next` may lead, sign-out, sessions that die with their user or key, and sign-in refusals
// that read the same whatever the key.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sessionCookie } from '../../../src/idp/pages/session-cookie.ts';
import { Browser, someone, startPagesHarness, type PagesHarness } from './harness.ts';

describe('account sign-in', () => {
  let h: PagesHarness;
  before(async () => {
    h = await startPagesHarness();
  });
  after(() => h.close());

  it('serves the sign-in page with its script from /assets and no inline code', async () => {
    const page = await h.get(new Browser(), '/login');
    assert.equal(page.status, 200);
    assert.match(page.text, /<h1>Sign in to pgkey<\/h1>/);
    assert.match(page.text, /<script src="\/assets\/account\.js" defer><\/script>/);
    assert.match(page.text, /data-ceremony="login"/);
    assert.doesNotMatch(page.text, /<script>|\son\w+="|style="/);
    assert.match(page.response.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.equal(page.response.headers.get('cache-control'), 'no-store');
    const script = await fetch(h.url('/assets/account.js'));
    assert.equal(script.status, 200);
    assert.match(script.headers.get('content-type') ?? '', /javascript/);
  });

  it('uses discoverable credentials and sets a strict, HttpOnly, host-wide session cookie', async () => {
    const person = await h.person(someone());
    const browser = new Browser();
    const start = await h.json(browser, '/login/options', {});
    const options = start.body.options as Record<string, unknown>;
    assert.equal(options.allowCredentials, undefined, 'nothing listed before the key speaks');
    const response = await person.key.get(options as never, { origin: h.origin });
    const done = await h.json(browser, '/login/verify', {
      challengeId: start.body.challengeId,
      response,
    });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.redirectTo, '/me');
    const cookie = done.response.headers.get('set-cookie') ?? '';
    assert.match(cookie, /^pgkey_session=[\w-]{43}; /);
    const attributes = cookie.split('; ').slice(1);
    assert.deepEqual(attributes, ['Path=/', attributes[1], 'HttpOnly', 'SameSite=Strict']);
    assert.match(attributes[1] ?? '', /^Max-Age=(3599|3600)$/, 'session_max: 1h');
    assert.equal((await h.get(browser, '/me')).status, 200);
    // Only the hash of the id is stored.
    const id = /=([\w-]{43});/.exec(cookie)?.[1] ?? '';
    assert.equal(await h.directory.oidc.find('PgkeyAccountSession', id, h.clock.now()), undefined);
  });

  it('names the cookie __Host-… and marks it Secure behind https', () => {
    assert.deepEqual(sessionCookie('https://login.example.com/idp'), {
      name: '__Host-pgkey_session',
      secure: true,
    });
    assert.deepEqual(sessionCookie('http://localhost:8080'), {
      name: 'pgkey_session',
      secure: false,
    });
  });

  it('follows next= only to its own pages', async () => {
    const person = await h.person(someone());
    const browser = new Browser();
    assert.equal((await h.login(browser, person.key, '/admin')).body.redirectTo, '/admin');
    for (const next of ['https://evil.example/', '//evil.example', '/me/../admin', '/token']) {
      assert.equal((await h.login(browser, person.key, next)).body.redirectTo, '/me', next);
    }
    const page = await h.get(
      new Browser(),
      `/login?next=${encodeURIComponent('https://evil.example')}`,
    );
    assert.doesNotMatch(page.text, /evil/);
  });

  it('sends a signed-in visitor of /login on, and an anonymous visitor of /me to /login', async () => {
    const person = await h.person(someone());
    const signedIn = await h.get(person.browser, '/login?next=/admin');
    assert.equal(signedIn.status, 303);
    assert.equal(signedIn.response.headers.get('location'), '/admin');
    const anonymous = await h.get(new Browser(), '/me');
    assert.equal(anonymous.status, 303);
    assert.equal(anonymous.response.headers.get('location'), '/login?next=%2Fme');
  });

  it('signs out: the session ends server-side and the cookie is cleared', async () => {
    const person = await h.person(someone());
    const cookie = person.browser.cookieHeader(h.url('/me'));
    const csrf = await h.csrf(person.browser);
    const out = await h.form(person.browser, '/logout', { csrf });
    assert.equal(out.status, 303);
    assert.equal(out.response.headers.get('location'), '/login?notice=signed-out');
    assert.match(
      out.response.headers.get('set-cookie') ?? '',
      /^pgkey_session=; Path=\/; Max-Age=0;/,
    );
    // Replaying the old cookie gets nothing.
    const replay = await fetch(h.url('/me'), { headers: { cookie }, redirect: 'manual' });
    assert.equal(replay.status, 303);
    const page = await h.get(person.browser, '/login?notice=signed-out');
    assert.match(page.text, /You are signed out\./);
  });

  it('ends the session of a disabled user, and of a revoked key, on the next request', async () => {
    const disabled = await h.person(someone());
    assert.equal((await h.get(disabled.browser, '/me')).status, 200);
    await h.directory.users.setDisabled(disabled.user.id, true, 'left the team', h.clock.now());
    const next = await h.get(disabled.browser, '/me');
    assert.equal(next.status, 303);
    assert.match(next.response.headers.get('set-cookie') ?? '', /Max-Age=0/);
    // Enabling again does not bring the old session back (tokensValidAfter moved on).
    await h.directory.users.setDisabled(disabled.user.id, false, undefined, h.clock.now());
    const cookie = `pgkey_session=${/=([\w-]{43})/.exec(next.response.headers.get('set-cookie') ?? '')?.[1] ?? ''}`;
    assert.equal(
      (await fetch(h.url('/me'), { headers: { cookie }, redirect: 'manual' })).status,
      303,
    );

    const revoked = await h.person(someone());
    await h.directory.credentials.revoke(revoked.credentialId, 'lost', h.clock.now());
    assert.equal((await h.get(revoked.browser, '/me')).status, 303);
  });

  it('refuses unknown, revoked and disabled-owner keys with one identical answer', async () => {
    const revoked = await h.person(someone());
    await h.directory.credentials.revoke(revoked.credentialId, 'lost', h.clock.now());
    const disabled = await h.person(someone());
    await h.directory.users.setDisabled(disabled.user.id, true, 'gone', h.clock.now());
    const stranger = h.authenticator();
    // A key registered elsewhere (another RP store) that this directory never saw.
    await stranger.create(
      {
        rp: { id: 'localhost', name: 'x' },
        user: { id: 'c3RyYW5nZXI', name: 's', displayName: 's' },
        challenge: 'AAAA',
        pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
      } as never,
      { origin: h.origin },
    );
    const answers = [];
    for (const key of [stranger, revoked.key, disabled.key]) {
      const result = await h.login(new Browser(), key);
      answers.push([result.status, result.body, result.response.headers.get('set-cookie')]);
    }
    assert.deepEqual(answers[1], answers[0]);
    assert.deepEqual(answers[2], answers[0]);
    assert.equal(answers[0]?.[0], 401);
  });

  it('does not accept a challenge issued for another flow', async () => {
    const person = await h.person(someone());
    const browser = new Browser();
    // An enrollment-style registration challenge id cannot finish a sign-in …
    const invite = await h.invite(someone());
    const foreign = await h.json(browser, `/enroll/${invite.secret}/options`, {});
    const start = await h.json(browser, '/login/options', {});
    const response = await person.key.get(start.body.options as never, { origin: h.origin });
    const wrong = await h.json(browser, '/login/verify', {
      challengeId: foreign.body.challengeId,
      response,
    });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.response.headers.get('set-cookie'), null);
  });
});
