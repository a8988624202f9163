/** Directory contract: subscriptions and closing. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DirectoryChange } from '../../src/store/directory.ts';
import { T0, credential, newUser, rejectsWith, settle, within } from './contract-support.ts';
import type { AnotherDirectory, CurrentDirectory } from './contract-support.ts';

export function lifecycleContract(current: CurrentDirectory, another: AnotherDirectory): void {
  describe('subscribe', () => {
    it('delivers each change to every subscriber until it unsubscribes', async () => {
      const d = current();
      const user = await newUser(d);
      await d.credentials.add(credential(user.id, 'k1'));
      await d.credentials.add(credential(user.id, 'k2'));
      const first: DirectoryChange[] = [];
      const second: DirectoryChange[] = [];
      const stopFirst = d.subscribe((c) => first.push(c));
      const stopSecond = d.subscribe((c) => second.push(c));
      await d.credentials.revoke('k1', 'lost', T0);
      stopFirst();
      stopFirst(); // idempotent
      await d.credentials.revoke('k2', 'lost', T0);
      await settle();
      assert.deepEqual(
        first.map((c) => c.kind === 'credential.revoked' && c.credentialId),
        ['k1'],
      );
      assert.deepEqual(
        second.map((c) => c.kind === 'credential.revoked' && c.credentialId),
        ['k1', 'k2'],
      );
      stopSecond();
    });

    it('delivers changes made through another directory on the store within a second, once', async () => {
      // Another process on the sqlite file (the admin CLI), another node on PostgreSQL.
      const d = current();
      const other = await another();
      const user = await newUser(d);
      await d.credentials.add(credential(user.id, 'k1'));
      await d.users.addGroup(user.id, 'dba');
      const here: DirectoryChange[] = [];
      const there: DirectoryChange[] = [];
      d.subscribe((c) => here.push(c));
      other.subscribe((c) => there.push(c));
      await other.credentials.revoke('k1', 'reported lost', T0);
      await other.users.removeGroup(user.id, 'dba', T0);
      await other.users.setDisabled(user.id, true, 'offboarded', T0);
      await within(1000, () => here.length >= 3, 'the changes made by the other directory');
      for (let i = 0; i < 4; i++) await settle(); // past any duplicate delivery
      const expected: DirectoryChange[] = [
        {
          kind: 'credential.revoked',
          userId: user.id,
          credentialId: 'k1',
          reason: 'reported lost',
        },
        { kind: 'user.groups_changed', userId: user.id },
        { kind: 'user.disabled', userId: user.id, reason: 'offboarded' },
      ];
      assert.deepEqual(here, expected, 'the other directory hears each change once');
      assert.deepEqual(there, expected, 'the writer hears its own changes once');
    });

    it('delivers nothing for an operation that failed', async () => {
      const d = current();
      const changes: DirectoryChange[] = [];
      d.subscribe((c) => changes.push(c));
      await rejectsWith(d.credentials.revoke('unknown', 'lost', T0), 'ERR_NOT_FOUND');
      await rejectsWith(d.users.setDisabled('unknown', true, 'x', T0), 'ERR_NOT_FOUND');
      await settle();
      assert.deepEqual(changes, []);
    });

    it('keeps delivering to the others when one subscriber throws', async () => {
      const d = current();
      const user = await newUser(d);
      const seen: DirectoryChange[] = [];
      const thrown: unknown[] = [];
      // The throw resurfaces as an uncaught exception by design. For this test only, it is
      // caught here instead of by the test runner's own handler.
      const runners = process.rawListeners('uncaughtException') as ((e: unknown) => void)[];
      process.removeAllListeners('uncaughtException');
      const onUncaught = (error: unknown) => thrown.push(error);
      process.on('uncaughtException', onUncaught);
      try {
        d.subscribe(() => {
          throw new Error('listener bug');
        });
        d.subscribe((c) => seen.push(c));
        await d.users.setDisabled(user.id, true, 'gone', T0);
        await settle();
      } finally {
        process.off('uncaughtException', onUncaught);
        for (const listener of runners) process.on('uncaughtException', listener);
      }
      assert.equal(seen.length, 1);
      assert.equal(thrown.length, 1);
    });
  });

  describe('close', () => {
    it('refuses every use after close with ERR_STORE_UNAVAILABLE; closing twice is fine', async () => {
      const d = current();
      const user = await newUser(d);
      await d.close();
      await d.close();
      await rejectsWith(d.users.get(user.id), 'ERR_STORE_UNAVAILABLE', 'directory_closed');
      await rejectsWith(d.credentials.add(credential(user.id, 'k')), 'ERR_STORE_UNAVAILABLE');
      await rejectsWith(d.users.setDisabled(user.id, true, 'x', T0), 'ERR_STORE_UNAVAILABLE');
      await rejectsWith(d.invites.consume('h', T0), 'ERR_STORE_UNAVAILABLE');
      assert.throws(
        () => d.subscribe(() => undefined),
        (e: unknown) => e instanceof Error && /closed/.test(e.message),
      );
    });

    it('lets operations already started finish before closing', async () => {
      const d = current();
      const user = await newUser(d);
      const pending = d.credentials.add(credential(user.id, 'in-flight'));
      const closing = d.close();
      assert.equal((await pending).id, 'in-flight');
      await closing;
    });
  });
}
