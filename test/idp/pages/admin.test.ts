// The admin page: who may see it (administrators with a fresh sign-in; everyone else gets
// the 404 any unknown path gets), and every action on it, with its audit event.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Browser, someone, startPagesHarness, type PagesHarness, type Person } from './harness.ts';

const ADMINS = 'pgkey-admins';

describe('admin page', () => {
  let h: PagesHarness;
  let admin: Person;
  let csrf: string;
  before(async () => {
    h = await startPagesHarness();
  });
  beforeEach(async () => {
    // A fresh sign-in before each test: admin_fresh_auth is 5 minutes.
    admin ??= await h.person(someone('admin'), [ADMINS]);
    await h.login(admin.browser, admin.key);
    csrf = await h.csrf(admin.browser, '/admin');
  });
  after(() => h.close());

  const action = (path: string, fields: Record<string, string> = {}) =>
    h.form(admin.browser, `/admin/${path}`, { csrf, ...fields });
  const lastEvent = () => h.events.at(-1);

  it('is a 404 like any unknown path for anonymous visitors and non-admins', async () => {
    const unknown = await h.get(new Browser(), '/no-such-page');
    const person = await h.person(someone());
    for (const browser of [new Browser(), person.browser]) {
      for (const path of ['/admin', '/admin/users/x/disable']) {
        const page = await h.get(browser, path);
        assert.equal(page.status, 404, path);
        assert.equal(page.text, unknown.text, path);
        assert.equal(
          page.response.headers.get('content-type'),
          unknown.response.headers.get('content-type'),
        );
      }
    }
    // A non-admin's POST changes nothing and looks the same.
    const victim = await h.person(someone());
    const personCsrf = await h.csrf(person.browser);
    const post = await h.form(person.browser, `/admin/users/${victim.user.id}/disable`, {
      csrf: personCsrf,
      reason: 'x',
    });
    assert.equal(post.status, 404);
    assert.equal((await h.directory.users.get(victim.user.id))?.disabled, false);
    const me = await h.get(person.browser, '/me');
    assert.doesNotMatch(me.text, /Administration/);
  });

  it('asks an administrator with a stale sign-in to confirm, and does nothing meanwhile', async () => {
    const target = await h.person(someone());
    h.clock.advance(6 * 60_000);
    try {
      const page = await h.get(admin.browser, '/admin');
      assert.equal(page.status, 403);
      assert.match(page.text, /Confirm it’s you/);
      assert.match(page.text, /href="\/login\?fresh=1&amp;next=%2Fadmin"/);
      const post = await action(`users/${target.user.id}/disable`, { reason: 'x' });
      assert.equal(post.status, 403);
      assert.equal((await h.directory.users.get(target.user.id))?.disabled, false);
    } finally {
      h.clock.advance(-6 * 60_000);
    }
  });

  it('shows people, keys and live sessions to a fresh administrator', async () => {
    const person = await h.person(someone('listed'));
    h.live.sessions = [
      {
        id: 'sess-1',
        subject: person.user.id,
        email: person.user.email,
        role: 'app_rw',
        database: 'orders',
        clientAddress: '203.0.113.7:51234',
        startedAt: h.clock.now() - 60_000,
        credentialId: person.credentialId,
      },
    ];
    const page = await h.get(admin.browser, '/admin');
    assert.equal(page.status, 200);
    assert.match(page.text, /<h2 id="people-h">People<\/h2>/);
    assert.match(page.text, new RegExp(person.user.email.replace('.', '\\.')));
    assert.match(page.text, /<h2 id="keys-h">Keys<\/h2>/);
    assert.match(page.text, /app_rw/);
    assert.match(page.text, /203\.0\.113\.7:51234/);
    assert.match(page.text, /action="\/admin\/sessions\/sess-1\/terminate"/);
    assert.match(page.text, /Administration<\/a>/, 'header link for admins');
  });

  it('disables (with a reason) and enables a person', async () => {
    const target = await h.person(someone());
    const missing = await action(`users/${target.user.id}/disable`, { reason: '  ' });
    assert.equal(missing.status, 400);
    assert.match(missing.text, /Give a reason/);
    const done = await action(`users/${target.user.id}/disable`, { reason: 'left the team' });
    assert.equal(done.status, 303);
    assert.equal(done.response.headers.get('location'), '/admin?notice=user-disabled');
    const user = await h.directory.users.get(target.user.id);
    assert.equal(user?.disabled, true);
    assert.equal(user.disabledReason, 'left the team');
    assert.deepEqual(lastEvent(), {
      type: 'user.disabled',
      actor: admin.user.email,
      target: target.user.email,
      reason: 'left the team',
    });
    assert.equal((await h.get(target.browser, '/me')).status, 303, 'their session ended');

    const enabled = await action(`users/${target.user.id}/enable`, { reason: 'came back' });
    assert.equal(enabled.status, 303);
    assert.equal((await h.directory.users.get(target.user.id))?.disabled, false);
    assert.equal(lastEvent()?.type, 'user.enabled');
    assert.equal(lastEvent()?.reason, 'came back');
  });

  it('refuses to let an administrator disable themselves or leave the admin group', async () => {
    const self = await action(`users/${admin.user.id}/disable`, { reason: 'oops' });
    assert.equal(self.status, 409);
    const leave = await action(`users/${admin.user.id}/groups/remove`, { group: ADMINS });
    assert.equal(leave.status, 409);
    const user = await h.directory.users.get(admin.user.id);
    assert.equal(user?.disabled, false);
    assert.ok(user.groups.includes(ADMINS));
  });

  it('adds and removes groups', async () => {
    const target = await h.person(someone());
    assert.equal(
      (await action(`users/${target.user.id}/groups/add`, { group: 'dba' })).status,
      303,
    );
    assert.deepEqual((await h.directory.users.get(target.user.id))?.groups, ['dba']);
    assert.deepEqual(lastEvent(), {
      type: 'group.added',
      actor: admin.user.email,
      target: target.user.email,
      group: 'dba',
    });
    const bad = await action(`users/${target.user.id}/groups/add`, { group: 'two words' });
    assert.equal(bad.status, 400);
    const removed = await action(`users/${target.user.id}/groups/remove`, { group: 'dba' });
    assert.equal(removed.status, 303);
    assert.deepEqual((await h.directory.users.get(target.user.id))?.groups, []);
    assert.equal(lastEvent()?.type, 'group.removed');
  });

  it('creates an invite and shows its link once; the link enrolls', async () => {
    const email = someone('invited');
    const page = await action('invites', { email: `  ${email.toUpperCase()} `, name: 'Grace' });
    assert.equal(page.status, 200);
    assert.equal(page.response.headers.get('cache-control'), 'no-store');
    const link = /value="(http:\/\/localhost:\d+\/enroll\/[\w-]{43})"/.exec(page.text)?.[1];
    assert.ok(link !== undefined, page.text);
    assert.match(page.text, /shown only this once/);
    assert.deepEqual(lastEvent(), {
      type: 'invite.created',
      actor: admin.user.email,
      target: email,
    });
    const user = await h.directory.users.findByEmail(email);
    assert.equal(user?.displayName, 'Grace');
    const list = await h.get(admin.browser, '/admin');
    assert.ok(!list.text.includes(link), 'the admin page does not show it again');
    assert.match(list.text, new RegExp(email.replace('.', '\\.')), 'listed as pending');

    const secret = link.split('/enroll/')[1] ?? '';
    assert.equal((await h.enroll(new Browser(), secret, h.authenticator())).status, 200);
    const invalid = await action('invites', { email: 'not an e-mail' });
    assert.equal(invalid.status, 400);
  });

  it('revokes a key with a reason', async () => {
    const target = await h.person(someone());
    const missing = await action(`keys/${encodeURIComponent(target.credentialId)}/revoke`);
    assert.equal(missing.status, 400);
    const done = await action(`keys/${encodeURIComponent(target.credentialId)}/revoke`, {
      reason: 'reported lost',
    });
    assert.equal(done.status, 303);
    const key = await h.directory.credentials.get(target.credentialId);
    assert.equal(key?.revokedReason, 'reported lost');
    assert.deepEqual(lastEvent(), {
      type: 'key.revoked',
      actor: admin.user.email,
      target: target.credentialId,
      credentialId: target.credentialId,
      reason: 'reported lost',
      user: target.user.email,
    });
    assert.equal((await h.get(target.browser, '/me')).status, 303, 'their session ended');
    const unknown = await action('keys/AAAA/revoke', { reason: 'x' });
    assert.equal(unknown.status, 404);
  });

  it('terminates a live gateway session', async () => {
    h.live.sessions = [
      {
        id: 'sess-2',
        subject: 'sub-2',
        email: 'bob@example.com',
        role: 'bob',
        database: 'app',
        clientAddress: '198.51.100.2:40000',
        startedAt: h.clock.now(),
      },
    ];
    const done = await action('sessions/sess-2/terminate', { reason: '' });
    assert.equal(done.status, 303);
    assert.equal(done.response.headers.get('location'), '/admin?notice=session-terminated');
    assert.deepEqual(h.live.terminated.at(-1), {
      id: 'sess-2',
      reason: `terminated by ${admin.user.email}`,
    });
    assert.deepEqual(lastEvent(), {
      type: 'session.terminated',
      actor: admin.user.email,
      target: 'sess-2',
      reason: `terminated by ${admin.user.email}`,
      user: 'bob@example.com',
    });
    const gone = await action('sessions/sess-2/terminate', { reason: 'again' });
    assert.equal(gone.response.headers.get('location'), '/admin?notice=session-gone');
  });
});
