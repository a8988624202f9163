import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';
import { openDirectory } from '../../src/store/open-directory.ts';
import { openSqliteDirectory } from '../../src/store/sqlite-directory.ts';
import { SQLITE_MIGRATIONS } from '../../src/store/migrations.ts';
import { T0, credential, race } from './contract-support.ts';
import { directoryContract } from './directory.contract.ts';

let root: string;
let files = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'pgkey-sqlite-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});
const nextFile = () => join(root, `d${++files}`, 'directory.db');

directoryContract('sqlite', async () => {
  const file = nextFile();
  const directory = await openSqliteDirectory(file);
  return {
    directory,
    another: () => openSqliteDirectory(file),
    cleanup: () => directory.close(),
  };
});

const invite = {
  id: 'inv-1',
  tokenHash: 'hash-1',
  email: 'a@example.com',
  createdBy: 'admin',
  createdAt: T0,
  expiresAt: T0 + 3_600_000,
};

describe('sqlite directory file', () => {
  it('creates the file 0600 in a new 0700 directory, in WAL mode, and reopens it with its data', async () => {
    const file = nextFile();
    const first = await openSqliteDirectory(file);
    assert.equal(first.kind, 'sqlite');
    await first.users.create({ id: 'u', email: 'u@example.com', displayName: 'U', now: T0 });
    for (const companion of ['-wal', '-shm']) {
      assert.equal((await stat(file + companion)).mode & 0o777, 0o600, companion);
    }
    await first.close();
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(join(file, '..'))).mode & 0o777, 0o700);
    const raw = new DatabaseSync(file, { readOnly: true });
    assert.deepEqual({ ...raw.prepare('PRAGMA journal_mode').get() }, { journal_mode: 'wal' });
    assert.deepEqual(
      raw
        .prepare('SELECT version FROM schema_version')
        .all()
        .map((r) => r.version),
      SQLITE_MIGRATIONS.map((m) => m.version),
    );
    raw.close();
    const again = await openSqliteDirectory(file);
    assert.equal((await again.users.get('u'))?.email, 'u@example.com');
    await again.close();
  });

  it('refuses an existing file that other users can read', async () => {
    const file = nextFile();
    await (await openSqliteDirectory(file)).close();
    await chmod(file, 0o644);
    await assert.rejects(openSqliteDirectory(file), (error) => {
      assert.ok(isPgkeyError(error, 'ERR_CONFIG'));
      assert.match(error.message, /mode 0644/);
      assert.equal(error.hint, `chmod 600 ${file}`);
      return true;
    });
  });

  it('refuses a file migrated by a newer pgkey', async () => {
    const file = nextFile();
    await (await openSqliteDirectory(file)).close();
    const raw = new DatabaseSync(file);
    raw.exec("INSERT INTO schema_version VALUES (999, 'from the future', 0)");
    raw.close();
    await assert.rejects(openSqliteDirectory(file), (error) => {
      assert.ok(isPgkeyError(error, 'ERR_STORE_UNAVAILABLE'));
      assert.equal(error.reason, 'schema_too_new');
      return true;
    });
  });

  it('is what openDirectory opens for a `directory.sqlite` config', async () => {
    const file = nextFile();
    const directory = await openDirectory({ sqlite: { file } });
    assert.equal(directory.kind, 'sqlite');
    await directory.close();
    assert.equal((await stat(file)).mode & 0o777, 0o600);
  });
});

describe('two sqlite directories on one file (two processes)', () => {
  it('hand an invite and a credential id to exactly one of them', async () => {
    const file = nextFile();
    const a = await openSqliteDirectory(file);
    const b = await openSqliteDirectory(file);
    try {
      await a.invites.create(invite);
      const consumed = await race(20, (i) => (i % 2 ? a : b).invites.consume('hash-1', T0 + 1));
      assert.equal(consumed.lost.length, 0);
      assert.equal(consumed.won.filter((x) => x !== undefined).length, 1);

      await a.users.create({ id: 'ua', email: 'a@x.test', displayName: 'A', now: T0 });
      await b.users.create({ id: 'ub', email: 'b@x.test', displayName: 'B', now: T0 });
      const added = await race(20, (i) =>
        (i % 2 ? a : b).credentials.add(credential(i % 2 ? 'ua' : 'ub', 'contested')),
      );
      assert.equal(added.won.length, 1);
      assert.ok(added.lost.every((e) => isPgkeyError(e, 'ERR_CONFLICT')));
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('hand an invite to exactly one of four real processes consuming at once', async () => {
    const file = nextFile();
    const setup = await openSqliteDirectory(file);
    await setup.invites.create(invite);
    await setup.close();
    const results = await consumeFromProcesses(file, 4);
    assert.deepEqual(results.sort(), ['none', 'none', 'none', 'used']);
  });
});

const CHILD = `
import { createInterface } from 'node:readline';
const { openSqliteDirectory } = await import(process.argv[1]);
const directory = await openSqliteDirectory(process.argv[2]);
process.stdout.write('ready\\n');
for await (const _ of createInterface({ input: process.stdin })) break;
const invite = await directory.invites.consume('hash-1', ${T0 + 1});
process.stdout.write((invite === undefined ? 'none' : 'used') + '\\n');
await directory.close();
`;

/** Starts `count` processes, lets each open the file, then releases them all at once. */
async function consumeFromProcesses(file: string, count: number): Promise<string[]> {
  const module = new URL('../../src/store/sqlite-directory.ts', import.meta.url).pathname;
  const children = Array.from({ length: count }, () =>
    spawn(process.execPath, ['--input-type=module', '-e', CHILD, module, file], {
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  const lines = children.map((child) =>
    createInterface({ input: child.stdout })[Symbol.asyncIterator](),
  );
  const next = async (i: number): Promise<unknown> => (await lines[i]?.next())?.value;
  assert.deepEqual(await Promise.all(children.map((_, i) => next(i))), Array(count).fill('ready'));
  for (const child of children) child.stdin.end('go\n');
  const results = await Promise.all(children.map((_, i) => next(i)));
  await Promise.all(
    children.map((child) =>
      child.exitCode === null
        ? new Promise((resolve) => child.once('exit', resolve))
        : Promise.resolve(),
    ),
  );
  return results.map(String);
}
