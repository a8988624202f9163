import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { DirectoryChange } from '../../src/store/directory.ts';
import { openSqliteDirectory } from '../../src/store/sqlite-directory.ts';
import { CliFixture, ICLOUD } from './cli-fixture.ts';

let fx: CliFixture;
beforeEach(async () => {
  fx = await CliFixture.create();
  await fx.run('users', 'add', 'ada@example.com');
  await fx.run('users', 'add', 'bob@example.com');
  await fx.addKey('ada@example.com', 'AAAAAAAAAAAAxyz-yubikey-ada');
  await fx.addKey('bob@example.com', 'AAAAAAAAAAAAqrs-passkey-bob', {
    aaguid: ICLOUD,
    backupEligible: true,
    backupState: true,
    attested: false,
    attestationFormat: 'none',
    name: 'iPhone',
  });
});
afterEach(async () => {
  await fx.close();
});

async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  for (const deadline = Date.now() + ms; !condition();) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('pgkey keys list', () => {
  it('shows every key by owner: prefix id, model, times, device-bound, attested, state', async () => {
    await fx.directory.credentials.recordUse('AAAAAAAAAAAAxyz-yubikey-ada', {
      previousSignCount: 0,
      signCount: 1,
      backupState: false,
      now: Date.UTC(2026, 1, 3, 8, 0, 59),
    });
    await fx.directory.credentials.flag('AAAAAAAAAAAAqrs-passkey-bob', 'sign_count_regression');
    const run = await fx.run('keys', 'list');
    assert.equal(run.code, 0, run.stderr);
    assert.equal(
      run.stdout,
      [
        // 12 characters do not tell the two ids apart: the column grows to 13.
        'ID             OWNER            NAME       MODEL             ADDED              LAST USED          DEVICE-BOUND  ATTESTED  STATE',
        'AAAAAAAAAAAAx  ada@example.com  YubiKey 5  YubiKey 5 Series  2026-01-02T09:30Z  2026-02-03T08:00Z  yes           yes       active',
        'AAAAAAAAAAAAq  bob@example.com  iPhone     iCloud Keychain   2026-01-02T09:30Z  -                  no            no        flagged: sign_count_regression',
        '',
      ].join('\n'),
    );
    const only = await fx.run('keys', 'list', 'bob@example.com');
    assert.equal(only.stdout.split('\n').length, 3, 'header, one key, end');
    assert.match(only.stdout, /iPhone/);
  });

  it('gives full records in JSON, and says when there is nothing to list', async () => {
    const { code, body } = await fx.json('keys', 'list', 'ada@example.com');
    assert.equal(code, 0);
    const keys = body.keys as Record<string, unknown>[];
    assert.equal(keys.length, 1);
    const ada = await fx.user('ada@example.com');
    assert.deepEqual(keys[0], {
      id: 'AAAAAAAAAAAAxyz-yubikey-ada',
      userId: ada.id,
      owner: 'ada@example.com',
      name: 'YubiKey 5',
      model: 'YubiKey 5 Series',
      aaguid: 'cb69481e-8ff7-4039-93ec-0a2729a154a8',
      createdAt: '2026-01-02T09:30:15.000Z',
      lastUsedAt: null,
      deviceBound: true,
      backupEligible: false,
      backedUp: false,
      attested: true,
      attestationFormat: 'packed',
      transports: ['usb'],
      signCount: 0,
      state: 'active',
      revokedAt: null,
      revokedReason: null,
      flaggedReason: null,
    });
    await fx.run('users', 'add', 'carol@example.com');
    const none = await fx.run('keys', 'list', 'carol@example.com');
    assert.equal(
      none.stdout,
      'carol@example.com has no keys: `pgkey users invite carol@example.com` creates an enrollment link\n',
    );
    assert.equal((await fx.run('keys', 'list', 'nobody@example.com')).code, 1);
  });
});

