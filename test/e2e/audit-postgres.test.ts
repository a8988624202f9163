import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { main } from '../../src/cli/main.ts';
import type { Config } from '../../src/config/schema.ts';
import { startGateway, type Gateway } from '../../src/gateway/gateway.ts';
import { silentLogger } from '../../src/runtime/logger.ts';
import { waitFor } from '../support/e2e-clients.ts';
import { run, startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

const TABLE = 'audit.trail';

/**
 * Two pgkey nodes, each with its own file, writing their chains into one PostgreSQL table
 * (the `postgres` sink, DESIGN.md "distributed when outgrown"); `pgkey audit verify
 * --postgres` checks the table, and notices an edited or deleted row.
 */
describe('the postgres audit sink, shared by two gateways', () => {
  let h: GatewayHarness;
  let second: Gateway;
  let secondFile: string;
  let secrets: string;

  before(async () => {
    secrets = await mkdtemp(join(tmpdir(), 'pgkey-audit-url-'));
    const urlFile = join(secrets, 'audit-url');
    h = await startGatewayHarness({
      idp: true,
      audit: {
        sinks: ['file', 'postgres'],
        postgres: { url_file: urlFile, table: TABLE },
        checkpoint_records: 5,
      },
      // Called once the cluster runs, before pgkey starts: the moment to write its URL file.
      upstream: (pg) => {
        const url = `postgresql://postgres@/postgres?host=${encodeURIComponent(pg.socketDir)}&port=${pg.port}`;
        writeFileSync(urlFile, `${url}\n`, { mode: 0o600 });
        return {};
      },
    });
    secondFile = join(h.dir, 'node-b', 'audit.jsonl');
    await mkdir(join(h.dir, 'node-b'));
    const config: Config = {
      ...h.config,
      listen: { ...h.config.listen, address: '127.0.0.1:0' },
      admin: { address: '127.0.0.1:0' },
      audit: { ...h.config.audit, file: secondFile },
    };
    second = await startGateway({ config, logger: silentLogger });
  });
  after(async () => {
    await second?.close();
    await h?.close();
    await rm(secrets, { recursive: true, force: true });
  });

  async function verify(...args: string[]) {
    const stdout = new Capture();
    const stderr = new Capture();
    const code = await main(
      [
        'audit',
        'verify',
        '--postgres',
        '--key',
        `${h.auditFile}.pub.jwk`,
        '--key',
        `${secondFile}.pub.jwk`,
        '--config',
        h.configFile ?? '',
        ...args,
      ],
      { stdout, stderr, env: {}, cwd: h.dir },
    );
    return { code, stdout: stdout.text, stderr: stderr.text };
  }

  it('holds both nodes’ chains, each verifiable, and catches an edited or deleted row', async () => {
    const token = await h.token(['analytics']);
    for (const port of [h.gateway.port, second.port, h.gateway.port, second.port]) {
      const result = await run(
        'psql',
        ['-X', '-At', '-U', 'analyst', '-d', 'warehouse', '-c', 'SELECT 1'],
        h.env(token, { PGPORT: String(port) }),
      );
      assert.equal(result.stdout, '1\n', result.stderr);
    }
    const rows = await waitFor('four session.end rows', async () => {
      const result = await h.pg.query(
        `SELECT pos, chain, seq, type, body FROM ${TABLE} ORDER BY pos`,
      );
      const found = result.rows as {
        pos: string;
        chain: string;
        seq: string;
        type: string;
        body: { type: string };
      }[];
      return found.filter((r) => r.type === 'session.end').length === 4 ? found : undefined;
    });
    const chains = new Set(rows.map((r) => r.chain));
    assert.equal(chains.size, 2, 'one chain per node');
    assert.equal(rows[0]?.body.type, 'audit.chain_start', 'body is the record as jsonb');
    for (const chain of chains) {
      const seqs = rows.filter((r) => r.chain === chain).map((r) => Number(r.seq));
      assert.deepEqual(
        seqs,
        seqs.map((_, i) => i + 1),
        'each chain in order, no gap',
      );
    }
    await h.gateway.audit.checkpoint();
    await second.audit.checkpoint();

    const ok = await verify();
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(
      ok.stdout,
      /^ok: \d+ records in the table, \d+ checkpoints, 2 chains \(serve, gateway\)/,
    );

    const target = rows.find((r) => r.type === 'session.start');
    assert.ok(target !== undefined);
    await h.pg.query(
      `UPDATE ${TABLE} SET line = replace(line, '"role":"analyst"', '"role":"postgres"') WHERE pos = $1`,
      [target.pos],
    );
    const edited = await verify('--json');
    assert.equal(edited.code, 1);
    const report = JSON.parse(edited.stdout) as {
      problems: { kind: string; source: string; line: number }[];
    };
    assert.deepEqual(
      report.problems.map((p) => [p.kind, p.source]),
      [
        ['row', TABLE],
        ['link', TABLE],
      ],
    );
    assert.equal(report.problems[0]?.line, Number(target.pos));

    await h.pg.query(`DELETE FROM ${TABLE} WHERE pos = $1`, [target.pos]);
    const deleted = await verify();
    assert.equal(deleted.code, 1);
    assert.match(
      deleted.stdout,
      new RegExp(`^${TABLE.replace('.', '\\.')}:\\d+: chain \\S+ is missing seq ${target.seq} `),
    );
  });
});
