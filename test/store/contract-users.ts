/** Directory contract: people, e-mail uniqueness, groups, disabling. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';
import { MINUTE, T0, newUser, race, record, rejectsWith, settle } from './contract-support.ts';
import type { CurrentDirectory } from './contract-support.ts';

export function userContract(current: CurrentDirectory): void {
  describe('users', () => {
    it('creates a user with a lower-cased e-mail and finds it by id and any-case e-mail', async () => {
      const d = current();
      const created = await d.users.create({
        id: 'u-1',
        email: 'Ada.Lovelace@Example.COM',
        displayName: 'Ada Lovelace',
        now: T0,
      });
      assert.deepEqual(created, {
        id: 'u-1',
        email: 'ada.lovelace@example.com',
        displayName: 'Ada Lovelace',
        disabled: false,
        disabledReason: undefined,
        groups: [],
        tokensValidAfter: 0,
        createdAt: T0,
      });
      assert.deepEqual(await d.users.get('u-1'), created);
      assert.deepEqual(await d.users.findByEmail('ADA.LOVELACE@example.com'), created);
      assert.equal(await d.users.get('nobody'), undefined);
      assert.equal(await d.users.findByEmail('nobody@example.com'), undefined);
    });

    it('refuses a second user with the same e-mail in any case (email_taken) or the same id', async () => {
      const d = current();
      await d.users.create({ id: 'u-1', email: 'a@example.com', displayName: 'A', now: T0 });
      await rejectsWith(
        d.users.create({ id: 'u-2', email: 'A@EXAMPLE.com', displayName: 'B', now: T0 }),
        'ERR_CONFLICT',
        'email_taken',
      );
      await rejectsWith(
        d.users.create({ id: 'u-1', email: 'other@example.com', displayName: 'C', now: T0 }),
        'ERR_CONFLICT',
      );
      assert.equal((await d.users.list()).length, 1);
    });

    it('lets exactly one of 20 concurrent creations with one e-mail succeed', async () => {
      const d = current();
      const { won, lost } = await race(20, (i) =>
        d.users.create({ id: `r-${i}`, email: 'Same@example.com', displayName: 'R', now: T0 }),
      );
      assert.equal(won.length, 1);
      assert.ok(lost.every((e) => isPgkeyError(e, 'ERR_CONFLICT') && e.reason === 'email_taken'));
      assert.deepEqual(
        (await d.users.list()).map((u) => u.id),
        won.map((u) => u.id),
      );
    });

    it('lists users in creation order with their groups', async () => {
      const d = current();
      const a = await newUser(d);
      const b = await d.users.create({
        id: 'b',
        email: 'b@example.com',
        displayName: 'B',
        now: T0 + 1,
      });
      await d.users.addGroup(b.id, 'dba');
      const listed = await d.users.list();
      assert.deepEqual(
        listed.map((u) => [u.id, u.groups]),
        [
          [a.id, []],
          [b.id, ['dba']],
        ],
      );
    });

    it('adds groups idempotently and keeps them sorted and unique', async () => {
      const d = current();
      const user = await newUser(d);
      await d.users.addGroup(user.id, 'zeta');
      await d.users.addGroup(user.id, 'alpha');
      const again = await d.users.addGroup(user.id, 'zeta');
      assert.deepEqual(again.groups, ['alpha', 'zeta']);
      assert.deepEqual((await d.users.get(user.id))?.groups, ['alpha', 'zeta']);
      const both = await Promise.all([
        d.users.addGroup(user.id, 'mid'),
        d.users.addGroup(user.id, 'mid'),
      ]);
      assert.deepEqual(both[1]?.groups, ['alpha', 'mid', 'zeta']);
      await rejectsWith(d.users.addGroup('nobody', 'dba'), 'ERR_NOT_FOUND');
    });

    it('removes a held group: bumps tokensValidAfter and emits one user.groups_changed', async () => {
      const d = current();
      const user = await newUser(d);
      await d.users.addGroup(user.id, 'dba');
      await d.users.addGroup(user.id, 'analytics');
      const changes = record(d);
      const after = await d.users.removeGroup(user.id, 'dba', T0 + MINUTE);
      assert.deepEqual(after.groups, ['analytics']);
      assert.equal(after.tokensValidAfter, T0 + MINUTE);
      await settle();
      assert.deepEqual(changes, [{ kind: 'user.groups_changed', userId: user.id }]);
    });

    it('removing a group the user does not hold changes nothing and emits nothing', async () => {
      const d = current();
      const user = await newUser(d);
      await d.users.addGroup(user.id, 'analytics');
      const changes = record(d);
      const after = await d.users.removeGroup(user.id, 'dba', T0 + MINUTE);
      assert.deepEqual(after.groups, ['analytics']);
      assert.equal(after.tokensValidAfter, 0);
      await settle();
      assert.deepEqual(changes, []);
      await rejectsWith(d.users.removeGroup('nobody', 'dba', T0), 'ERR_NOT_FOUND');
    });

    it('disabling bumps tokensValidAfter, keeps the reason and emits exactly one user.disabled', async () => {
      const d = current();
      const user = await newUser(d);
      const changes = record(d);
      const disabled = await d.users.setDisabled(user.id, true, 'left the company', T0 + MINUTE);
      assert.equal(disabled.disabled, true);
      assert.equal(disabled.disabledReason, 'left the company');
      assert.equal(disabled.tokensValidAfter, T0 + MINUTE);
      assert.deepEqual(await d.users.get(user.id), disabled);
      await settle();
      assert.deepEqual(changes, [
        { kind: 'user.disabled', userId: user.id, reason: 'left the company' },
      ]);
    });

    it('re-enabling clears the reason, keeps tokensValidAfter and emits nothing', async () => {
      const d = current();
      const user = await newUser(d);
      await d.users.setDisabled(user.id, true, 'lost key', T0 + MINUTE);
      const changes = record(d);
      const enabled = await d.users.setDisabled(user.id, false, undefined, T0 + 2 * MINUTE);
      assert.equal(enabled.disabled, false);
      assert.equal(enabled.disabledReason, undefined);
      assert.equal(enabled.tokensValidAfter, T0 + MINUTE);
      await settle();
      assert.deepEqual(changes, []);
      await rejectsWith(d.users.setDisabled('nobody', true, 'x', T0), 'ERR_NOT_FOUND');
    });

    it('never moves tokensValidAfter backwards', async () => {
      const d = current();
      const user = await newUser(d);
      await d.users.addGroup(user.id, 'dba');
      await d.users.setDisabled(user.id, true, 'first', T0 + 10 * MINUTE);
      const later = await d.users.removeGroup(user.id, 'dba', T0 + MINUTE);
      assert.equal(later.tokensValidAfter, T0 + 10 * MINUTE);
    });
  });
}
