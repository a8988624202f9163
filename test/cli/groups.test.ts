import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { DirectoryChange } from '../../src/store/directory.ts';
import { CliFixture } from './cli-fixture.ts';

let fx: CliFixture;
beforeEach(async () => {
  fx = await CliFixture.create();
  await fx.run('users', 'add', 'ada@example.com', '--group', 'dba');
});
afterEach(async () => {
  await fx.close();
});

describe('pgkey groups add / remove', () => {
  it('adds a group from the next login, idempotently', async () => {
    const run = await fx.run('groups', 'add', 'ada@example.com', 'analytics');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(
      run.stdout,
      'added ada@example.com to analytics; it is in their tokens from their next login\n',
    );
    const again = await fx.json('groups', 'add', 'ada@example.com', 'analytics');
    assert.equal(again.body.changed, false);
    assert.deepEqual((again.body.user as Record<string, unknown>).groups, ['analytics', 'dba']);
    assert.equal((await fx.user('ada@example.com')).tokensValidAfter, 0, 'adding cuts nothing off');
  });

  it('removes a group at once: old tokens cut off and a user.groups_changed change', async () => {
    const ada = await fx.user('ada@example.com');
    const heard: DirectoryChange[] = [];
    fx.directory.subscribe((c) => heard.push(c));
    const before = Date.now();
    const run = await fx.run('groups', 'remove', 'ada@example.com', 'dba');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(
      run.stdout,
      'removed ada@example.com from dba\n' +
        'their current tokens are refused and a running pgkey ends their sessions within a second\n',
    );
    const after = await fx.user('ada@example.com');
    assert.deepEqual(after.groups, []);
    assert.ok(after.tokensValidAfter >= before);
    for (let i = 0; i < 100 && heard.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(heard, [{ kind: 'user.groups_changed', userId: ada.id }]);

    const again = await fx.json('groups', 'remove', 'ada@example.com', 'dba');
    assert.equal(again.code, 0);
    assert.equal(again.body.changed, false);
    const text = await fx.run('groups', 'remove', 'ada@example.com', 'dba');
    assert.equal(text.stdout, 'ada@example.com is not in dba: nothing changed\n');
  });

  it('needs an existing person (exit 1) and exactly EMAIL GROUP (exit 2)', async () => {
    const unknown = await fx.run('groups', 'add', 'nobody@example.com', 'dba');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^pgkey: no user with e-mail nobody@example.com\n/);
    for (const args of [
      ['groups', 'add', 'ada@example.com'],
      ['groups', 'remove', 'ada@example.com', 'dba', 'ops'],
      ['groups', 'add', 'ada@example.com', ' padded '],
      ['groups', 'add', 'ada@example.com', 'bell\u0007'],
    ]) {
      const run = await fx.run(...args);
      assert.equal(run.code, 2, args.join(' '));
      assert.match(run.stderr, /\nusage: pgkey groups (add|remove) EMAIL GROUP/);
    }
  });
});
