/** Directory contract: WebAuthn credentials, the takeover race and the sign-count race. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';
import {
  MINUTE,
  T0,
  credential,
  newUser,
  race,
  record,
  rejectsWith,
  settle,
} from './contract-support.ts';
import type { CurrentDirectory } from './contract-support.ts';

export function credentialContract(current: CurrentDirectory): void {
  describe('credentials', () => {
    it('stores a credential and reads it back field for field', async () => {
      const d = current();
      const user = await newUser(d);
      const input = credential(user.id, 'cred-A', { backupEligible: true, signCount: 7 });
      const added = await d.credentials.add(input);
      const expected = {
        ...input,
        lastUsedAt: undefined,
        revokedAt: undefined,
        revokedReason: undefined,
        flaggedReason: undefined,
      };
      assert.deepEqual(added, expected);
      assert.deepEqual(await d.credentials.get('cred-A'), expected);
      assert.ok((await d.credentials.get('cred-A'))?.publicKey instanceof Uint8Array);
      assert.equal(await d.credentials.get('nope'), undefined);
    });

    it('lists by user and in total, oldest first', async () => {
      const d = current();
      const a = await newUser(d);
      const b = await newUser(d);
      await d.credentials.add(credential(a.id, 'k2', { createdAt: T0 + 2 }));
      await d.credentials.add(credential(b.id, 'k3', { createdAt: T0 + 3 }));
      await d.credentials.add(credential(a.id, 'k1', { createdAt: T0 + 1 }));
      assert.deepEqual(
        (await d.credentials.listByUser(a.id)).map((c) => c.id),
        ['k1', 'k2'],
      );
      assert.deepEqual(
        (await d.credentials.list()).map((c) => c.id),
        ['k1', 'k2', 'k3'],
      );
      assert.deepEqual(await d.credentials.listByUser('nobody'), []);
    });

    it('refuses a credential id already registered, to any user (credential_exists)', async () => {
      const d = current();
      const owner = await newUser(d);
      const attacker = await newUser(d);
      await d.credentials.add(credential(owner.id, 'shared'));
      await rejectsWith(
        d.credentials.add(credential(attacker.id, 'shared', { publicKey: new Uint8Array([9]) })),
        'ERR_CONFLICT',
        'credential_exists',
      );
      const stored = await d.credentials.get('shared');
      assert.equal(stored?.userId, owner.id);
      assert.deepEqual(stored?.publicKey, credential(owner.id, 'shared').publicKey);
    });

    it('lets exactly one of 20 concurrent registrations of one credential id win', async () => {
      const d = current();
      const users = await Promise.all(Array.from({ length: 20 }, () => newUser(d)));
      const { won, lost } = await race(20, (i) =>
        d.credentials.add(credential(users[i]?.id ?? '', 'contested')),
      );
      assert.equal(won.length, 1);
      assert.equal(lost.length, 19);
      assert.ok(
        lost.every((e) => isPgkeyError(e, 'ERR_CONFLICT') && e.reason === 'credential_exists'),
      );
      assert.equal((await d.credentials.get('contested'))?.userId, won[0]?.userId);
    });

    it('refuses a credential for an unknown user', async () => {
      await rejectsWith(current().credentials.add(credential('nobody', 'orphan')), 'ERR_NOT_FOUND');
    });

    it('revokes idempotently: the first time and reason stand, each call announces it', async () => {
      const d = current();
      const user = await newUser(d);
      await d.credentials.add(credential(user.id, 'lost'));
      const changes = record(d);
      const revoked = await d.credentials.revoke('lost', 'reported lost', T0 + MINUTE);
      assert.equal(revoked.revokedAt, T0 + MINUTE);
      assert.equal(revoked.revokedReason, 'reported lost');
      const again = await d.credentials.revoke('lost', 'second thoughts', T0 + 2 * MINUTE);
      assert.deepEqual(again, revoked);
      assert.deepEqual(await d.credentials.get('lost'), revoked);
      await settle();
      const change = {
        kind: 'credential.revoked',
        userId: user.id,
        credentialId: 'lost',
        reason: 'reported lost',
      };
      assert.deepEqual(changes, [change, change]);
      await rejectsWith(d.credentials.revoke('nope', 'x', T0), 'ERR_NOT_FOUND');
      assert.equal(changes.length, 2);
    });

    it('flags a credential, keeping the first reason', async () => {
      const d = current();
      const user = await newUser(d);
      await d.credentials.add(credential(user.id, 'odd'));
      await d.credentials.flag('odd', 'sign_count_regression');
      await d.credentials.flag('odd', 'something_else');
      assert.equal((await d.credentials.get('odd'))?.flaggedReason, 'sign_count_regression');
      await rejectsWith(d.credentials.flag('nope', 'x'), 'ERR_NOT_FOUND');
    });

    it('renames a credential', async () => {
      const d = current();
      const user = await newUser(d);
      await d.credentials.add(credential(user.id, 'named'));
      assert.equal((await d.credentials.rename('named', 'Work key')).name, 'Work key');
      assert.equal((await d.credentials.get('named'))?.name, 'Work key');
      await rejectsWith(d.credentials.rename('nope', 'x'), 'ERR_NOT_FOUND');
    });

    it('records a use by compare-and-set on the previous sign count', async () => {
      const d = current();
      const user = await newUser(d);
      await d.credentials.add(credential(user.id, 'used', { signCount: 5 }));
      const use = { previousSignCount: 5, signCount: 6, backupState: true, now: T0 + MINUTE };
      assert.equal(await d.credentials.recordUse('used', use), true);
      const after = await d.credentials.get('used');
      assert.equal(after?.signCount, 6);
      assert.equal(after?.backupState, true);
      assert.equal(after?.lastUsedAt, T0 + MINUTE);
      assert.equal(await d.credentials.recordUse('used', use), false, 'stale previous count');
      assert.equal(await d.credentials.recordUse('nope', use), false);
    });

    it('lets exactly one of 20 concurrent uses from the same sign count record', async () => {
      const d = current();
      const user = await newUser(d);
      await d.credentials.add(credential(user.id, 'cloned', { signCount: 10 }));
      const { won } = await race(20, (i) =>
        d.credentials.recordUse('cloned', {
          previousSignCount: 10,
          signCount: 11 + i,
          backupState: false,
          now: T0 + i,
        }),
      );
      assert.equal(won.length, 20, 'no attempt fails outright');
      assert.equal(won.filter(Boolean).length, 1);
      const winner = won.indexOf(true);
      assert.equal((await d.credentials.get('cloned'))?.signCount, 11 + winner);
    });

    it('never records a use on a revoked or flagged credential', async () => {
      const d = current();
      const user = await newUser(d);
      await d.credentials.add(credential(user.id, 'revoked'));
      await d.credentials.add(credential(user.id, 'flagged'));
      await d.credentials.revoke('revoked', 'lost', T0);
      await d.credentials.flag('flagged', 'sign_count_regression');
      const use = { previousSignCount: 0, signCount: 1, backupState: false, now: T0 };
      assert.equal(await d.credentials.recordUse('revoked', use), false);
      assert.equal(await d.credentials.recordUse('flagged', use), false);
      assert.equal((await d.credentials.get('revoked'))?.signCount, 0);
    });
  });
}
