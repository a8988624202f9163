import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { main } from '../../src/cli/main.ts';
import { connectPg } from '../support/e2e-clients.ts';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';
import { peek } from './sts-client.ts';

/**
 * `pgkey token mint|list|revoke|exchange` against a running token service, with the
 * person's token from $PGKEY_TOKEN or --token-file (no profile): the token alone on stdout,
 * what it is on stderr, --json for machines, errors with the service's own words.
 */
class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

const POLICY = [
  {
    name: 'analysts',
    match: { groups: ['analytics'] },
    databases: ['warehouse'],
    roles: ['analyst', 'reporting'],
  },
  {
    name: 'bots',
    match: { groups: ['analytics'], actor: ['agent:claude'] },
    databases: ['warehouse'],
    roles: ['reporting'],
  },
];

describe('pgkey token commands', () => {
  let h: GatewayHarness;
  let person: string;
  const pgkey = async (argv: string[], env: Record<string, string> = {}) => {
    const stdout = new Capture();
    const stderr = new Capture();
    const code = await main(argv, {
      stdout,
      stderr,
      env: { PGKEY_CONFIG_HOME: join(h.dir, 'no-profiles'), PGKEY_TOKEN: person, ...env },
      cwd: h.dir,
    });
    return { code, stdout: stdout.text, stderr: stderr.text };
  };
  before(async () => {
    h = await startGatewayHarness({ policy: POLICY, tokenService: true });
    person = await h.token(['analytics']);
  });
  after(async () => {
    await h?.close();
  });

  it('mints: the token alone on stdout, what it is on stderr; it works at the gateway', async () => {
    const service = h.tokenService ?? '';
    const run = await pgkey([
      'token',
      'mint',
      '--name',
      'ci-deploy',
      '--db',
      'warehouse',
      '--role',
      'reporting',
      '--ttl',
      '10m',
      '--service',
      service,
    ]);
    assert.equal(run.code, 0, run.stderr);
    const token = run.stdout.trim();
    assert.equal(run.stdout, `${token}\n`);
    const { claims } = peek(token);
    assert.equal(claims.sub, 'svc:ci-deploy');
    assert.match(
      run.stderr,
      /^pgkey: minted svc:ci-deploy for role reporting on database warehouse$/m,
    );
    assert.match(run.stderr, new RegExp(`revoke +pgkey token revoke ${String(claims.jti)}`));
    const client = await connectPg(h, token, { user: 'reporting' });
    await client.end();

    const listed = await pgkey(['token', 'list', '--service', service]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^ID +NAME +DATABASE +ROLE +MINTED BY +EXPIRES +STATE$/m);
    assert.match(listed.stdout, /ci-deploy +warehouse +reporting +alice@example.com .* active$/m);

    const revoked = await pgkey(['token', 'revoke', String(claims.jti), '--service', service]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal(
      revoked.stdout,
      `revoked svc:ci-deploy (${String(claims.jti)}): role reporting on database warehouse\n`,
    );
    const json = await pgkey(['token', 'list', '--service', service, '--json']);
    const { tokens } = JSON.parse(json.stdout) as { tokens: { jti: string; state: string }[] };
    assert.equal(tokens.find((t) => t.jti === claims.jti)?.state, 'revoked');
  });

  it('exchanges for an agent token, from a token file', async () => {
    const file = join(h.dir, 'person.jwt');
    await writeFile(file, `${person}\n`, { mode: 0o600 });
    const run = await pgkey(
      [
        'token',
        'exchange',
        '--agent',
        'claude',
        '--ttl',
        '2m',
        '--token-file',
        file,
        '--service',
        h.tokenService ?? '',
      ],
      { PGKEY_TOKEN: '' },
    );
    assert.equal(run.code, 0, run.stderr);
    const { claims } = peek(run.stdout.trim());
    assert.deepEqual(claims.act, { sub: 'agent:claude' });
    assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 120);
    assert.match(run.stderr, /token for agent:claude acting as you/);
  });

  it('reports the service’s refusal, with its hint, and exit 1', async () => {
    const run = await pgkey([
      'token',
      'mint',
      '--name',
      'x',
      '--db',
      'warehouse',
      '--role',
      'app_owner',
      '--service',
      h.tokenService ?? '',
    ]);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /^pgkey: access denied: alice@example.com may not use role "app_owner"/m,
    );
    assert.match(run.stderr, /^hint: .*Roles you may use: analyst, reporting on warehouse/m);
    const json = await pgkey([
      'token',
      'mint',
      '--name',
      'x',
      '--db',
      'warehouse',
      '--role',
      'reporting',
      '--ttl',
      '9h',
      '--service',
      h.tokenService ?? '',
      '--json',
    ]);
    assert.equal(json.code, 2);
    const parsed = JSON.parse(json.stdout) as { error: { message: string } };
    assert.match(parsed.error.message, /longer than the maximum 1h/);
    const usage = await pgkey(['token', 'mint', '--name', 'x']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--name, --db and --role are required/);
  });
});
