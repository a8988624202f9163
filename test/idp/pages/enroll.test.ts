// Enrollment from an invite link over HTTP, with the soft authenticator: the page, the
// ceremony, single use (also under a race), and one answer for every link that cannot be
// used, so a link never tells who exists.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { inviteTokenHash } from '../../../src/store/invite-secret.ts';
import { SOFT_AAGUID } from '../../support/soft-authenticator.ts';
import { Browser, someone, startPagesHarness, type PagesHarness } from './harness.ts';

const INVALID = 'This link is not valid any more; ask your administrator for a new one.';

describe('enrollment from an invite', () => {
  let h: PagesHarness;
  before(async () => {
    h = await startPagesHarness();
  });
  after(() => h.close());

  it('registers a key, spends the link and signs the person in', async () => {
    const email = someone('ada');
    const { secret, user } = await h.invite(email);
    const browser = new Browser();
    const page = await h.get(browser, `/enroll/${secret}`);
    assert.equal(page.status, 200);
    assert.match(page.text, /Register your security key or passkey/);
    assert.match(page.text, new RegExp(email.replace('.', '\\.')));
    assert.match(page.text, /<label><span>Name for this key \(optional\)<\/span><input/);
    assert.doesNotMatch(page.text, /<script>/, 'no inline script');

    // Asking for options does not spend the invite.
    const start = await h.json(browser, `/enroll/${secret}/options`, {});
    assert.equal(start.status, 200);
    const hash = inviteTokenHash(secret);
    assert.ok((await h.directory.invites.peek(hash, h.clock.now())) !== undefined);

    const key = h.authenticator();
    const response = await key.create(start.body.options as never, { origin: h.origin });
    const done = await h.json(browser, `/enroll/${secret}/verify`, {
      challengeId: start.body.challengeId,
      response,
      name: '  Blue\u0000 key  ',
    });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.redirectTo, '/me?notice=enrolled');
    assert.match(done.response.headers.get('set-cookie') ?? '', /^pgkey_session=[\w-]{43};/);
    assert.equal(await h.directory.invites.peek(hash, h.clock.now()), undefined, 'spent');

    const [credential] = await h.directory.credentials.listByUser(user.id);
    assert.ok(credential !== undefined);
    assert.equal(credential.name, 'Blue key');
    assert.equal(credential.aaguid, SOFT_AAGUID);
    assert.equal(credential.attested, true);
    assert.ok(h.events.some((e) => e.type === 'key.added' && e.target === credential.id));

    const me = await h.get(browser, String(done.body.redirectTo));
    assert.equal(me.status, 200);
    assert.match(me.text, /Your key is registered and you are signed in\./);
    assert.match(me.text, /Blue key/);
    assert.match(me.text, /Device-bound/);
  });

  it('a used link gets the invalid page, and its options are refused', async () => {
    const { secret } = await h.invite(someone());
    const first = await h.enroll(new Browser(), secret, h.authenticator());
    assert.equal(first.status, 200);
    const again = await h.get(new Browser(), `/enroll/${secret}`);
    assert.equal(again.status, 404);
    assert.match(again.text, new RegExp(INVALID.replace(/[.;]/g, '.')));
    const options = await h.json(new Browser(), `/enroll/${secret}/options`, {});
    assert.equal(options.status, 404);
    assert.deepEqual(options.body, { error: 'invite_invalid', message: INVALID });
  });

  it('of two registrations racing on one link exactly one wins; the other key is revoked', async () => {
    const { secret, user } = await h.invite(someone());
    const [a, b] = [new Browser(), new Browser()];
    const [keyA, keyB] = [h.authenticator(), h.authenticator()];
    // Both ceremonies start before either finishes (two tabs).
    const startA = await h.json(a, `/enroll/${secret}/options`, {});
    const startB = await h.json(b, `/enroll/${secret}/options`, {});
    const responseA = await keyA.create(startA.body.options as never, { origin: h.origin });
    const responseB = await keyB.create(startB.body.options as never, { origin: h.origin });
    const results = await Promise.all([
      h.json(a, `/enroll/${secret}/verify`, {
        challengeId: startA.body.challengeId,
        response: responseA,
      }),
      h.json(b, `/enroll/${secret}/verify`, {
        challengeId: startB.body.challengeId,
        response: responseB,
      }),
    ]);
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 404], JSON.stringify(results.map((r) => r.body)));
    const loser = results.find((r) => r.status === 404);
    assert.deepEqual(loser?.body, { error: 'invite_invalid', message: INVALID });
    assert.equal(loser?.response.headers.get('set-cookie'), null, 'the loser is not signed in');
    const keys = await h.directory.credentials.listByUser(user.id);
    const active = keys.filter((k) => k.revokedAt === undefined);
    const revoked = keys.filter((k) => k.revokedAt !== undefined);
    assert.equal(active.length, 1);
    // The loser's key either never got stored (the store refused) or was revoked at once.
    for (const key of revoked) assert.equal(key.revokedReason, 'invite already used');
  });

  it('answers unknown, used, expired, malformed and disabled-user links identically', async () => {
    const used = await h.invite(someone());
    assert.equal((await h.enroll(new Browser(), used.secret, h.authenticator())).status, 200);
    const expired = await h.invite(someone());
    const disabled = await h.invite(someone());
    await h.directory.users.setDisabled(disabled.user.id, true, 'left', h.clock.now());
    const unknown = 'A'.repeat(43);
    const malformed = 'not-a-secret';
    h.clock.advance(73 * 3_600_000); // past invite_ttl (72 h) for `expired`
    try {
      const answers = [];
      for (const secret of [unknown, used.secret, expired.secret, malformed, disabled.secret]) {
        const page = await h.get(new Browser(), `/enroll/${secret}`);
        const options = await h.json(new Browser(), `/enroll/${secret}/options`, {});
        const verify = await h.json(new Browser(), `/enroll/${secret}/verify`, {
          challengeId: 'x',
          response: {},
        });
        answers.push({
          page: [page.status, page.text, page.response.headers.get('content-type')],
          options: [options.status, options.body],
          verify: [verify.status, verify.body],
        });
      }
      for (const answer of answers.slice(1)) assert.deepEqual(answer, answers[0]);
      assert.equal(answers[0]?.page[0], 404);
    } finally {
      h.clock.advance(-73 * 3_600_000);
    }
  });

  it('creates the invited user when the invite names an e-mail without one', async () => {
    const email = someone('new');
    const secret = 'B'.repeat(43);
    await h.directory.invites.create({
      id: 'direct-invite',
      tokenHash: inviteTokenHash(secret),
      email,
      createdBy: 'cli:root',
      createdAt: h.clock.now(),
      expiresAt: h.clock.now() + 60_000,
    });
    assert.equal(await h.directory.users.findByEmail(email), undefined);
    const page = await h.get(new Browser(), `/enroll/${secret}`);
    assert.equal(page.status, 200, 'GET creates nothing');
    assert.equal(await h.directory.users.findByEmail(email), undefined);
    const done = await h.enroll(new Browser(), secret, h.authenticator());
    assert.equal(done.status, 200, JSON.stringify(done.body));
    const user = await h.directory.users.findByEmail(email);
    assert.equal(user?.displayName, email.split('@')[0]);
  });

  it('refuses cross-origin and non-JSON requests to the ceremony', async () => {
    const { secret } = await h.invite(someone());
    const cross = await h.json(
      new Browser(),
      `/enroll/${secret}/options`,
      {},
      {
        origin: 'https://evil.example',
        'sec-fetch-site': 'cross-site',
      },
    );
    assert.equal(cross.status, 403);
    const response = await fetch(h.url(`/enroll/${secret}/options`), {
      method: 'POST',
      headers: { origin: h.origin, 'content-type': 'text/plain' },
      body: '{}',
    });
    assert.equal(response.status, 415);
    const get = await fetch(h.url(`/enroll/${secret}/options`));
    assert.equal(get.status, 405);
    // The link still works.
    assert.equal((await h.enroll(new Browser(), secret, h.authenticator())).status, 200);
  });
});
