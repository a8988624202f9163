/** Directory contract: invites and challenges are single use, even under concurrency. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Challenge } from '../../src/store/directory.ts';
import { MINUTE, T0, race, rejectsWith } from './contract-support.ts';
import type { CurrentDirectory } from './contract-support.ts';

const invite = (id: string, tokenHash: string) => ({
  id,
  tokenHash,
  email: 'new.hire@example.com',
  createdBy: 'admin-1',
  createdAt: T0,
  expiresAt: T0 + 60 * MINUTE,
});

const challenge = (id: string, expiresAt = T0 + 5 * MINUTE): Challenge => ({
  id,
  purpose: 'registration',
  challenge: 'q1w2e3r4t5y6u7i8o9p0',
  userId: 'user-1',
  data: { interaction: 'uid-123', invite: 'inv-1' },
  expiresAt,
});

export function ceremonyContract(current: CurrentDirectory): void {
  describe('invites', () => {
    it('creates, peeks without consuming, then consumes exactly once', async () => {
      const d = current();
      const created = await d.invites.create(invite('inv-1', 'hash-1'));
      assert.deepEqual(created, { ...invite('inv-1', 'hash-1'), usedAt: undefined });
      assert.deepEqual(await d.invites.peek('hash-1', T0 + 1), created);
      assert.deepEqual(await d.invites.peek('hash-1', T0 + 2), created, 'peek does not consume');
      const used = await d.invites.consume('hash-1', T0 + 3);
      assert.deepEqual(used, { ...created, usedAt: T0 + 3 });
      assert.equal(await d.invites.consume('hash-1', T0 + 4), undefined);
      assert.equal(await d.invites.peek('hash-1', T0 + 4), undefined);
      assert.deepEqual(await d.invites.list(), [used]);
    });

    it('hands an invite to exactly one of 20 concurrent consumers', async () => {
      const d = current();
      await d.invites.create(invite('inv-1', 'hash-1'));
      const { won, lost } = await race(20, () => d.invites.consume('hash-1', T0 + 1));
      assert.equal(lost.length, 0);
      assert.equal(won.filter((i) => i !== undefined).length, 1);
    });

    it('refuses an expired invite, from its expiry instant on', async () => {
      const d = current();
      await d.invites.create(invite('inv-1', 'hash-1'));
      const expiry = T0 + 60 * MINUTE;
      assert.equal(await d.invites.peek('hash-1', expiry), undefined);
      assert.equal(await d.invites.consume('hash-1', expiry), undefined);
      assert.ok(await d.invites.peek('hash-1', expiry - 1), 'still valid a moment before');
      assert.ok(await d.invites.consume('hash-1', expiry - 1));
    });

    it('knows nothing of unknown tokens and refuses a duplicate invite', async () => {
      const d = current();
      assert.equal(await d.invites.consume('unknown', T0), undefined);
      assert.equal(await d.invites.peek('unknown', T0), undefined);
      await d.invites.create(invite('inv-1', 'hash-1'));
      await rejectsWith(d.invites.create(invite('inv-1', 'hash-2')), 'ERR_CONFLICT');
      await rejectsWith(d.invites.create(invite('inv-2', 'hash-1')), 'ERR_CONFLICT');
    });
  });

  describe('challenges', () => {
    it('gives a challenge back once, with its data', async () => {
      const d = current();
      await d.challenges.put(challenge('ch-1'));
      assert.deepEqual(await d.challenges.take('ch-1', T0), challenge('ch-1'));
      assert.equal(await d.challenges.take('ch-1', T0), undefined);
      await d.challenges.put({ ...challenge('ch-2'), userId: undefined, data: {} });
      assert.deepEqual(await d.challenges.take('ch-2', T0), {
        ...challenge('ch-2'),
        userId: undefined,
        data: {},
      });
    });

    it('gives a challenge to exactly one of 20 concurrent takers', async () => {
      const d = current();
      await d.challenges.put(challenge('ch-1'));
      const { won, lost } = await race(20, () => d.challenges.take('ch-1', T0));
      assert.equal(lost.length, 0);
      assert.equal(won.filter((c) => c !== undefined).length, 1);
    });

    it('returns nothing for an expired challenge and deletes it anyway', async () => {
      const d = current();
      await d.challenges.put(challenge('ch-1', T0 + MINUTE));
      assert.equal(await d.challenges.take('ch-1', T0 + MINUTE), undefined);
      assert.equal(await d.challenges.take('ch-1', T0), undefined, 'gone, not just hidden');
      assert.equal(await d.challenges.take('unknown', T0), undefined);
    });

    it('sweeps expired challenges only and says how many', async () => {
      const d = current();
      await d.challenges.put(challenge('old-1', T0 + MINUTE));
      await d.challenges.put(challenge('old-2', T0 + 2 * MINUTE));
      await d.challenges.put(challenge('fresh', T0 + 10 * MINUTE));
      assert.equal(await d.challenges.sweep(T0 + 2 * MINUTE), 2);
      assert.equal(await d.challenges.sweep(T0 + 2 * MINUTE), 0);
      assert.ok(await d.challenges.take('fresh', T0 + 2 * MINUTE));
    });

    it('never overwrites a challenge with the same id', async () => {
      const d = current();
      await d.challenges.put(challenge('ch-1'));
      await rejectsWith(
        d.challenges.put({ ...challenge('ch-1'), challenge: 'attacker-chosen' }),
        'ERR_CONFLICT',
      );
      assert.equal((await d.challenges.take('ch-1', T0))?.challenge, 'q1w2e3r4t5y6u7i8o9p0');
    });
  });
}
