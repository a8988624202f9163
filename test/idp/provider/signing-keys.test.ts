// Signing key life cycle (reliability.md C19): a new key is published before it signs, the
// old one stays in JWKS until the tokens it signed have expired, and tokens signed before a
// rotation keep verifying at the gateway throughout.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PgkeyError } from '../../../src/errors/pgkey-error.ts';
import {
  loadProviderKeys,
  rotateSigningKeys,
  selectProviderKeys,
} from '../../../src/idp/provider/signing-keys.ts';
import { ManualClock } from '../../../src/runtime/clock.ts';
import type { Directory } from '../../../src/store/directory.ts';
import { openSqliteDirectory } from '../../../src/store/sqlite-directory.ts';
import { decodeJwt, startHarness, type Harness } from './harness.ts';

const MINUTE = 60_000;

describe('signing keys in the directory', () => {
  let dir: string;
  let directory: Directory;
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgkey-keys-'));
    directory = await openSqliteDirectory(join(dir, 'directory.db'), { clock });
  });
  after(async () => {
    await directory.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('first start creates one ES256 key that signs at once; a restart reuses it', async () => {
    const first = await loadProviderKeys(directory.signingKeys, clock);
    assert.deepEqual(first.publishedKids, [first.signingKid]);
    const [jwk] = first.jwks.keys;
    assert.equal(jwk?.alg, 'ES256');
    assert.equal(jwk?.crv, 'P-256');
    assert.equal(typeof jwk?.d, 'string', 'the provider gets the private key');
    assert.equal(first.nextChangeAt, undefined);
    const again = await loadProviderKeys(directory.signingKeys, clock);
    assert.equal(again.signingKid, first.signingKid);
    assert.deepEqual(again.cookieKeys, first.cookieKeys, 'every node derives the same cookie keys');
  });

  it('rotation publishes first, switches at activation, unpublishes after the token lifetime', async () => {
    const before = await loadProviderKeys(directory.signingKeys, clock);
    const t0 = clock.now();
    const rotation = await rotateSigningKeys({
      directory,
      clock,
      activationDelayMs: 15 * MINUTE,
      tokenLifetimeMs: 11 * MINUTE,
    });
    assert.equal(rotation.activatesAt, t0 + 15 * MINUTE);
    assert.deepEqual(rotation.retired, [
      { kid: before.signingKid, retiredAt: t0 + 15 * MINUTE, expiresAt: t0 + 26 * MINUTE },
    ]);
    const keys = await directory.signingKeys.list();
    const at = (ms: number) => selectProviderKeys(keys, t0 + ms);

    const pending = at(0);
    assert.equal(pending?.signingKid, before.signingKid, 'the old key still signs');
    assert.deepEqual(pending?.publishedKids, [before.signingKid, rotation.kid]);
    assert.equal(pending?.nextChangeAt, t0 + 15 * MINUTE);

    const switched = at(15 * MINUTE);
    assert.equal(switched?.signingKid, rotation.kid);
    assert.deepEqual(switched?.publishedKids, [rotation.kid, before.signingKid]);
    assert.equal(switched?.nextChangeAt, t0 + 26 * MINUTE);
    assert.equal(switched?.jwks.keys[0]?.kid, rotation.kid, 'the signer is first in the keystore');

    assert.deepEqual(at(26 * MINUTE)?.publishedKids, [rotation.kid]);
    clock.advance(26 * MINUTE);
    const loaded = await loadProviderKeys(directory.signingKeys, clock);
    assert.deepEqual(loaded.publishedKids, [rotation.kid]);
    assert.deepEqual(
      (await directory.signingKeys.list()).map((k) => k.kid),
      [rotation.kid],
      'expired keys are pruned',
    );
  });

  it('a second rotation before the first activates keeps exactly one signer at any time', async () => {
    const t0 = clock.now();
    const a = await rotateSigningKeys({
      directory,
      clock,
      activationDelayMs: 10 * MINUTE,
      tokenLifetimeMs: MINUTE,
    });
    clock.advance(5 * MINUTE);
    const b = await rotateSigningKeys({
      directory,
      clock,
      activationDelayMs: 10 * MINUTE,
      tokenLifetimeMs: MINUTE,
    });
    const keys = await directory.signingKeys.list();
    for (let ms = 0; ms <= 20 * MINUTE; ms += MINUTE) {
      const selected = selectProviderKeys(keys, t0 + ms);
      assert.ok(selected !== undefined, `a signer at +${ms / MINUTE}m`);
      const expected = ms < 10 * MINUTE ? undefined : ms < 15 * MINUTE ? a.kid : b.kid;
      if (expected !== undefined) assert.equal(selected.signingKid, expected, `+${ms / MINUTE}m`);
      assert.ok(
        selected.publishedKids.includes(b.kid),
        'the newest key is published from the start',
      );
    }
  });

  it('refuses nonsense lifetimes', async () => {
    await assert.rejects(
      rotateSigningKeys({ directory, clock, activationDelayMs: -1, tokenLifetimeMs: MINUTE }),
      (error) => error instanceof PgkeyError && error.code === 'ERR_USAGE',
    );
    await assert.rejects(
      rotateSigningKeys({ directory, clock, tokenLifetimeMs: 0 }),
      (error) => error instanceof PgkeyError && error.code === 'ERR_USAGE',
    );
  });
});

