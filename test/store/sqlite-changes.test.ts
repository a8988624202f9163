/**
 * The sqlite change feed between processes on one file (sqlite-changes.ts): the admin CLI
 * revokes, the running server hears it. The contract covers two directories in one process;
 * here a real second process, the poll's start and stop, and the feed rows themselves.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { ManualClock, systemClock, type Clock } from '../../src/runtime/clock.ts';
import type { DirectoryChange } from '../../src/store/directory.ts';
import {
  openSqliteDirectory,
  type SqliteDirectoryOptions,
} from '../../src/store/sqlite-directory.ts';
import { T0, credential, settle, within } from './contract-support.ts';

let root: string;
let files = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'pgkey-sqlite-changes-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});
const nextFile = () => join(root, `d${++files}`, 'directory.db');

/** The system clock, counting the timers armed and not yet fired or cancelled. */
function countingClock(): { clock: Clock; pending: () => number } {
  let pending = 0;
  const clock: Clock = {
    now: () => systemClock.now(),
    setTimer(ms, fn) {
      let live = true;
      const done = () => {
        if (live) pending--;
        live = false;
      };
      pending++;
      const cancel = systemClock.setTimer(ms, () => {
        done();
        fn();
      });
      return () => {
        done();
        cancel();
      };
    },
  };
  return { clock, pending: () => pending };
}

const REVOKE = `
const { openSqliteDirectory } = await import(process.argv[1]);
const directory = await openSqliteDirectory(process.argv[2]);
await directory.credentials.revoke('k1', 'revoked from the CLI', ${T0});
await directory.close();
process.stdout.write('revoked\\n');
`;

function revokeInChildProcess(file: string): Promise<void> {
  const module = new URL('../../src/store/sqlite-directory.ts', import.meta.url).pathname;
  const child = spawn(process.execPath, ['--input-type=module', '-e', REVOKE, module, file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (data: Buffer) => {
      if (data.toString().includes('revoked')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`child exited ${code} before revoking`)));
  });
}

async function withUser(file: string, options: SqliteDirectoryOptions = {}) {
  const directory = await openSqliteDirectory(file, options);
  await directory.users.create({ id: 'u', email: 'u@example.com', displayName: 'U', now: T0 });
  await directory.credentials.add(credential('u', 'k1'));
  await directory.credentials.add(credential('u', 'k2'));
  return directory;
}

describe('sqlite change feed between processes', () => {
  it("delivers a revoke made by another process to this one's subscriber within a second, once", async () => {
    const file = nextFile();
    // A test's frozen clock does not hold the poll back.
    const server = await withUser(file, { clock: new ManualClock(T0) });
    try {
      const seen: DirectoryChange[] = [];
      server.subscribe((c) => seen.push(c));
      await revokeInChildProcess(file);
      await within(1000, () => seen.length > 0, 'the revoke from the child process');
      for (let i = 0; i < 3; i++) await settle();
      assert.deepEqual(seen, [
        {
          kind: 'credential.revoked',
          userId: 'u',
          credentialId: 'k1',
          reason: 'revoked from the CLI',
        },
      ]);
    } finally {
      await server.close();
    }
  });

  it('polls only while someone is subscribed, and what changed in between is history', async () => {
    const file = nextFile();
    const { clock, pending } = countingClock();
    const server = await withUser(file, { pollClock: clock });
    const cli = await openSqliteDirectory(file);
    try {
      assert.equal(pending(), 0, 'no subscriber: no poll');
      const first: DirectoryChange[] = [];
      const stop = server.subscribe((c) => first.push(c));
      const stopToo = server.subscribe(() => undefined);
      assert.equal(pending(), 1, 'one poll, however many subscribers');
      stop();
      assert.equal(pending(), 1, 'a subscriber remains');
      stopToo();
      assert.equal(pending(), 0, 'the last one left: polling stopped');

      await cli.credentials.revoke('k1', 'while nobody listened', T0);
      await settle();
      await settle();
      assert.equal(pending(), 0);
      const second: DirectoryChange[] = [];
      server.subscribe((c) => second.push(c));
      assert.equal(pending(), 1);
      await cli.credentials.revoke('k2', 'after subscribing', T0);
      await within(1000, () => second.length > 0, 'the second revoke');
      await settle();
      await settle();
      assert.deepEqual(first, []);
      assert.deepEqual(
        second.map((c) => c.kind === 'credential.revoked' && c.reason),
        ['after subscribing'],
      );
    } finally {
      await cli.close();
      await server.close();
    }
    assert.equal(pending(), 0, 'closing stops polling');
  });

  it('writes one feed row per change, none for a failed one, and prunes rows after a day', async () => {
    const file = nextFile();
    const clock = new ManualClock(T0);
    const directory = await withUser(file, { clock });
    const rows = () => {
      const raw = new DatabaseSync(file, { readOnly: true });
      try {
        return raw
          .prepare('SELECT kind, credential_id, created_at FROM changes ORDER BY seq')
          .all();
      } finally {
        raw.close();
      }
    };
    try {
      await directory.credentials.revoke('k1', 'lost', T0);
      await assert.rejects(directory.credentials.revoke('nope', 'lost', T0));
      assert.deepEqual(
        rows().map((r) => ({ ...r })),
        [{ kind: 'credential.revoked', credential_id: 'k1', created_at: T0 }],
      );
      clock.advance(24 * 3_600_000 + 1);
      await directory.users.setDisabled('u', true, 'gone', clock.now());
      assert.deepEqual(
        rows().map((r) => r.kind),
        ['user.disabled'],
      );
    } finally {
      await directory.close();
    }
  });

  it('skips a feed row of a kind it does not know (written by a newer pgkey)', async () => {
    const file = nextFile();
    const server = await withUser(file);
    try {
      const seen: DirectoryChange[] = [];
      server.subscribe((c) => seen.push(c));
      const raw = new DatabaseSync(file);
      raw
        .prepare(
          "INSERT INTO changes (origin, kind, user_id, created_at) VALUES ('future', 'user.renamed', 'u', 0)",
        )
        .run();
      raw.close();
      const cli = await openSqliteDirectory(file);
      await cli.users.setDisabled('u', true, 'gone', T0);
      await cli.close();
      await within(1000, () => seen.length > 0, 'the change after the unknown one');
      assert.deepEqual(seen, [{ kind: 'user.disabled', userId: 'u', reason: 'gone' }]);
    } finally {
      await server.close();
    }
  });
});
