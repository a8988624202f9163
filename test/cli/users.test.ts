import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { DirectoryChange } from '../../src/store/directory.ts';
import { CliFixture } from './cli-fixture.ts';

let fx: CliFixture;
beforeEach(async () => {
  fx = await CliFixture.create();
});
afterEach(async () => {
  await fx.close();
});

describe('pgkey users add', () => {
  it('adds a person with groups and a random opaque id, never derived from the e-mail', async () => {
    const added = await fx.run(
      'users',
      'add',
      'Ada@Example.com',
      '--name',
      'Ada Lovelace',
      '--group',
      'dba',
      '--group',
      'ops',
    );
    assert.equal(added.code, 0, added.stderr);
    assert.equal(
      added.stdout,
      'added ada@example.com (Ada Lovelace), groups dba,ops\nnext: pgkey users invite ada@example.com\n',
    );
    const ada = await fx.user('ada@example.com');
    assert.match(ada.id, /^[A-Za-z0-9_-]{22,}$/, 'at least 16 random bytes, base64url');
    assert.ok(Buffer.from(ada.id, 'base64url').length >= 16);
    assert.doesNotMatch(ada.id, /ada/i);
    assert.deepEqual(ada.groups, ['dba', 'ops']);

    const { code, body } = await fx.json('users', 'add', 'bob@example.com');
    assert.equal(code, 0);
    const user = body.user as Record<string, unknown>;
    assert.equal(user.email, 'bob@example.com');
    assert.equal(user.displayName, 'bob', 'the local part when no --name');
    assert.notEqual(user.id, ada.id);
    assert.deepEqual(user.groups, []);
    assert.deepEqual(user.keys, { active: 0, total: 0 });
    assert.match(String(user.createdAt), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('refuses a taken e-mail (exit 1, ERR_CONFLICT) and a malformed one (exit 2)', async () => {
    assert.equal((await fx.run('users', 'add', 'ada@example.com')).code, 0);
    const again = await fx.run('users', 'add', 'ADA@example.com');
    assert.equal(again.code, 1);
    assert.equal(again.stdout, '');
    assert.match(again.stderr, /^pgkey: a user with e-mail ada@example.com already exists\n/);
    const json = await fx.json('users', 'add', 'ada@example.com');
    assert.equal(json.code, 1);
    assert.equal((json.body.error as Record<string, unknown>).code, 'ERR_CONFLICT');

    for (const bad of [
      ['users', 'add', 'not-an-email'],
      ['users', 'add'],
      ['users', 'add', 'a@b', 'c@d'],
      ['users', 'add', 'a@b', '--bogus'],
    ]) {
      const run = await fx.run(...bad);
      assert.equal(run.code, 2, bad.join(' '));
      assert.match(run.stderr, /\nusage: pgkey users add EMAIL/);
      assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
    }
  });
});

describe('pgkey users list', () => {
  it('prints an aligned table of people, groups, active keys and who is disabled', async () => {
    assert.equal(
      (await fx.run('users', 'list')).stdout,
      'no users yet: add one with `pgkey users add EMAIL`\n',
    );
    await fx.run('users', 'add', 'ada@example.com', '--name', 'Ada Lovelace', '--group', 'dba');
    await fx.run('users', 'add', 'bob@example.com');
    await fx.addKey('ada@example.com', 'key-one-aaaaaaaaaaaa');
    await fx.addKey('ada@example.com', 'key-two-aaaaaaaaaaaa');
    await fx.directory.credentials.revoke('key-two-aaaaaaaaaaaa', 'lost', Date.now());
    await fx.run('users', 'disable', 'bob@example.com', '--reason', 'left the company');
    const list = await fx.run('users', 'list');
    assert.equal(list.code, 0);
    assert.equal(
      list.stdout,
      [
        'EMAIL            NAME          GROUPS  KEYS  DISABLED',
        'ada@example.com  Ada Lovelace  dba     1     -',
        'bob@example.com  bob           -       0     yes: left the company',
        '',
      ].join('\n'),
    );
    const { body } = await fx.json('users', 'list');
    const users = body.users as Record<string, unknown>[];
    assert.deepEqual(
      users.map((u) => [u.email, u.disabled, u.disabledReason, u.keys]),
      [
        ['ada@example.com', false, null, { active: 1, total: 2 }],
        ['bob@example.com', true, 'left the company', { active: 0, total: 0 }],
      ],
    );
    assert.equal(typeof users[0]?.id, 'string');
  });
});

describe('pgkey users disable / enable', () => {
  it('disables at once: tokens cut off and a user.disabled change for a running server', async () => {
    await fx.run('users', 'add', 'bob@example.com');
    const bob = await fx.user('bob@example.com');
    const heard: DirectoryChange[] = [];
    fx.directory.subscribe((c) => heard.push(c));
    const before = Date.now();
    const run = await fx.run('users', 'disable', 'bob@example.com', '--reason', 'left');
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^disabled bob@example.com \(left\)\n.*sessions within a second\n$/);
    const disabled = await fx.user('bob@example.com');
    assert.equal(disabled.disabled, true);
    assert.ok(disabled.tokensValidAfter >= before);
    for (let i = 0; i < 100 && heard.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(heard, [{ kind: 'user.disabled', userId: bob.id, reason: 'left' }]);

    const enabled = await fx.json('users', 'enable', 'bob@example.com');
    assert.equal(enabled.code, 0);
    assert.equal(enabled.body.changed, true);
    assert.equal((enabled.body.user as Record<string, unknown>).disabled, false);
    const again = await fx.run('users', 'enable', 'bob@example.com');
    assert.equal(again.stdout, 'bob@example.com was not disabled: nothing changed\n');
    const json = await fx.json('users', 'disable', 'bob@example.com');
    assert.equal(
      (json.body.user as Record<string, unknown>).disabledReason,
      'disabled by an administrator',
    );
  });

  it('names an unknown person (exit 1, ERR_NOT_FOUND), in text and in JSON', async () => {
    for (const command of ['disable', 'enable']) {
      const run = await fx.run('users', command, 'nobody@example.com');
      assert.equal(run.code, 1);
      assert.equal(
        run.stderr,
        'pgkey: no user with e-mail nobody@example.com\nhint: `pgkey users list` shows everyone in the directory\n',
      );
      const json = await fx.json('users', command, 'nobody@example.com');
      assert.equal(json.code, 1);
      assert.deepEqual(json.body.error, {
        code: 'ERR_NOT_FOUND',
        message: 'no user with e-mail nobody@example.com',
        hint: '`pgkey users list` shows everyone in the directory',
      });
    }
  });
});
