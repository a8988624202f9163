// Cross-site request forgery: every state change is a same-origin POST carrying the
// session's synchronizer token; GET never changes anything.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { csrfMatches } from '../../../src/idp/pages/csrf.ts';
import { someone, startPagesHarness, type PagesHarness, type Person } from './harness.ts';

describe('CSRF protection', () => {
  let h: PagesHarness;
  let admin: Person;
  before(async () => {
    h = await startPagesHarness();
    admin = await h.person(someone('admin'), ['pgkey-admins']);
  });
  after(() => h.close());

  const disablePath = (p: Person) => `/admin/users/${p.user.id}/disable`;

  it('refuses a missing, wrong or other session’s token with 403 and changes nothing', async () => {
    const target = await h.person(someone());
    const other = await h.person(someone());
    const otherCsrf = await h.csrf(other.browser);
    for (const fields of [
      { reason: 'x' } as Record<string, string>,
      { reason: 'x', csrf: '' },
      { reason: 'x', csrf: 'A'.repeat(43) },
      { reason: 'x', csrf: otherCsrf },
    ]) {
      const reply = await h.form(admin.browser, disablePath(target), fields);
      assert.equal(reply.status, 403, JSON.stringify(fields));
      assert.match(reply.text, /This form has expired or was not sent from this site/);
    }
    const rename = await h.form(target.browser, `/me/keys/${target.credentialId}/rename`, {
      name: 'forged',
      csrf: otherCsrf,
    });
    assert.equal(rename.status, 403);
    const logout = await h.form(target.browser, '/logout', {});
    assert.equal(logout.status, 403);
    assert.equal((await h.directory.users.get(target.user.id))?.disabled, false);
    assert.notEqual((await h.directory.credentials.get(target.credentialId))?.name, 'forged');
    assert.equal((await h.get(target.browser, '/me')).status, 200, 'still signed in');
  });

  it('refuses cross-origin forms even with the right token', async () => {
    const target = await h.person(someone());
    const csrf = await h.csrf(admin.browser);
    for (const headers of [
      { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } as Record<string, string>,
      { origin: 'https://evil.example' },
      { origin: 'null', 'sec-fetch-site': 'cross-site' },
      { origin: h.origin, 'sec-fetch-site': 'same-site' },
    ]) {
      const reply = await h.form(
        admin.browser,
        disablePath(target),
        { csrf, reason: 'x' },
        headers,
      );
      assert.equal(reply.status, 403, JSON.stringify(headers));
    }
    // Without Fetch metadata (an old browser), Origin alone decides: `null` is not ours.
    for (const origin of ['null', 'https://evil.example']) {
      const reply = await admin.browser.fetch(h.url(disablePath(target)), {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin },
        body: new URLSearchParams({ csrf, reason: 'x' }).toString(),
      });
      assert.equal(reply.status, 403, origin);
    }
    assert.equal((await h.directory.users.get(target.user.id))?.disabled, false);
    // Chromium's same-origin form POST under Referrer-Policy: no-referrer: Origin null, but
    // Sec-Fetch-Site same-origin. That one is ours.
    const ok = await h.form(
      admin.browser,
      disablePath(target),
      { csrf, reason: 'x' },
      { origin: 'null', 'sec-fetch-site': 'same-origin' },
    );
    assert.equal(ok.status, 303);
  });

  it('guards the JSON endpoints with the X-CSRF-Token header, origin and content type', async () => {
    const person = await h.person(someone());
    const csrf = await h.csrf(person.browser);
    const missing = await h.json(person.browser, '/me/keys/options', {});
    assert.equal(missing.status, 403);
    assert.equal(missing.body.error, 'csrf');
    const wrong = await h.json(person.browser, '/me/keys/options', {}, { 'x-csrf-token': 'nope' });
    assert.equal(wrong.status, 403);
    const cross = await h.json(
      person.browser,
      '/me/keys/options',
      {},
      { 'x-csrf-token': csrf, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
    );
    assert.equal(cross.status, 403);
    const text = await person.browser.fetch(h.url('/me/keys/options'), {
      method: 'POST',
      headers: { 'content-type': 'text/plain', origin: h.origin, 'x-csrf-token': csrf },
      body: '{}',
    });
    assert.equal(text.status, 415);
    const form = await person.browser.fetch(h.url('/login/options'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: h.origin },
      body: 'a=b',
    });
    assert.equal(form.status, 415);
    const ok = await h.json(person.browser, '/me/keys/options', {}, { 'x-csrf-token': csrf });
    assert.equal(ok.status, 200);
  });

  it('never changes state on GET', async () => {
    const target = await h.person(someone());
    const paths = [
      disablePath(target),
      `/admin/keys/${target.credentialId}/revoke`,
      `/admin/users/${target.user.id}/groups/add?group=x`,
      '/admin/invites?email=x@example.com',
      `/me/keys/${target.credentialId}/remove`,
      '/logout',
    ];
    for (const path of paths) {
      const adminReply = await h.get(
        admin.browser,
        `${path}${path.includes('?') ? '&' : '?'}reason=x`,
      );
      assert.equal(adminReply.status, 405, path);
      assert.equal(adminReply.response.headers.get('allow'), 'POST');
    }
    const own = await h.get(target.browser, `/me/keys/${target.credentialId}/remove`);
    assert.equal(own.status, 405);
    const user = await h.directory.users.get(target.user.id);
    assert.equal(user?.disabled, false);
    assert.deepEqual(user.groups, []);
    assert.equal((await h.directory.credentials.get(target.credentialId))?.revokedAt, undefined);
    assert.equal((await h.get(admin.browser, '/me')).status, 200, 'GET /logout did not sign out');
  });

  it('compares tokens in constant time over their hashes', () => {
    assert.equal(csrfMatches('abc', 'abc'), true);
    assert.equal(csrfMatches('abc', 'abd'), false);
    assert.equal(csrfMatches('abc', 'ab'), false);
    assert.equal(csrfMatches('abc', undefined), false);
    assert.equal(csrfMatches('abc', ['abc']), false);
    assert.equal(csrfMatches('abc', 'x'.repeat(10_000)), false);
  });

  it('caps form bodies', async () => {
    const csrf = await h.csrf(admin.browser);
    const reply = await h.form(admin.browser, '/admin/invites', {
      csrf,
      email: `${'a'.repeat(20_000)}@example.com`,
    });
    assert.equal(reply.status, 413);
  });
});
