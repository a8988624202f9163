import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { searchCells } from '../../src/audit/reading/search-format.ts';
import { fileLines } from '../../src/audit/reading/trail-lines.ts';
import { readTrail } from '../../src/audit/reading/trail-reader.ts';
import { startGateway, type Gateway } from '../../src/gateway/gateway.ts';
import { buildRuntimeState } from '../../src/gateway/runtime-state.ts';
import { AdminConnection } from '../../src/provision/admin-connection.ts';
import { quoteIdent, quoteLiteral } from '../../src/provision/role-name.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { silentLogger } from '../../src/runtime/logger.ts';
import { cryptoRandom } from '../../src/runtime/random.ts';
import { connectError, pgConfig, readAudit, waitFor } from '../support/e2e-clients.ts';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';

/**
 * Per-person roles (policy `provision`, docs/provisioning.md) against a real PostgreSQL 15,
 * its admin role set up with exactly the SQL docs/provisioning.md shows.
 */

type Client = pg.Client & { readonly errors: Error[] };

const POLICY = [
  {
    name: 'analysts',
    match: { groups: ['analytics'] },
    databases: ['warehouse'],
    roles: ['analyst', 'reporting'],
    provision: { mode: 'keep' as const },
  },
  {
    name: 'auditors',
    match: { groups: ['audit'] },
    databases: ['warehouse'],
    roles: ['reporting'],
    provision: { mode: 'keep' as const },
  },
  {
    name: 'contractors',
    match: { groups: ['contractors'] },
    databases: ['warehouse'],
    roles: ['analyst'],
    provision: { mode: 'drop' as const },
  },
];

/** The fenced SQL block after the marker comment in docs/provisioning.md. */
function documentedSetupSql(): string {
  const doc = readFileSync(new URL('../../docs/provisioning.md', import.meta.url), 'utf8');
  const marker = doc.indexOf('<!-- provisioning-setup: postgresql 15 -->');
  assert.ok(marker >= 0, 'docs/provisioning.md has the setup marker');
  const match = /```sql\n([\s\S]*?)```/.exec(doc.slice(marker));
  assert.ok(match?.[1] !== undefined, 'a sql block follows the marker');
  return match[1];
}

