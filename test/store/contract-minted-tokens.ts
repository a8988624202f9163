/** Directory contract: the token service's minted tokens and its own signing keys. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DirectoryChange, NewMintedToken } from '../../src/store/directory.ts';
import { MINUTE, T0, rejectsWith, settle, within } from './contract-support.ts';
import type { AnotherDirectory, CurrentDirectory } from './contract-support.ts';

const ALICE = { issuer: 'https://idp.example.com', subject: 'alice' };

function minted(id: string, overrides: Partial<NewMintedToken> = {}): NewMintedToken {
  return {
    id,
    name: 'ci-deploy',
    database: 'app',
    role: 'deployer',
    mintedBy: { ...ALICE, email: 'alice@example.com', credentialId: 'cred-1' },
    createdAt: T0,
    expiresAt: T0 + 15 * MINUTE,
    ...overrides,
  };
}

export function mintedTokenContract(current: CurrentDirectory, another: AnotherDirectory): void {
  describe('minted tokens', () => {
    it('adds, gets and refuses a second token with the same id', async () => {
      const d = current();
      const added = await d.mintedTokens.add(minted('jti-1'));
      assert.deepEqual(added, {
        ...minted('jti-1'),
        revokedAt: undefined,
        revokedBy: undefined,
        revokedReason: undefined,
      });
      assert.deepEqual(await d.mintedTokens.get('jti-1'), added);
      assert.equal(await d.mintedTokens.get('unknown'), undefined);
      await rejectsWith(d.mintedTokens.add(minted('jti-1')), 'ERR_CONFLICT', 'token_exists');
    });

    it('keeps a minter without e-mail or credential as undefined', async () => {
      const d = current();
      const token = minted('jti-bare', {
        mintedBy: { ...ALICE, email: undefined, credentialId: undefined },
      });
      assert.deepEqual((await d.mintedTokens.add(token)).mintedBy, token.mintedBy);
    });

    it('lists newest first, all or one minter’s', async () => {
      const d = current();
      await d.mintedTokens.add(minted('a'));
      await d.mintedTokens.add(minted('b', { createdAt: T0 + MINUTE }));
      await d.mintedTokens.add(
        minted('c', {
          createdAt: T0 + 2 * MINUTE,
          mintedBy: { ...ALICE, subject: 'bob', email: undefined, credentialId: undefined },
        }),
      );
      const other = { issuer: 'https://other.example.com', subject: 'alice' };
      await d.mintedTokens.add(
        minted('d', { mintedBy: { ...other, email: undefined, credentialId: undefined } }),
      );
      assert.deepEqual(
        (await d.mintedTokens.list()).map((t) => t.id),
        ['c', 'b', 'a', 'd'],
      );
      assert.deepEqual(
        (await d.mintedTokens.list(ALICE)).map((t) => t.id),
        ['b', 'a'],
        'the same subject at another issuer is someone else',
      );
    });

    it('revokes once, keeps the first revoker and announces every call', async () => {
      const d = current();
      await d.mintedTokens.add(minted('jti-1'));
      const changes: DirectoryChange[] = [];
      d.subscribe((c) => changes.push(c));
      const first = await d.mintedTokens.revoke('jti-1', 'alice@example.com', 'leaked', T0 + 1);
      assert.equal(first.revokedAt, T0 + 1);
      assert.equal(first.revokedBy, 'alice@example.com');
      assert.equal(first.revokedReason, 'leaked');
      const again = await d.mintedTokens.revoke('jti-1', 'bob@example.com', 'other', T0 + 2);
      assert.deepEqual(again, first);
      await settle();
      const expected: DirectoryChange = {
        kind: 'token.revoked',
        tokenId: 'jti-1',
        subject: 'svc:ci-deploy',
        reason: 'leaked',
      };
      assert.deepEqual(changes, [expected, expected]);
      await rejectsWith(d.mintedTokens.revoke('unknown', 'x', 'y', T0), 'ERR_NOT_FOUND');
    });

    it('delivers a revocation made through another directory on the store', async () => {
      const d = current();
      const other = await another();
      await d.mintedTokens.add(minted('jti-2'));
      const here: DirectoryChange[] = [];
      d.subscribe((c) => here.push(c));
      await other.mintedTokens.revoke('jti-2', 'cli:root', 'rotated', T0);
      await within(1000, () => here.length >= 1, 'the revocation from the other directory');
      assert.deepEqual(here, [
        { kind: 'token.revoked', tokenId: 'jti-2', subject: 'svc:ci-deploy', reason: 'rotated' },
      ]);
    });

    it('prunes records that expired before the given instant', async () => {
      const d = current();
      await d.mintedTokens.add(minted('old', { expiresAt: T0 }));
      await d.mintedTokens.add(minted('new', { expiresAt: T0 + MINUTE }));
      assert.equal(await d.mintedTokens.prune(T0 + 1), 1);
      assert.deepEqual(
        (await d.mintedTokens.list()).map((t) => t.id),
        ['new'],
      );
    });
  });

  describe('token service keys', () => {
    it('live apart from the provider’s signing keys', async () => {
      const d = current();
      const key = {
        kid: 'sts-1',
        privateJwk: { kty: 'EC', crv: 'P-256', d: 'secret', x: 'x', y: 'y' },
        createdAt: T0,
        activatesAt: T0,
        retiredAt: undefined,
        expiresAt: undefined,
      };
      await d.tokenServiceKeys.add(key);
      assert.deepEqual(await d.tokenServiceKeys.list(), [key]);
      assert.deepEqual(await d.signingKeys.list(), [], 'the provider never sees them');
      await d.tokenServiceKeys.retire('sts-1', T0 + 1, T0 + 2);
      assert.deepEqual(await d.tokenServiceKeys.prune(T0 + 2), ['sts-1']);
    });
  });
}
