import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { trailFiles } from '../../src/audit/rotated-files.ts';
import { main } from '../../src/cli/main.ts';
import { activeBackends, spawnPsql, waitFor } from '../support/e2e-clients.ts';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

/**
 * The trail as a deployment writes it: `pgkey serve` (gateway and provider) in one chain,
 * CLI commands changing the directory meanwhile in chains of their own, in the same file,
 * rotated as it grows. Every event these produce is there, and `pgkey audit verify` passes.
 */
describe('audit trail of a real deployment', () => {
  let h: GatewayHarness;
  before(async () => {
    h = await startGatewayHarness({
      idp: true,
      audit: { rotate_bytes: 12_000, checkpoint_records: 25 },
    });
  });
  after(async () => {
    await h?.close();
  });

  async function pgkey(...args: string[]) {
    const stdout = new Capture();
    const stderr = new Capture();
    const code = await main([...args, '--config', h.configFile ?? ''], {
      stdout,
      stderr,
      env: { USER: 'auditor' },
      cwd: h.dir,
    });
    return { code, stdout: stdout.text, stderr: stderr.text };
  }

  async function records(): Promise<Record<string, unknown>[]> {
    const all: Record<string, unknown>[] = [];
    for (const file of await trailFiles(h.auditFile)) {
      for (const line of (await readFile(file, 'utf8')).split('\n')) {
        if (line !== '') all.push(JSON.parse(line) as Record<string, unknown>);
      }
    }
    return all;
  }

  it('records sessions, a denial, a revocation and CLI changes, in verifiable chains', async () => {
    const idp = h.idp;
    assert.ok(idp !== undefined);
    for (const args of [
      ['users', 'add', 'bob@example.com', '--group', 'analytics'],
      ['users', 'invite', 'bob@example.com'],
      ['groups', 'add', 'bob@example.com', 'dba'],
      ['groups', 'remove', 'bob@example.com', 'dba'],
      ['users', 'disable', 'bob@example.com', '--reason', 'on leave'],
      ['users', 'enable', 'bob@example.com'],
    ]) {
      const run = await pgkey(...args);
      assert.equal(run.code, 0, `${args.join(' ')}: ${run.stderr}`);
    }

    const alice = await idp.enroll('alice@example.com', ['analytics']);
    const token = await idp.token(alice);
    for (let n = 0; n < 8; n++) {
      const ok = await h.psql(token, ['-At', '-c', 'SELECT 1']);
      assert.equal(ok.stdout, '1\n', ok.stderr);
    }
    const denied = await h.psql(token, ['-c', 'SELECT 1'], { user: 'app_owner' });
    assert.equal(denied.code, 2);

    const sql = 'SELECT pg_sleep(33)';
    const live = spawnPsql(h, token, ['-At', '-c', sql]);
    await waitFor(`${sql} upstream`, async () => (await activeBackends(h, sql)) === 1);
    const revoked = await pgkey('keys', 'revoke', alice.credentialId, '--reason', 'lost');
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(
      (await live.done).stderr,
      /FATAL: {2}terminating connection: security key revoked: lost/,
    );

    const all = await waitFor('the revoked session’s end', async () => {
      const found = await records();
      return found.some((r) => r.type === 'session.end' && r.reason === 'revoked')
        ? found
        : undefined;
    });
    await h.gateway.audit.checkpoint();
    const types = new Set(all.map((r) => r.type));
    for (const type of [
      'audit.chain_start',
      'audit.checkpoint',
      'audit.rotated',
      'auth.success',
      'auth.failure',
      'session.start',
      'session.end',
      'session.terminated',
      'user.created',
      'user.disabled',
      'user.enabled',
      'group.added',
      'group.removed',
      'invite.created',
      'key.revoked',
    ]) {
      assert.ok(types.has(type), `no ${type} in the trail`);
    }
    const starts = all.filter((r) => r.type === 'audit.chain_start');
    assert.deepEqual(
      starts.map((r) => r.writer),
      ['serve', 'cli', 'cli', 'cli', 'cli', 'cli', 'cli', 'cli'],
    );
    assert.ok((await trailFiles(h.auditFile)).length >= 2, 'the trail rotated');

    const verified = await pgkey('audit', 'verify', '--json');
    assert.equal(verified.code, 0, verified.stdout);
    const report = JSON.parse(verified.stdout) as {
      records: number;
      chains: { writer: string; unsigned: number }[];
    };
    assert.equal(report.records, (await records()).length);
    assert.equal(report.chains.length, 8);
    assert.deepEqual(
      report.chains.filter((c) => c.unsigned > 0),
      [],
      'every chain is signed to its end',
    );
    const human = await pgkey('audit', 'verify');
    assert.match(
      human.stdout,
      /^ok: \d+ records in \d+ files, \d+ checkpoints, 8 chains \(serve, cli ×7\)/,
    );
  });
});