describe('per-person roles (provision)', () => {
  let h: GatewayHarness;
  const open: Client[] = [];

  const token = (sub: string, email: string, groups: string[]) =>
    h.issuer.humanToken({ sub, email, groups });
  const connect = async (t: string, o: { user?: string; port?: number } = {}): Promise<Client> => {
    const client = Object.assign(
      new pg.Client({
        ...pgConfig(h, t, { user: o.user ?? 'analyst' }),
        ...(o.port === undefined ? {} : { port: o.port }),
      }),
      { errors: [] as Error[] },
    );
    client.on('error', (error) => client.errors.push(error));
    await client.connect();
    open.push(client);
    return client;
  };
  const close = async (client: Client): Promise<void> => {
    open.splice(open.indexOf(client), 1);
    await client.end();
  };
  const role = async (name: string) =>
    (
      await h.pg.query(
        "SELECT rolcanlogin, shobj_description(oid, 'pg_authid') AS comment FROM pg_roles WHERE rolname = $1",
        [name],
      )
    ).rows[0] as { rolcanlogin: boolean; comment: string | null } | undefined;
  const memberOf = async (name: string): Promise<string[]> =>
    (
      await h.pg.query(
        `SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
          JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1 ORDER BY 1`,
        [name],
      )
    ).rows.map((r: { rolname: string }) => r.rolname);
  const whoami = async (client: pg.Client) =>
    (
      await client.query<{ current_user: string; session_user: string; pid: number }>(
        'SELECT current_user, session_user, pg_backend_pid() AS pid',
      )
    ).rows[0]!;
  const loginDisabled = (name: string) =>
    waitFor(`${name} NOLOGIN`, async () => (await role(name))?.rolcanlogin === false);
  const events = (type: string, roleName: string) =>
    readAudit(h).filter((e) => e.type === type && e.role === roleName);

  before(async () => {
    h = await startGatewayHarness({
      policy: POLICY,
      provisioning: { reassign_to: 'pgkey_orphans' },
    });
    await h.pg.query(documentedSetupSql());
    // People create tables through their group role's privilege (PostgreSQL 15 no longer
    // lets PUBLIC create in schema public).
    await h.pg.query('GRANT CREATE ON SCHEMA public TO analyst', [], { database: 'warehouse' });
  });
  after(async () => {
    for (const client of open.splice(0)) await client.end().catch(() => undefined);
    await h?.close();
  });

  it('keep: the session runs as the person, whose role is NOLOGIN after the last disconnect', async () => {
    const alice = await token('alice-sub', 'alice@example.com', ['analytics']);
    const client = await connect(alice);
    const me = await whoami(client);
    assert.equal(me.current_user, 'alice@example.com');
    assert.equal(me.session_user, 'alice@example.com');
    const activity = await h.pg.query('SELECT usename FROM pg_stat_activity WHERE pid = $1', [
      me.pid,
    ]);
    assert.equal(activity.rows[0]?.usename, 'alice@example.com');
    assert.deepEqual(await memberOf('alice@example.com'), ['analyst', 'reporting']);
    const made = await role('alice@example.com');
    assert.equal(made?.rolcanlogin, true);
    assert.equal(
      made?.comment,
      `pgkey-provisioned ${JSON.stringify({ iss: h.issuer.issuer, sub: 'alice-sub' })}`,
    );
    await client.query('CREATE TABLE alice_notes (note text)');
    await client.query("INSERT INTO alice_notes VALUES ('kept')");
    await close(client);

    await loginDisabled('alice@example.com');
    const start = readAudit(h).findLast(
      (e) => e.type === 'session.start' && e.subject === 'alice-sub',
    );
    assert.equal(start?.role, 'analyst');
    assert.equal(start?.login_role, 'alice@example.com');
    const [provisioned] = events('role.provisioned', 'alice@example.com');
    assert.equal(provisioned?.created, true);
    assert.deepEqual(provisioned?.roles, ['analyst', 'reporting']);
    assert.deepEqual(provisioned?.rules, ['analysts']);
    await waitFor('role.deactivated', () => events('role.deactivated', 'alice@example.com')[0]);
    assert.equal(events('role.deactivated', 'alice@example.com')[0]?.reason, 'last_session_ended');

    // The next connect lets the same role log in again, its table still its own.
    const again = await connect(alice);
    assert.equal((await whoami(again)).current_user, 'alice@example.com');
    const notes = await again.query<{ note: string }>('SELECT note FROM alice_notes');
    assert.deepEqual(notes.rows, [{ note: 'kept' }]);
    const owner = await h.pg.query(
      "SELECT tableowner FROM pg_tables WHERE tablename = 'alice_notes'",
      [],
      { database: 'warehouse' },
    );
    assert.equal(owner.rows[0]?.tableowner, 'alice@example.com');
    assert.deepEqual(
      events('role.provisioned', 'alice@example.com').map((e) => e.created),
      [true, false],
    );
    await close(again);
    await loginDisabled('alice@example.com');
  });

  it('drop: the role is dropped after the last disconnect, its objects reassigned', async () => {
    const bob = await token('bob-sub', 'bob@example.com', ['contractors']);
    const client = await connect(bob);
    assert.equal((await whoami(client)).current_user, 'bob@example.com');
    await client.query('CREATE TABLE bob_work (n int)');
    await client.query('INSERT INTO bob_work VALUES (1), (2)');
    await close(client);

    await waitFor(
      'bob@example.com dropped',
      async () => (await role('bob@example.com')) === undefined,
    );
    const table = await h.pg.query(
      "SELECT tableowner, (SELECT count(*)::int FROM bob_work) AS n FROM pg_tables WHERE tablename = 'bob_work'",
      [],
      { database: 'warehouse' },
    );
    assert.deepEqual(table.rows, [{ tableowner: 'pgkey_orphans', n: 2 }]);
    const dropped = await waitFor(
      'role.dropped',
      () => events('role.dropped', 'bob@example.com')[0],
    );
    assert.equal(dropped.reassigned_to, 'pgkey_orphans');
    assert.deepEqual(dropped.databases, ['warehouse']);
    assert.equal(dropped.subject, 'bob-sub');
  });

  it('drop: a privilege someone else granted the person leaves the role NOLOGIN, not dropped', async () => {
    const cy = await token('cy-sub', 'cy@example.com', ['contractors']);
    const client = await connect(cy);
    await h.pg.query('CREATE TABLE IF NOT EXISTS ledger (n int)', [], { database: 'warehouse' });
    await h.pg.query('GRANT SELECT ON ledger TO "cy@example.com"', [], { database: 'warehouse' });
    await close(client);

    const blocked = await waitFor(
      'role.deactivated',
      () => events('role.deactivated', 'cy@example.com')[0],
    );
    assert.equal(blocked.reason, 'drop_blocked');
    assert.equal((await role('cy@example.com'))?.rolcanlogin, false);
    assert.deepEqual(events('role.dropped', 'cy@example.com'), []);
  });

  it('eight first connects of one person at once: no error, one role', async () => {
    const carol = await token('carol-sub', 'carol@example.com', ['analytics']);
    const clients = await Promise.all(Array.from({ length: 8 }, () => connect(carol)));
    const users = await Promise.all(clients.map(async (c) => (await whoami(c)).current_user));
    assert.deepEqual(new Set(users), new Set(['carol@example.com']));
    const roles = await h.pg.query("SELECT 1 FROM pg_roles WHERE rolname LIKE 'carol@%'");
    assert.equal(roles.rowCount, 1);
    assert.equal(events('role.provisioned', 'carol@example.com').length, 1);
    assert.deepEqual(events('role.grants_changed', 'carol@example.com'), []);
    await Promise.all(clients.map(close));
    for (const client of clients) assert.deepEqual(client.errors, []);
    await loginDisabled('carol@example.com');
    assert.equal(events('role.deactivated', 'carol@example.com').length, 1);
  });

  it('refuses a role of that name that pgkey did not make, or made for someone else', async () => {
    await h.pg.query('CREATE ROLE "dave@example.com" LOGIN');
    const dave = await token('dave-sub', 'dave@example.com', ['analytics']);
    const refused = await connectError(h, dave);
    assert.equal(refused.code, '42710');
    assert.match(
      refused.message,
      /role "dave@example\.com" already exists and was not created by pgkey/,
    );
    assert.deepEqual(await memberOf('dave@example.com'), [], 'the existing role is untouched');
    assert.equal((await role('dave@example.com'))?.comment, null);

    const eve = await connect(await token('eve-1', 'eve@example.com', ['analytics']));
    await close(eve);
    const impostor = await connectError(h, await token('eve-2', 'eve@example.com', ['analytics']));
    assert.equal(impostor.code, '42710');
    assert.match(impostor.message, /role "eve@example\.com" belongs to another identity/);
  });

  it('a claim naming a privileged or configured role is refused, and that role is untouched', async () => {
    const attributes = async (name: string) =>
      (
        await h.pg.query(
          `SELECT rolsuper, rolcreaterole, rolcanlogin, shobj_description(oid, 'pg_authid') AS comment,
                  (SELECT count(*)::int FROM pg_auth_members WHERE member = r.oid) AS memberships
             FROM pg_roles r WHERE rolname = $1`,
          [name],
        )
      ).rows[0] as Record<string, unknown> | undefined;
    for (const [name, message] of [
      ['postgres', /role "postgres" already exists and was not created by pgkey/],
      ['pgkey_provisioner', /name "pgkey_provisioner" is a role pgkey's configuration uses/],
      ['pgkey_orphans', /name "pgkey_orphans" is a role pgkey's configuration uses/],
      ['analyst', /name "analyst" is a role pgkey's configuration uses/],
    ] as const) {
      const before = await attributes(name);
      assert.ok(before !== undefined, name);
      const refused = await connectError(h, await token(`squat-${name}`, name, ['analytics']));
      assert.equal(refused.code, '42710', name);
      assert.match(refused.message, message);
      assert.deepEqual(await attributes(name), before, `${name} is unchanged`);
    }
  });

  it('a refused connect of another identity with the same name leaves the role to its owner: drop still drops', async () => {
    const owner = await connect(await token('nia-1', 'nia@example.com', ['contractors']));
    // Someone else whose claim gives the same name, through a rule that keeps roles.
    const other = await connectError(h, await token('nia-2', 'nia@example.com', ['analytics']));
    assert.equal(other.code, '42710');
    assert.match(other.message, /belongs to another identity/);
    await close(owner);
    const retired = await waitFor('nia@example.com retired', () =>
      readAudit(h).find(
        (e) =>
          (e.type === 'role.dropped' || e.type === 'role.deactivated') &&
          e.role === 'nia@example.com',
      ),
    );
    assert.equal(retired.type, 'role.dropped');
    assert.equal(retired.subject, 'nia-1');
    assert.equal(await role('nia@example.com'), undefined);
  });

  it('several rules grant: the role holds every one of their roles, and keep wins over drop', async () => {
    // auditors (keep) grants the login; contractors (drop) grants the person too.
    const pat = await token('pat-sub', 'pat@example.com', ['audit', 'contractors']);
    const client = await connect(pat, { user: 'reporting' });
    assert.equal((await whoami(client)).current_user, 'pat@example.com');
    assert.deepEqual(await memberOf('pat@example.com'), ['analyst', 'reporting']);
    const [provisioned] = events('role.provisioned', 'pat@example.com');
    assert.deepEqual(provisioned?.rules, ['auditors', 'contractors']);
    await close(client);
    await loginDisabled('pat@example.com');
    await waitFor('role.deactivated', () => events('role.deactivated', 'pat@example.com')[0]);
    assert.deepEqual(events('role.dropped', 'pat@example.com'), []);
  });

  it('revokes a grant at the next connect once the person left the group', async () => {
    const frank = await connect(await token('frank-sub', 'frank@example.com', ['analytics']));
    assert.deepEqual(await memberOf('frank@example.com'), ['analyst', 'reporting']);
    await close(frank);
    await loginDisabled('frank@example.com');

    const later = await token('frank-sub', 'frank@example.com', ['audit']);
    const client = await connect(later, { user: 'reporting' });
    assert.equal((await whoami(client)).current_user, 'frank@example.com');
    assert.deepEqual(await memberOf('frank@example.com'), ['reporting']);
    const denied = await client.query('SELECT pg_has_role(current_user, $1, $2) AS ok', [
      'analyst',
      'USAGE',
    ]);
    assert.equal(denied.rows[0].ok, false);
    const [changed] = events('role.grants_changed', 'frank@example.com');
    assert.deepEqual(changed?.revoked, ['analyst']);
    assert.deepEqual(changed?.granted, []);
    assert.deepEqual(changed?.rules, ['auditors']);
    await close(client);
  });

  it('refuses a login that grants less while the person has sessions holding more', async () => {
    const wide = await connect(await token('gina-sub', 'gina@example.com', ['analytics']));
    const narrow = await token('gina-sub', 'gina@example.com', ['audit']);
    const refused = await connectError(h, narrow, { user: 'reporting' });
    assert.equal(refused.code, '55006');
    assert.match(refused.message, /other open sessions are members of "analyst"/);
    assert.deepEqual(await memberOf('gina@example.com'), ['analyst', 'reporting']);
    assert.equal((await whoami(wide)).current_user, 'gina@example.com', 'the open session goes on');
    await close(wide);
    await loginDisabled('gina@example.com');
    const client = await connect(narrow, { user: 'reporting' });
    assert.deepEqual(await memberOf('gina@example.com'), ['reporting']);
    await close(client);
  });

  it('names with quotes and Unicode are the role names, exactly', async () => {
    const quoted = `o'brien "x"@example.com`;
    const q = await connect(await token('obrien-sub', quoted, ['analytics']));
    assert.equal((await whoami(q)).current_user, quoted);
    await close(q);

    // The same address precomposed (NFC) and decomposed (NFD) is one role.
    const nfc = await connect(await token('zoe-sub', 'zo\u00eb@example.com', ['analytics']));
    const nfd = await connect(await token('zoe-sub', 'zoe\u0308@example.com', ['analytics']));
    assert.equal((await whoami(nfc)).current_user, 'zoë@example.com');
    assert.equal((await whoami(nfd)).current_user, 'zoë@example.com');
    const zoes = await h.pg.query("SELECT rolname FROM pg_roles WHERE rolname LIKE 'zo%'");
    assert.deepEqual(zoes.rows, [{ rolname: 'zoë@example.com' }]);
    await close(nfc);
    await close(nfd);
    await loginDisabled(quoted);
  });

  it('role-name.ts writes names and comments PostgreSQL reads back unchanged', async () => {
    for (const text of [`o'brien "x"@example.com`, 'zoë \\ \' "" ;--', "\\'"]) {
      for (const scs of ['on', 'off']) {
        const results = (await h.pg.query(
          `BEGIN; SET LOCAL standard_conforming_strings = ${scs};
           SELECT ${quoteLiteral(text)} AS v, 1 AS ${quoteIdent(text)}, quote_ident(${quoteLiteral(text)}) AS q; COMMIT`,
        )) as unknown as pg.QueryResult[];
        const select = results[2]!;
        assert.equal(select.rows[0].v, text);
        assert.deepEqual(
          select.fields.map((f) => f.name),
          ['v', text, 'q'],
        );
        assert.equal(select.rows[0].q, quoteIdent(text), 'the same as quote_ident');
      }
    }
  });

  it('refuses a 64-byte name and never truncates it; 63 bytes log in', async () => {
    const name63 = `${'a'.repeat(63 - '@example.com'.length)}@example.com`;
    const name64 = `b${name63}`;
    assert.equal(Buffer.byteLength(name63), 63);
    const ok = await connect(await token('long-63', name63, ['analytics']));
    assert.equal((await whoami(ok)).current_user, name63);
    await close(ok);

    const refused = await connectError(h, await token('long-64', name64, ['analytics']));
    assert.equal(refused.code, '42622');
    assert.match(refused.message, /is 64 bytes; PostgreSQL allows 63/);
    const truncated = await h.pg.query("SELECT 1 FROM pg_roles WHERE rolname LIKE 'baaa%'");
    assert.equal(truncated.rowCount, 0, 'no role, truncated or not');
    const failure = readAudit(h).findLast(
      (e) => e.type === 'auth.failure' && e.subject === 'long-64',
    );
    assert.equal(failure?.reason, 'role_name_too_long');
  });

  it('a login racing the last disconnect of the same person always gets in', async () => {
    const hana = await token('hana-sub', 'hana@example.com', ['analytics']);
    let current = await connect(hana);
    for (let i = 0; i < 12; i++) {
      const [, next] = await Promise.all([close(current), connect(hana)]);
      assert.equal((await whoami(next)).current_user, 'hana@example.com');
      current = next;
    }
    await close(current);
    await loginDisabled('hana@example.com');
  });

  it("waits for an ended session's backend to exit before it disables the role", async () => {
    const kim = await connect(await token('kim-sub', 'kim@example.com', ['analytics']));
    const { pid } = await whoami(kim);
    // The client vanishes mid-statement: pgkey ends the session at once, while PostgreSQL
    // notices only when pg_sleep returns and it writes the result.
    const sleeping = kim.query('SELECT pg_sleep(1.5)').catch(() => undefined);
    await waitFor('pg_sleep running', async () => {
      const r = await h.pg.query(
        "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'",
        [pid],
      );
      return r.rowCount === 1;
    });
    open.splice(open.indexOf(kim), 1);
    (kim as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    await sleeping;
    await waitFor('the session ended at pgkey', () =>
      h.gateway.sessions.list().every((s) => s.identity.subject !== 'kim-sub'),
    );
    assert.equal((await role('kim@example.com'))?.rolcanlogin, true, 'its backend still runs');
    await loginDisabled('kim@example.com');
    const gone = await h.pg.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid]);
    assert.equal(gone.rowCount, 0);
  });

  it('the trail shows what happened to each role, as `pgkey audit search` prints it', async () => {
    const lines: Record<string, string[]> = {};
    for await (const event of readTrail(fileLines([h.auditFile]), {})) {
      if (!event.type.startsWith('role.')) continue;
      const [, type, who, where, , , detail] = searchCells(event);
      (lines[`${type} ${where}`] ??= []).push(`${who}: ${detail}`);
    }
    assert.deepEqual(lines['role.provisioned alice@example.com@?'], [
      'alice@example.com: created, member of analyst, reporting',
      'alice@example.com: may log in again, member of analyst, reporting',
    ]);
    assert.deepEqual(lines['role.grants_changed frank@example.com@?'], [
      'frank@example.com: granted -; revoked analyst',
    ]);
    assert.deepEqual(lines['role.dropped bob@example.com@?'], [
      'bob@example.com: objects to pgkey_orphans in warehouse',
    ]);
    assert.deepEqual(lines['role.deactivated cy@example.com@?'], ['cy@example.com: drop_blocked']);
  });

  it('an admin backend terminated between statements fails its transaction, not the process', async () => {
    const state = await buildRuntimeState(h.config, {
      clock: systemClock,
      random: cryptoRandom,
      logger: silentLogger,
    });
    const admin = new AdminConnection({
      target: state.target,
      role: 'pgkey_provisioner',
      database: 'postgres',
      poolSize: 1,
      timeoutMs: 5000,
      credential: state.credential,
    });
    try {
      const failed = admin.transaction(async (sql) => {
        const [row] = await sql('SELECT pg_backend_pid() AS pid');
        await h.pg.query('SELECT pg_terminate_backend($1)', [row?.pid]);
        // The FATAL arrives while no statement runs, as during retire's REASSIGN elsewhere.
        await new Promise((resolve) => setTimeout(resolve, 300));
        return sql('SELECT 1');
      });
      await assert.rejects(failed);
      // The broken client left the pool; the next transaction gets a new one.
      assert.deepEqual(await admin.transaction((sql) => sql('SELECT 1 AS one')), [{ one: 1 }]);
    } finally {
      await admin.close();
    }
  });

  describe('with a second pgkey node on the same PostgreSQL', () => {
    let node2: Gateway;
    before(async () => {
      node2 = await startGateway({
        config: { ...h.config, audit: { ...h.config.audit, file: join(h.dir, 'audit-2.jsonl') } },
        logger: silentLogger,
      });
    });
    after(async () => {
      await node2?.close();
    });

    it('an admin connection that cannot log in refuses the login (58000) without PostgreSQL’s text', async () => {
      const broken = await startGateway({
        config: {
          ...h.config,
          provisioning: { ...h.config.provisioning!, admin_role: 'pgkey_nobody' },
          audit: { ...h.config.audit, file: join(h.dir, 'audit-broken.jsonl') },
        },
        logger: silentLogger,
      });
      try {
        const t = await token('max-sub', 'max@example.com', ['analytics']);
        const client = new pg.Client({ ...pgConfig(h, t), port: broken.port });
        client.on('error', () => undefined);
        const refused = await client.connect().then(
          () => assert.fail('expected a refusal'),
          (error: unknown) => error as pg.DatabaseError,
        );
        assert.equal(refused.code, '58000');
        assert.equal(refused.message, 'your database role could not be prepared');
        assert.match(refused.hint ?? '', /cannot reach PostgreSQL as its provisioning role/);
        assert.doesNotMatch(`${refused.message} ${refused.hint ?? ''}`, /pgkey_nobody/);
        assert.equal(await role('max@example.com'), undefined);
      } finally {
        await broken.close();
      }
    });

    it("never disables a role another node's session uses", async () => {
      const ivan = await token('ivan-sub', 'ivan@example.com', ['analytics']);
      const here = await connect(ivan);
      for (let i = 0; i < 3; i++) {
        const there = await connect(ivan, { port: node2.port });
        assert.equal((await whoami(there)).current_user, 'ivan@example.com');
        await close(there);
      }
      // Closing node 2 waits for its last-disconnect steps: they must have left the role alone.
      await node2.close();
      assert.equal((await role('ivan@example.com'))?.rolcanlogin, true);
      assert.equal((await whoami(here)).current_user, 'ivan@example.com');
      await close(here);
      await loginDisabled('ivan@example.com');
    });

    for (const [mode, group, person] of [
      ['keep', 'analytics', 'jo@example.com'],
      ['drop', 'contractors', 'lee@example.com'],
    ] as const) {
      it(`${mode}: a login on one node racing the last disconnect on the other always gets in`, async () => {
        node2 = await startGateway({
          config: {
            ...h.config,
            audit: { ...h.config.audit, file: join(h.dir, `audit-${mode}.jsonl`) },
          },
          logger: silentLogger,
        });
        const t = await token(`${person}-sub`, person, [group]);
        for (let i = 0; i < 16; i++) {
          const [a, b] = i % 2 === 0 ? [h.gateway.port, node2.port] : [node2.port, h.gateway.port];
          const first = await connect(t, { port: a });
          const [, second] = await Promise.all([close(first), connect(t, { port: b })]);
          assert.equal((await whoami(second)).current_user, person);
          await close(second);
        }
        await node2.close();
        await waitFor(`${person} retired`, async () => (await role(person))?.rolcanlogin !== true);
      });
    }
  });
});
