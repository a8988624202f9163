import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterEach, describe, it } from 'node:test';
import { CliFixture, ISSUER } from './cli-fixture.ts';

let fx: CliFixture | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});

const HOUR = 3_600_000;
const LINK = new RegExp(`^${ISSUER}/enroll/([A-Za-z0-9_-]{43})$`);

describe('pgkey users invite', () => {
  it('adds a missing person and prints a single-use link whose secret the directory never stores', async () => {
    fx = await CliFixture.create();
    const before = Date.now();
    const run = await fx.run('users', 'invite', 'carol@example.com', '--name', 'Carol');
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split('\n');
    assert.match(
      lines[0] ?? '',
      /^added and invited carol@example\.com; single-use link, expires \d{4}-\d\d-\d\dT\d\d:\d\dZ \(in 3d\):$/,
    );
    const link = (lines[1] ?? '').trim();
    const secret = LINK.exec(link)?.[1];
    assert.ok(secret !== undefined, `link shape: ${link}`);
    assert.equal(Buffer.from(secret, 'base64url').length, 32);
    assert.match(lines[2] ?? '', /channel you trust/);

    const carol = await fx.user('carol@example.com');
    assert.equal(carol.displayName, 'Carol');
    const [invite, ...others] = await fx.directory.invites.list();
    assert.equal(others.length, 0);
    assert.ok(invite !== undefined);
    assert.equal(invite.email, 'carol@example.com');
    assert.equal(invite.usedAt, undefined);
    assert.match(invite.createdBy, /^cli:.+/);
    assert.equal(
      invite.tokenHash,
      createHash('sha256').update(secret).digest('base64url'),
      'SHA-256 of the secret in the link',
    );
    // idp.invite_ttl defaults to 72h.
    assert.ok(invite.expiresAt >= before + 72 * HOUR && invite.expiresAt <= Date.now() + 72 * HOUR);

    // Nowhere in the file: not in a column, not in the write-ahead log.
    for (const suffix of ['', '-wal']) {
      const bytes: Buffer = await readFile(fx.directoryFile + suffix).catch(() => Buffer.alloc(0));
      assert.equal(bytes.includes(secret), false, `secret in directory.db${suffix}`);
    }
    const hash = invite.tokenHash;
    assert.equal(
      (await fx.directory.invites.consume(hash, Date.now()))?.email,
      'carol@example.com',
    );
    assert.equal(await fx.directory.invites.consume(hash, Date.now()), undefined, 'single use');
  });

  it('invites an existing person again with a fresh link, expiring after --ttl or idp.invite_ttl', async () => {
    fx = await CliFixture.create({ idp: { invite_ttl: '24h' } });
    await fx.run('users', 'add', 'dan@example.com');
    const dan = await fx.user('dan@example.com');
    const first = await fx.json('users', 'invite', 'dan@example.com');
    assert.equal(first.code, 0);
    assert.equal(first.body.userCreated, false);
    assert.equal(first.body.userId, dan.id);
    assert.match(String(first.body.link), LINK);
    const firstExpiry = Date.parse(String(first.body.expiresAt));
    assert.ok(Math.abs(firstExpiry - (Date.now() + 24 * HOUR)) < 60_000, 'idp.invite_ttl');

    const second = await fx.json('users', 'invite', 'dan@example.com', '--ttl', '30m');
    assert.notEqual(second.body.link, first.body.link);
    const secondExpiry = Date.parse(String(second.body.expiresAt));
    assert.ok(Math.abs(secondExpiry - (Date.now() + 30 * 60_000)) < 60_000, '--ttl');
    assert.equal((await fx.directory.users.list()).length, 1, 'no second user');
    assert.equal((await fx.directory.invites.list()).length, 2);

    for (const ttl of ['soon', '0s', '10s']) {
      const bad = await fx.run('users', 'invite', 'dan@example.com', '--ttl', ttl);
      assert.equal(bad.code, 2, ttl);
      assert.match(bad.stderr, /--ttl: expected a duration/);
    }
  });

  it('refuses to invite a disabled person (ERR_CONFLICT, exit 1)', async () => {
    fx = await CliFixture.create();
    await fx.run('users', 'add', 'eve@example.com');
    await fx.run('users', 'disable', 'eve@example.com');
    const run = await fx.run('users', 'invite', 'eve@example.com');
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^pgkey: eve@example.com is disabled/);
    assert.match(run.stderr, /hint: enable them first: pgkey users enable eve@example.com/);
    assert.deepEqual(await fx.directory.invites.list(), []);
  });

  it('says the idp section is missing when there is none (ERR_CONFIG, exit 78)', async () => {
    fx = await CliFixture.create({ idp: false });
    const run = await fx.run('users', 'invite', 'x@example.com');
    assert.equal(run.code, 78);
    assert.match(
      run.stderr,
      /^pgkey: .*pgkey\.yaml has no `idp` section: the invite link points at/,
    );
    assert.match(run.stderr, /hint: set idp\.issuer/);
    const json = await fx.json('users', 'invite', 'x@example.com');
    assert.equal((json.body.error as Record<string, unknown>).code, 'ERR_CONFIG');
    assert.equal(await fx.directory.users.findByEmail('x@example.com'), undefined);
  });
});
