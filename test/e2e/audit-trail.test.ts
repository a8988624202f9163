import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { AUDIT_DURABILITY } from '../../src/audit/events.ts';
import { trailFiles } from '../../src/audit/rotated-files.ts';
import { main } from '../../src/cli/main.ts';
import { enrollWithSoftKey } from '../../src/demo/enrollment-driver.ts';
import { SoftAuthenticator } from '../../src/demo/soft-authenticator.ts';
import { activeBackends, spawnPsql, waitFor } from '../support/e2e-clients.ts';
import {
  DEFAULT_POLICY,
  startGatewayHarness,
  type GatewayHarness,
} from '../support/gateway-harness.ts';
import { call, exchange, mint, tokenOf } from '../sts/sts-client.ts';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

/**
 * Event types no healthy deployment writes, each with the test that makes it happen for real.
 * Every other type in the catalogue must turn up in the trail below: a new event type fails
 * this test until a real session emits it (here, or in a test named here).
 */
const EMITTED_ELSEWHERE: Readonly<Record<string, string>> = {
  'session.abandoned': 'test/e2e/audit-crash.test.ts', // needs a kill -9
  'audit.dropped': 'test/e2e/audit-failure.test.ts', // needs a failing sink
  // Need rules with `provision` and PostgreSQL's admin role set up (docs/provisioning.md).
  'role.provisioned': 'test/e2e/provisioning.test.ts',
  'role.grants_changed': 'test/e2e/provisioning.test.ts',
  'role.deactivated': 'test/e2e/provisioning.test.ts',
  'role.dropped': 'test/e2e/provisioning.test.ts',
};

/** The default policy, with statement audit on the analysts' rule. */
const POLICY = DEFAULT_POLICY.map((rule) =>
  rule.name === 'analysts' ? { ...rule, audit: { queries: true } } : rule,
);

/**
 * The trail as a deployment writes it: `pgkey serve` (gateway, provider and token service) in
 * one chain, CLI commands changing the directory meanwhile in chains of their own, in the
 * same file, rotated as it grows. Every event type of the catalogue these can produce is
 * there, and `pgkey audit verify` passes.
 */
describe('audit trail of a real deployment', () => {
  let h: GatewayHarness;
  before(async () => {
    h = await startGatewayHarness({
      idp: true,
      tokenService: true,
      policy: POLICY,
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

  it('records every event type of the catalogue a deployment emits, in verifiable chains', async () => {
    const idp = h.idp;
    assert.ok(idp !== undefined);
    for (const args of [
      ['users', 'add', 'bob@example.com', '--group', 'analytics'],
      ['groups', 'add', 'bob@example.com', 'dba'],
      ['groups', 'remove', 'bob@example.com', 'dba'],
      ['users', 'disable', 'bob@example.com', '--reason', 'on leave'],
      ['users', 'enable', 'bob@example.com'],
    ]) {
      const run = await pgkey(...args);
      assert.equal(run.code, 0, `${args.join(' ')}: ${run.stderr}`);
    }
    const invite = await pgkey('users', 'invite', 'bob@example.com', '--json');
    assert.equal(invite.code, 0, invite.stderr);

    // Bob registers his key on the provider's pages, then renames it on "My keys".
    const { link } = JSON.parse(invite.stdout) as { link: string };
    const enrolled = await enrollWithSoftKey({ link, authenticator: new SoftAuthenticator() });
    const me = new URL(enrolled.redirectTo, idp.issuer);
    const page = await (await enrolled.browser.fetch(me)).text();
    const csrf = /data-csrf="([^"]+)"/.exec(page)?.[1];
    assert.ok(csrf !== undefined, 'the "My keys" page carries its CSRF token');
    const renamed = await enrolled.browser.fetch(
      new URL(`${me.pathname}/keys/${encodeURIComponent(enrolled.credentialId)}/rename`, me),
      {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          origin: enrolled.browser.origin,
        },
        body: new URLSearchParams({ csrf, name: 'Desk key' }).toString(),
      },
    );
    assert.equal(renamed.status, 303);

    const alice = await idp.enroll('alice@example.com', ['analytics']);
    const token = await idp.token(alice);
    for (let n = 0; n < 8; n++) {
      const ok = await h.psql(token, ['-At', '-c', 'SELECT 1']);
      assert.equal(ok.stdout, '1\n', ok.stderr);
    }
    const denied = await h.psql(token, ['-c', 'SELECT 1'], { user: 'app_owner' });
    assert.equal(denied.code, 2);

    // The token service: a service token minted, used and revoked; an agent token.
    const minted = await mint(h, token, {
      name: 'nightly',
      database: 'warehouse',
      role: 'reporting',
    });
    const service = await h.psql(tokenOf(minted), ['-At', '-c', 'SELECT 2'], { user: 'reporting' });
    assert.equal(service.stdout, '2\n', service.stderr);
    const jti = (minted.body.token as { jti: string }).jti;
    const revokedToken = await call(h, 'DELETE', `/v1/tokens/${jti}?reason=rotated`, { token });
    assert.equal(revokedToken.status, 200, JSON.stringify(revokedToken.body));
    tokenOf(await exchange(h, token, 'report-bot'));
    // A refused mint (a role policy does not grant alice) is in the trail as well.
    const refusedMint = await mint(h, token, {
      name: 'nightly',
      database: 'warehouse',
      role: 'app_owner',
    });
    assert.equal(refusedMint.status, 403, JSON.stringify(refusedMint.body));

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
    const types = new Set((await records()).map((r) => r.type));
    const catalogue = Object.keys(AUDIT_DURABILITY);
    for (const [type, file] of Object.entries(EMITTED_ELSEWHERE)) {
      assert.ok(catalogue.includes(type), `${type} is no longer in the catalogue`);
      const test = await readFile(new URL(`../../${file}`, import.meta.url), 'utf8');
      assert.ok(test.includes(`'${type}'`), `${file} does not look for ${type}`);
    }
    assert.deepEqual(
      catalogue.filter((type) => !types.has(type) && !(type in EMITTED_ELSEWHERE)),
      [],
      'event types of the catalogue that no real session emitted',
    );
    assert.ok(
      all.some((r) => r.type === 'session.start' && r.minted_by === 'alice@example.com'),
      'the service token’s session names who minted it',
    );
    assert.ok(
      all.some(
        (r) => r.type === 'token.refused' && r.reason === 'policy_denied' && r.role === 'app_owner',
      ),
      'the refused mint names what was asked for',
    );
    assert.ok(!JSON.stringify(all).includes(token), 'no token text in the trail');
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
