// "My keys": the list, rename, remove (never the last working key), and adding a key, which
// needs a fresh sign-in.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Browser, someone, startPagesHarness, type PagesHarness, type Person } from './harness.ts';

const keyPath = (id: string, action: string) => `/me/keys/${encodeURIComponent(id)}/${action}`;

/** Adds a second key through the page's JSON endpoints; returns the verify reply. */
async function addKey(h: PagesHarness, person: Person, name?: string) {
  const csrf = await h.csrf(person.browser);
  const headers = { 'x-csrf-token': csrf };
  const start = await h.json(person.browser, '/me/keys/options', {}, headers);
  if (start.status !== 200) return start;
  const key = h.authenticator({ backupEligible: true, backupState: true });
  const response = await key.create(start.body.options as never, { origin: h.origin });
  return h.json(
    person.browser,
    '/me/keys/verify',
    { challengeId: start.body.challengeId, response, ...(name === undefined ? {} : { name }) },
    headers,
  );
}

describe('my keys', () => {
  let h: PagesHarness;
  before(async () => {
    h = await startPagesHarness();
  });
  after(() => h.close());

  it('lists the keys with model, kind, dates and state', async () => {
    const person = await h.person(someone());
    await h.login(person.browser, person.key);
    const page = await h.get(person.browser, '/me');
    assert.equal(page.status, 200);
    assert.match(page.text, /<h1>My keys<\/h1>/);
    assert.match(page.text, /<th scope="col">Model<\/th>/);
    assert.match(page.text, /Security key <span class="tag ok"[^>]*>verified<\/span>/);
    assert.match(page.text, /<td>Device-bound<\/td>/);
    assert.match(page.text, /<time datetime="[^"]+">\d{4}-\d\d-\d\d \d\d:\d\d UTC<\/time>/);
    assert.equal(page.text.match(/<time /g)?.length, 2, 'added and last used');
    assert.match(page.text, /<span class="tag ok">Active<\/span>/);
    assert.match(page.text, /this sign-in/);
    assert.doesNotMatch(page.text, /Administration/, 'no admin link for a non-admin');
  });

  it('renames a key, and refuses an empty name', async () => {
    const person = await h.person(someone());
    const csrf = await h.csrf(person.browser);
    const done = await h.form(person.browser, keyPath(person.credentialId, 'rename'), {
      csrf,
      name: 'Work <key>',
    });
    assert.equal(done.status, 303);
    assert.equal(done.response.headers.get('location'), '/me?notice=key-renamed');
    assert.equal((await h.directory.credentials.get(person.credentialId))?.name, 'Work <key>');
    const page = await h.get(person.browser, '/me?notice=key-renamed');
    assert.match(page.text, /Work &lt;key&gt;/, 'escaped');
    assert.match(page.text, /The key is renamed\./);
    assert.ok(h.events.some((e) => e.type === 'key.renamed' && e.target === person.credentialId));

    const empty = await h.form(person.browser, keyPath(person.credentialId, 'rename'), {
      csrf,
      name: ' \u0007 ',
    });
    assert.equal(empty.status, 400);
    assert.match(empty.text, /Enter a name for the key\./);
  });

  it('refuses to remove the last working key, with a clear message', async () => {
    const person = await h.person(someone());
    const csrf = await h.csrf(person.browser);
    const refused = await h.form(person.browser, keyPath(person.credentialId, 'remove'), { csrf });
    assert.equal(refused.status, 409);
    assert.match(refused.text, /This is your only working key, so it cannot be removed/);
    assert.equal((await h.directory.credentials.get(person.credentialId))?.revokedAt, undefined);
  });

  it('adds a key only after a fresh sign-in, then removes the old one', async () => {
    const person = await h.person(someone());
    h.clock.advance(6 * 60_000); // admin_fresh_auth is 5 minutes
    try {
      const stale = await addKey(h, person);
      assert.equal(stale.status, 401);
      assert.equal(stale.body.error, 'fresh_login_required');
      assert.equal(stale.body.redirectTo, '/login?fresh=1&next=%2Fme');
      const page = await h.get(person.browser, '/me');
      assert.match(page.text, /Confirm it’s you to add a key/);
      assert.doesNotMatch(page.text, /data-ceremony="register"/);
      const prompt = await h.get(person.browser, '/login?fresh=1&next=%2Fme');
      assert.equal(prompt.status, 200);
      assert.match(prompt.text, /Confirm it’s you/);

      // Re-login offers only this person's keys.
      const start = await h.json(person.browser, '/login/options', {});
      const allowed = (start.body.options as { allowCredentials?: { id: string }[] })
        .allowCredentials;
      assert.deepEqual(
        allowed?.map((c) => c.id),
        [person.credentialId],
      );
      const response = await person.key.get(start.body.options as never, { origin: h.origin });
      const again = await h.json(person.browser, '/login/verify', {
        challengeId: start.body.challengeId,
        response,
        next: '/me',
      });
      assert.equal(again.status, 200);

      const added = await addKey(h, person, 'Phone');
      assert.equal(added.status, 200, JSON.stringify(added.body));
      assert.equal(added.body.redirectTo, '/me?notice=key-added');
      const keys = await h.directory.credentials.listByUser(person.user.id);
      const phone = keys.find((k) => k.name === 'Phone');
      assert.ok(phone !== undefined);
      assert.equal(phone.backupEligible, true);
      assert.ok(h.events.some((e) => e.type === 'key.added' && e.target === phone.id));
      const list = await h.get(person.browser, '/me');
      assert.match(list.text, /Synced passkey/);

      // Removing the key this session signed in with ends the session, saying why.
      const csrf = await h.csrf(person.browser);
      const removed = await h.form(person.browser, keyPath(person.credentialId, 'remove'), {
        csrf,
      });
      assert.equal(removed.status, 303);
      assert.equal(removed.response.headers.get('location'), '/login?notice=key-removed');
      const old = await h.directory.credentials.get(person.credentialId);
      assert.equal(old?.revokedReason, 'removed by owner');
      const event = h.events.find(
        (e) => e.type === 'key.revoked' && e.target === person.credentialId,
      );
      assert.equal(event?.reason, 'removed by owner');
      assert.equal(event.actor, person.user.email);
      assert.equal((await h.get(person.browser, '/me')).status, 303, 'session ended');
    } finally {
      h.clock.advance(-6 * 60_000);
    }
  });

  it('treats another person’s key like an unknown one', async () => {
    const owner = await h.person(someone());
    const other = await h.person(someone());
    const csrf = await h.csrf(other.browser);
    for (const action of ['rename', 'remove']) {
      const reply = await h.form(other.browser, keyPath(owner.credentialId, action), {
        csrf,
        name: 'mine now',
      });
      const unknown = await h.form(other.browser, keyPath('AAAA', action), { csrf, name: 'x' });
      assert.equal(reply.status, 404);
      assert.equal(reply.text, unknown.text);
    }
    const key = await h.directory.credentials.get(owner.credentialId);
    assert.equal(key?.revokedAt, undefined);
    assert.notEqual(key?.name, 'mine now');
  });

  it('a signed-out browser is sent to sign in, not shown keys', async () => {
    const reply = await h.form(new Browser(), keyPath('AAAA', 'remove'), { csrf: 'x' });
    assert.equal(reply.status, 303);
    assert.equal(reply.response.headers.get('location'), '/login?next=%2Fme');
    const json = await h.json(new Browser(), '/me/keys/options', {});
    assert.equal(json.status, 401);
    assert.equal(json.body.error, 'signed_out');
  });
});
