import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';
import { ManualClock, type Clock } from '../../src/runtime/clock.ts';
import type { Directory, DirectoryChange } from '../../src/store/directory.ts';
import { openDirectory } from '../../src/store/open-directory.ts';
import { openPostgresDirectory } from '../../src/store/postgres-directory.ts';
import { POSTGRES_MIGRATIONS } from '../../src/store/migrations.ts';
import { startPgCluster, type PgCluster } from '../support/pg-cluster.ts';
import { T0, credential, race, settle } from './contract-support.ts';
import { directoryContract } from './directory.contract.ts';

let cluster: PgCluster;
let schemas = 0;
before(async () => {
  cluster = await startPgCluster({ auth: 'scram' });
});
after(async () => {
  await cluster.stop();
});

/** Superuser over the unix socket (trust), as the cluster's own setup connects. */
const pool = () => ({
  host: cluster.socketDir,
  port: cluster.port,
  user: 'postgres',
  database: 'postgres',
});
const freshSchema = () => `directory_test_${++schemas}`;
const open = (schema: string) => openPostgresDirectory({ pool: pool(), schema });

directoryContract('postgres', async () => {
  const schema = freshSchema();
  const directory = await open(schema);
  return {
    directory,
    another: () => open(schema),
    async cleanup() {
      await directory.close();
      await cluster.query(`DROP SCHEMA ${schema} CASCADE`);
    },
  };
});

