/** Directory contract: the OpenID provider's state and signing keys. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SigningKey } from '../../src/store/directory.ts';
import { MINUTE, T0, rejectsWith } from './contract-support.ts';
import type { CurrentDirectory } from './contract-support.ts';

const payload = { accountId: 'user-1', scope: 'openid email', nested: { n: [1, 'two', null] } };

const key = (kid: string, createdAt: number): SigningKey => ({
  kid,
  privateJwk: { kty: 'EC', crv: 'P-256', alg: 'ES256', d: 'secret', x: 'x', y: 'y', kid },
  createdAt,
  activatesAt: createdAt + MINUTE,
  retiredAt: undefined,
  expiresAt: undefined,
});

export function providerContract(current: CurrentDirectory): void {
  describe('oidc', () => {
    it('upserts and finds a record; a second upsert replaces it', async () => {
      const d = current();
      await d.oidc.upsert('Session', 's-1', payload, T0 + MINUTE, {});
      assert.deepEqual(await d.oidc.find('Session', 's-1', T0), {
        payload,
        expiresAt: T0 + MINUTE,
        consumedAt: undefined,
      });
      await d.oidc.upsert('Session', 's-1', { replaced: true }, undefined, {});
      assert.deepEqual(await d.oidc.find('Session', 's-1', T0 + 99 * MINUTE), {
        payload: { replaced: true },
        expiresAt: undefined,
        consumedAt: undefined,
      });
      assert.equal(await d.oidc.find('Session', 'unknown', T0), undefined);
      assert.equal(await d.oidc.find('Grant', 's-1', T0), undefined, 'models are separate');
    });

    it('honours expiry on every lookup, from the expiry instant on', async () => {
      const d = current();
      const index = { uid: 'uid-1', userCode: 'ABCD-EFGH' };
      await d.oidc.upsert('DeviceCode', 'dc-1', payload, T0 + MINUTE, index);
      assert.ok(await d.oidc.find('DeviceCode', 'dc-1', T0 + MINUTE - 1));
      assert.equal(await d.oidc.find('DeviceCode', 'dc-1', T0 + MINUTE), undefined);
      assert.equal(await d.oidc.findByUid('DeviceCode', 'uid-1', T0 + MINUTE), undefined);
      assert.equal(await d.oidc.findByUserCode('DeviceCode', 'ABCD-EFGH', T0 + MINUTE), undefined);
    });

    it('finds by uid and by user code within a model', async () => {
      const d = current();
      await d.oidc.upsert('Interaction', 'i-1', payload, T0 + MINUTE, { uid: 'uid-1' });
      await d.oidc.upsert('DeviceCode', 'dc-1', { device: true }, T0 + MINUTE, {
        userCode: 'WXYZ-1234',
      });
      assert.deepEqual((await d.oidc.findByUid('Interaction', 'uid-1', T0))?.payload, payload);
      assert.deepEqual((await d.oidc.findByUserCode('DeviceCode', 'WXYZ-1234', T0))?.payload, {
        device: true,
      });
      assert.equal(await d.oidc.findByUid('Session', 'uid-1', T0), undefined);
      assert.equal(await d.oidc.findByUserCode('DeviceCode', 'nope', T0), undefined);
    });

    it('consumes once: the first time stands, and saving again does not un-consume', async () => {
      const d = current();
      await d.oidc.upsert('AuthorizationCode', 'code-1', payload, T0 + MINUTE, { grantId: 'g' });
      await d.oidc.consume('AuthorizationCode', 'code-1', T0 + 1);
      await d.oidc.consume('AuthorizationCode', 'code-1', T0 + 2);
      assert.equal((await d.oidc.find('AuthorizationCode', 'code-1', T0 + 3))?.consumedAt, T0 + 1);
      await d.oidc.upsert('AuthorizationCode', 'code-1', payload, T0 + MINUTE, { grantId: 'g' });
      assert.equal((await d.oidc.find('AuthorizationCode', 'code-1', T0 + 3))?.consumedAt, T0 + 1);
      await d.oidc.consume('AuthorizationCode', 'unknown', T0); // no error, nothing to consume
    });

    it('destroys one record and revokes every record of a grant', async () => {
      const d = current();
      await d.oidc.upsert('AccessToken', 'at-1', payload, T0 + MINUTE, { grantId: 'g-1' });
      await d.oidc.upsert('RefreshToken', 'rt-1', payload, T0 + MINUTE, { grantId: 'g-1' });
      await d.oidc.upsert('AccessToken', 'at-2', payload, T0 + MINUTE, { grantId: 'g-2' });
      await d.oidc.upsert('Session', 's-1', payload, T0 + MINUTE, {});
      await d.oidc.destroy('Session', 's-1');
      assert.equal(await d.oidc.find('Session', 's-1', T0), undefined);
      await d.oidc.revokeByGrantId('g-1');
      assert.equal(await d.oidc.find('AccessToken', 'at-1', T0), undefined);
      assert.equal(await d.oidc.find('RefreshToken', 'rt-1', T0), undefined);
      assert.ok(await d.oidc.find('AccessToken', 'at-2', T0));
    });

    it('sweeps expired records only and says how many', async () => {
      const d = current();
      await d.oidc.upsert('Session', 'old', payload, T0 + MINUTE, {});
      await d.oidc.upsert('Session', 'fresh', payload, T0 + 9 * MINUTE, {});
      await d.oidc.upsert('Client', 'forever', payload, undefined, {});
      assert.equal(await d.oidc.sweep(T0 + 2 * MINUTE), 1);
      assert.ok(await d.oidc.find('Session', 'fresh', T0));
      assert.ok(await d.oidc.find('Client', 'forever', T0 + 999 * MINUTE));
    });
  });

  describe('signing keys', () => {
    it('adds and lists keys oldest first; a duplicate kid is refused', async () => {
      const d = current();
      await d.signingKeys.add(key('k2', T0 + 2));
      await d.signingKeys.add(key('k1', T0 + 1));
      assert.deepEqual(await d.signingKeys.list(), [key('k1', T0 + 1), key('k2', T0 + 2)]);
      await rejectsWith(d.signingKeys.add(key('k1', T0 + 3)), 'ERR_CONFLICT');
    });

    it('retires a key and prunes it once expired', async () => {
      const d = current();
      await d.signingKeys.add(key('old', T0));
      await d.signingKeys.add(key('new', T0 + 1));
      await d.signingKeys.retire('old', T0 + MINUTE, T0 + 10 * MINUTE);
      const [old] = await d.signingKeys.list();
      assert.deepEqual(old, {
        ...key('old', T0),
        retiredAt: T0 + MINUTE,
        expiresAt: T0 + 10 * MINUTE,
      });
      assert.deepEqual(await d.signingKeys.prune(T0 + 10 * MINUTE - 1), []);
      assert.deepEqual(await d.signingKeys.prune(T0 + 10 * MINUTE), ['old']);
      assert.deepEqual(
        (await d.signingKeys.list()).map((k) => k.kid),
        ['new'],
      );
      await rejectsWith(d.signingKeys.retire('nope', T0, T0), 'ERR_NOT_FOUND');
    });
  });
}