describe('a running provider across a rotation', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ keyPollMs: 60 * MINUTE });
  });
  after(() => h.close());

  const jwksKids = async (): Promise<string[]> => {
    const jwks = (await (await fetch(new URL('/jwks', h.issuer))).json()) as {
      keys: { kid: string; d?: string }[];
    };
    assert.ok(
      jwks.keys.every((key) => key.d === undefined),
      'JWKS holds public keys only',
    );
    return jwks.keys.map((key) => key.kid);
  };
  const kidOf = (tokens: Record<string, unknown>): unknown =>
    decodeJwt(tokens.access_token).header.kid;

  it('new key in JWKS before it signs; old key kept until its tokens expire', async (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const advance = (ms: number) => t.mock.timers.setTime(Date.now() + ms);
    const oldKid = h.idp.signingKid();
    assert.equal(kidOf(await h.login()), oldKid);

    const rotation = await rotateSigningKeys({
      directory: h.directory,
      clock: { now: () => Date.now(), setTimer: () => () => undefined },
      activationDelayMs: 15 * MINUTE,
      tokenLifetimeMs: 11 * MINUTE,
    });
    await h.idp.reloadKeys();
    assert.deepEqual(await jwksKids(), [oldKid, rotation.kid], 'published, not yet signing');
    advance(14 * MINUTE);
    await h.idp.reloadKeys();
    const lastOld = await h.login();
    assert.equal(kidOf(lastOld), oldKid, 'the old key signs until the activation instant');

    advance(1 * MINUTE);
    await h.idp.reloadKeys();
    assert.equal(h.idp.signingKid(), rotation.kid);
    assert.deepEqual(await jwksKids(), [rotation.kid, oldKid]);
    const after = await h.login();
    assert.equal(kidOf(after), rotation.kid);
    const verifier = await h.verifier();
    assert.equal((await verifier.verify(String(after.access_token))).subject, h.user.id);
    advance(8 * MINUTE);
    assert.equal((await verifier.verify(String(lastOld.access_token))).subject, h.user.id);

    advance(3 * MINUTE); // activation + 11 min: every token of the old key has expired
    await h.idp.reloadKeys();
    assert.deepEqual(await jwksKids(), [rotation.kid], 'the old key is gone after its tokens');
    await assert.rejects((await h.verifier()).verify(String(lastOld.access_token)));
  });

  it('tokens signed before a rotation verify at the gateway until they expire', async (t) => {
    // Its own provider: the test before moved the directory's keys into the (mocked) future.
    const fresh = await startHarness({ keyPollMs: 60 * MINUTE });
    t.after(() => fresh.close());
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
    const advance = (ms: number) => t.mock.timers.setTime(Date.now() + ms);
    const verifier = await fresh.verifier();
    const before = await fresh.login();
    assert.ok(await verifier.verify(String(before.access_token)));
    await rotateSigningKeys({
      directory: fresh.directory,
      clock: { now: () => Date.now(), setTimer: () => () => undefined },
      activationDelayMs: 0,
      tokenLifetimeMs: 11 * MINUTE,
    });
    await fresh.idp.reloadKeys();
    const after = await fresh.login();
    assert.notEqual(kidOf(after), kidOf(before));
    // The same verifier (cached JWKS) meets an unknown kid, refetches, and accepts both.
    assert.ok(await verifier.verify(String(after.access_token)));
    advance(9 * MINUTE);
    assert.ok(await verifier.verify(String(before.access_token)));
  });

  it('picks up a rotation made by another process at its next key poll', async () => {
    const polled = await startHarness({ keyPollMs: 50 });
    try {
      const rotation = await rotateSigningKeys({
        directory: polled.directory,
        clock: { now: () => Date.now(), setTimer: () => () => undefined },
        activationDelayMs: 0,
        tokenLifetimeMs: MINUTE,
      });
      for (let i = 0; i < 100 && polled.idp.signingKid() !== rotation.kid; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(polled.idp.signingKid(), rotation.kid);
      assert.equal(kidOf(await polled.login()), rotation.kid);
    } finally {
      await polled.close();
    }
  });
});