describe('pgkey keys revoke', () => {
  it('revokes by prefix and another directory on the file (the running server) hears it within a second', async () => {
    const server = await openSqliteDirectory(fx.directoryFile);
    try {
      const heard: DirectoryChange[] = [];
      server.subscribe((c) => heard.push(c));
      const run = await fx.run('keys', 'revoke', 'AAAAAAAAAAAAx', '--reason', 'lost on a train');
      assert.equal(run.code, 0, run.stderr);
      assert.equal(
        run.stdout,
        'revoked key AAAAAAAAAAAAxyz-yubikey-ada (YubiKey 5) of ada@example.com: lost on a train\n' +
          'its tokens are refused and a running pgkey ends its sessions within a second\n',
      );
      const ada = await fx.user('ada@example.com');
      const expected = {
        kind: 'credential.revoked',
        userId: ada.id,
        credentialId: 'AAAAAAAAAAAAxyz-yubikey-ada',
        reason: 'lost on a train',
      };
      await until(() => heard.length > 0, 1000, 'the revoke from the CLI');
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.deepEqual(heard, [expected], 'exactly once');
    } finally {
      await server.close();
    }
    const key = await fx.directory.credentials.get('AAAAAAAAAAAAxyz-yubikey-ada');
    assert.equal(key?.revokedReason, 'lost on a train');
    const audit = (await readFile(join(fx.dir, 'pgkey-data', 'audit.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(
      audit
        .filter((e) => e.type === 'key.revoked')
        .map((e) => [
          e.type,
          e.user,
          e.credential_id,
          e.reason,
          String(e.actor).startsWith('cli:'),
        ]),
      [['key.revoked', 'ada@example.com', 'AAAAAAAAAAAAxyz-yubikey-ada', 'lost on a train', true]],
      'the revocation is in the audit trail, once, with who did it',
    );

    const again = await fx.json(
      'keys',
      'revoke',
      'AAAAAAAAAAAAxyz-yubikey-ada',
      '--reason',
      'other',
    );
    assert.equal(again.code, 0);
    assert.equal(again.body.alreadyRevoked, true);
    const record = again.body.key as Record<string, unknown>;
    assert.equal(record.state, 'revoked');
    assert.equal(record.revokedReason, 'lost on a train', 'the first reason stands');
    const list = await fx.run('keys', 'list', 'ada@example.com');
    assert.match(list.stdout, /revoked: lost on a train\n$/);
  });

  it('refuses an ambiguous or short prefix (exit 2) and an unknown key (exit 1)', async () => {
    const ambiguous = await fx.run('keys', 'revoke', 'AAAAAAAAAAAA');
    assert.equal(ambiguous.code, 2);
    assert.equal(
      ambiguous.stderr,
      'pgkey: AAAAAAAAAAAA matches 2 keys: give more of the id\n' +
        '  ID                           OWNER            NAME\n' +
        '  AAAAAAAAAAAAqrs-passkey-bob  bob@example.com  iPhone\n' +
        '  AAAAAAAAAAAAxyz-yubikey-ada  ada@example.com  YubiKey 5\n' +
        'usage: pgkey keys revoke KEY_ID|PREFIX [--reason TEXT] [--config FILE] [--json]\n',
    );
    const short = await fx.run('keys', 'revoke', 'AAAAAAA');
    assert.equal(short.code, 2);
    assert.match(short.stderr, /at least 8 characters/);
    const unknown = await fx.json('keys', 'revoke', 'BBBBBBBBBB');
    assert.equal(unknown.code, 1);
    assert.equal((unknown.body.error as Record<string, unknown>).code, 'ERR_NOT_FOUND');
    const junk = await fx.run('keys', 'revoke', 'not a key id');
    assert.equal(junk.code, 2);
    const keys = await fx.directory.credentials.list();
    assert.ok(
      keys.every((k) => k.revokedAt === undefined),
      'nothing was revoked',
    );
  });
});
