// The token cache on disk: 0600 in a 0700 directory, atomic replacement, refusal of a file
// others can read (with the chmod to run), of links and of damage; another issuer's cache
// is no cache.
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  cacheEntry,
  readTokenCache,
  removeTokenCache,
  tokenCacheFile,
  writeTokenCache,
  type CachedTokens,
} from '../../src/client/token-cache.ts';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';

const ISSUER = 'https://login.example.com';

function entry(n: number): CachedTokens {
  return {
    version: 1,
    issuer: ISSUER,
    client_id: 'pgkey-cli',
    access_token: `access-${n}-${'x'.repeat(2000)}`,
    refresh_token: `refresh-${n}`,
    expires_at: 1_800_000_000_000 + n,
    obtained_at: 1_700_000_000_000,
    via: 'loopback',
    identity: { sub: 'u1', email: 'ada@example.com', auth_time: 1_700_000_000 },
  };
}

describe('token cache files', () => {
  let home: string;
  const profile = (name = 't') => ({ home, name, issuer: ISSUER, client_id: 'pgkey-cli' });
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'pgkey-cache-'));
  });
  after(() => rm(home, { recursive: true, force: true }));

  it('is written 0600 in a 0700 directory and read back', async () => {
    await writeTokenCache(profile(), entry(1));
    const file = tokenCacheFile(profile());
    assert.equal(file, join(home, 'tokens', 't.json'));
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(join(home, 'tokens'))).mode & 0o777, 0o700);
    assert.deepEqual(await readTokenCache(profile()), entry(1));
  });

  it('a file group or others can read is refused, with the chmod to run', async () => {
    const file = tokenCacheFile(profile());
    await chmod(file, 0o644);
    await assert.rejects(readTokenCache(profile()), (error: unknown) => {
      assert.ok(isPgkeyError(error, 'ERR_FILE'));
      assert.match(error.message, /readable by other users \(mode 0644\)/);
      assert.match(error.hint ?? '', new RegExp(`^chmod 600 ${file}`));
      return true;
    });
    await chmod(file, 0o640);
    await assert.rejects(readTokenCache(profile()), /mode 0640/);
    await chmod(file, 0o600);
    assert.ok(await readTokenCache(profile()));
  });

  it('rewriting restores 0600 (a new file, not the old inode)', async () => {
    const file = tokenCacheFile(profile());
    await chmod(file, 0o644);
    await writeTokenCache(profile(), entry(2));
    assert.equal((await stat(file)).mode & 0o777, 0o600);
  });

  it('writes are atomic: concurrent writers leave one whole entry and no temp files', async () => {
    await Promise.all(Array.from({ length: 20 }, (_, n) => writeTokenCache(profile(), entry(n))));
    const read = await readTokenCache(profile());
    assert.ok(read);
    const n = read.expires_at - 1_800_000_000_000;
    assert.deepEqual(read, entry(n), 'exactly one writer’s entry, whole');
    assert.deepEqual(await readdir(join(home, 'tokens')), ['t.json']);
  });

  it('a link is not followed, damage and foreign issuers are handled', async () => {
    const target = join(home, 'elsewhere.json');
    await writeFile(target, JSON.stringify(entry(3)), { mode: 0o600 });
    await symlink(target, tokenCacheFile(profile('linked')));
    await assert.rejects(readTokenCache(profile('linked')), /not a link/);

    await writeFile(tokenCacheFile(profile('broken')), '{"version": 1', { mode: 0o600 });
    await assert.rejects(readTokenCache(profile('broken')), (error: unknown) => {
      assert.ok(isPgkeyError(error, 'ERR_LOGIN_REQUIRED'));
      assert.match(error.message, /is damaged/);
      return true;
    });

    await writeTokenCache(profile('moved'), entry(4));
    const elsewhere = { ...profile('moved'), issuer: 'https://other.example.com' };
    assert.equal(await readTokenCache(elsewhere), undefined);
    assert.equal(await readTokenCache(profile('none')), undefined);
  });

  it('removal reports whether there was a cache', async () => {
    await writeTokenCache(profile('gone'), entry(5));
    assert.equal(await removeTokenCache(profile('gone')), true);
    assert.equal(await removeTokenCache(profile('gone')), false);
  });

  it('never holds the ID token, only its summary', async () => {
    const made = cacheEntry(
      { issuer: ISSUER, client_id: 'pgkey-cli' },
      {
        accessToken: 'opaque',
        refreshToken: undefined,
        expiresIn: 600,
        scope: 'openid',
        idTokenClaims: { sub: 's', email: 'e@example.com', auth_time: 123, acr: 'phr', nonce: 'n' },
      },
      'device',
      1_000_000,
    );
    assert.equal(made.expires_at, 1_000_000 + 600_000);
    assert.deepEqual(made.identity, {
      sub: 's',
      email: 'e@example.com',
      auth_time: 123,
      acr: 'phr',
    });
    await writeTokenCache(profile('summary'), made);
    const text = await readFile(tokenCacheFile(profile('summary')), 'utf8');
    assert.doesNotMatch(text, /nonce|id_token"/);

    // A refresh without an ID token keeps the login summary and the old refresh token.
    const refreshed = cacheEntry(
      { issuer: ISSUER, client_id: 'pgkey-cli' },
      {
        accessToken: 'opaque-2',
        refreshToken: undefined,
        expiresIn: undefined,
        scope: undefined,
        idTokenClaims: undefined,
      },
      'refresh',
      2_000_000,
      { ...made, refresh_token: 'r1' },
    );
    assert.equal(refreshed.refresh_token, 'r1');
    assert.equal(refreshed.identity.auth_time, 123);
    assert.equal(refreshed.expires_at, 2_000_000 + 5 * 60_000, 'unknown lifetime: 5 min assumed');
  });
});