/** Resolves with the first change `directory` delivers, or rejects after `ms`. */
function nextChange(directory: Directory, ms: number): Promise<DirectoryChange> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no change within ${ms} ms`)), ms);
    const stop = directory.subscribe((change) => {
      clearTimeout(timer);
      stop();
      resolve(change);
    });
  });
}

async function listeners(): Promise<number> {
  const result = await cluster.query(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'pgkey directory listener'",
  );
  return Number(result.rows[0]?.n);
}

async function until(condition: () => Promise<boolean>, ms = 5000): Promise<void> {
  for (const deadline = Date.now() + ms; !(await condition());) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Two nodes on one fresh schema, with user `u`; closed when `test` is done. */
async function withTwoNodes(
  test: (a: Directory, b: Directory, schema: string) => Promise<void>,
  clock?: Clock,
) {
  const schema = freshSchema();
  const open = () => openPostgresDirectory({ pool: pool(), schema, ...(clock && { clock }) });
  const a = await open();
  const b = await open();
  try {
    await a.users.create({ id: 'u', email: 'u@example.com', displayName: 'U', now: T0 });
    await test(a, b, schema);
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

describe('postgres directory shared by two nodes', () => {
  it("delivers a revoke made on one node to the other's subscriber within a second, once", () =>
    withTwoNodes(async (a, b) => {
      await a.credentials.add(credential('u', 'k1'));
      const onA: DirectoryChange[] = [];
      const onB: DirectoryChange[] = [];
      a.subscribe((c) => onA.push(c));
      b.subscribe((c) => onB.push(c));
      const arrived = nextChange(b, 1000);
      await a.credentials.revoke('k1', 'reported lost', T0);
      const expected = {
        kind: 'credential.revoked',
        userId: 'u',
        credentialId: 'k1',
        reason: 'reported lost',
      };
      assert.deepEqual(await arrived, expected);
      await settle();
      await settle();
      assert.deepEqual(onA, [expected], 'the revoking node hears its own change exactly once');
      assert.deepEqual(onB, [expected], 'the other node hears it exactly once');
    }));

  it('lets exactly one node win a credential id both register at once', () =>
    withTwoNodes(async (a, b) => {
      const { won, lost } = await race(20, (i) =>
        (i % 2 ? a : b).credentials.add(credential('u', 'same')),
      );
      assert.equal(won.length, 1);
      assert.ok(
        lost.every((e) => isPgkeyError(e, 'ERR_CONFLICT') && e.reason === 'credential_exists'),
      );
    }));

  it('catches up on changes made while its listener connection was down', () => {
    // The nodes reconnect only when this test moves their clock, so the change below is
    // certainly committed while b has no listener: no NOTIFY reaches it, only the table.
    const clock = new ManualClock();
    return withTwoNodes(async (a, b) => {
      await a.credentials.add(credential('u', 'k1'));
      const seen: DirectoryChange[] = [];
      b.subscribe((c) => seen.push(c));
      const killed = await cluster.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgkey directory listener'",
      );
      assert.equal(killed.rowCount, 2, 'both nodes were listening');
      await until(async () => (await listeners()) === 0);
      await a.users.setDisabled('u', true, 'offboarded', T0);
      await settle();
      assert.deepEqual(seen, [], 'nothing can reach b yet');
      await until(() => {
        clock.advance(5000); // fires b's reconnect timer once b has noticed the loss
        return Promise.resolve(seen.length > 0);
      });
      assert.deepEqual(seen, [{ kind: 'user.disabled', userId: 'u', reason: 'offboarded' }]);
      // And the new connection listens: a later change arrives by NOTIFY again, promptly.
      const later = nextChange(b, 1000);
      await a.credentials.revoke('k1', 'lost', T0);
      assert.equal((await later).kind, 'credential.revoked');
      assert.equal(seen.length, 2);
    }, clock);
  });

  it('ignores a NOTIFY that no change backs', () =>
    withTwoNodes(async (_a, b, schema) => {
      const seen: DirectoryChange[] = [];
      b.subscribe((c) => seen.push(c));
      await cluster.query('SELECT pg_notify($1, $2)', ['pgkey_directory', schema]);
      await cluster.query('SELECT pg_notify($1, $2)', [
        'pgkey_directory',
        '{"kind":"user.disabled"}',
      ]);
      await settle();
      assert.deepEqual(seen, []);
    }));
});

describe('postgres directory start-up', () => {
  it('creates its schema once when several nodes start at the same moment', async () => {
    const schema = freshSchema();
    const nodes = await Promise.all(Array.from({ length: 4 }, () => open(schema)));
    const versions = await cluster.query(`SELECT version FROM ${schema}.schema_version`);
    assert.deepEqual(
      versions.rows,
      POSTGRES_MIGRATIONS.map((m) => ({ version: m.version })),
    );
    await Promise.all(nodes.map((d) => d.close()));
  });

  it('fails with ERR_STORE_UNAVAILABLE and keeps the URL and password out of the message', async () => {
    const url = 'postgres://pgkey:hunter2@127.0.0.1:1/directory';
    await assert.rejects(
      openPostgresDirectory({ connectionString: url, pool: { connectionTimeoutMillis: 2000 } }),
      (error) => {
        assert.ok(isPgkeyError(error, 'ERR_STORE_UNAVAILABLE'));
        const shown = JSON.stringify({
          message: error.message,
          detail: error.detail,
          hint: error.hint,
        });
        assert.doesNotMatch(shown, /hunter2|127\.0\.0\.1|postgres:\/\//);
        assert.ok(error.cause !== undefined, 'the driver error is kept for the logs');
        return true;
      },
    );
  });

  it('opens from `directory.postgres.url_file`, which must be private', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pgkey-url-'));
    try {
      const file = join(dir, 'directory-url');
      const host = encodeURIComponent(cluster.socketDir);
      await writeFile(file, `postgresql://postgres@${host}:${cluster.port}/postgres\n`, {
        mode: 0o644,
      });
      const config = { postgres: { url_file: file, schema: freshSchema() } };
      await assert.rejects(openDirectory(config), (error) => {
        assert.ok(isPgkeyError(error, 'ERR_CONFIG'));
        assert.match(error.message, /mode 0644/);
        return true;
      });
      await rm(file);
      await writeFile(file, `postgresql://postgres@${host}:${cluster.port}/postgres\n`, {
        mode: 0o600,
      });
      const directory = await openDirectory(config);
      assert.equal(directory.kind, 'postgres');
      await directory.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
