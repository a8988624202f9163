import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectError, readAudit } from '../support/e2e-clients.ts';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';
import { TestIssuer } from '../support/token-issuer.ts';

/**
 * Workload identity (docs/automation.md): a CI provider's OIDC token — shaped like GitHub
 * Actions' — is the password. A `workload` issuer proves no FIDO2; the policy's claim
 * conditions (repository, ref, environment) decide, and a denial names the claim that
 * did not match. psql is the client, as in the documented workflow.
 */
const GITHUB = 'https://token.actions.githubusercontent.com';
const POLICY = [
  {
    name: 'deploy-from-main',
    match: {
      issuers: ['github'],
      claims: { repository: 'acme/app', ref: 'refs/heads/main', environment: 'production' },
    },
    databases: ['warehouse'],
    roles: ['reporting'],
  },
];

/** The claims GitHub puts in an Actions OIDC token (the ones policy reads, and a few more). */
function actionsClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    sub: 'repo:acme/app:environment:production',
    aud: 'pgkey',
    repository: 'acme/app',
    repository_owner: 'acme',
    ref: 'refs/heads/main',
    environment: 'production',
    workflow: 'deploy',
    event_name: 'push',
    run_id: '1234567890',
    ...overrides,
  };
}

describe('workload identity: GitHub Actions OIDC tokens', () => {
  let h: GatewayHarness;
  let github: TestIssuer;
  let keys: string;
  before(async () => {
    keys = await mkdtemp(join(tmpdir(), 'pgkey-workload-'));
    github = await TestIssuer.create({ issuer: GITHUB, kid: 'gh-1', alg: 'RS256' });
    h = await startGatewayHarness({
      policy: POLICY,
      issuers: [
        {
          name: 'github',
          issuer: GITHUB,
          audience: 'pgkey',
          profile: 'workload',
          jwks_file: await github.writeJwksFile(keys),
          typ: 'JWT',
        },
      ],
    });
  });
  after(async () => {
    await h?.close();
    await rm(keys, { recursive: true, force: true });
  });

  it('a token with matching claims connects as the role (psql, PGPASSWORD)', async () => {
    const token = await github.sign(actionsClaims(), { header: { typ: 'JWT' } });
    const result = await h.psql(token, ['-At', '-c', 'SELECT current_user'], {
      user: 'reporting',
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), 'reporting');
    const success = readAudit(h).findLast((e) => e.type === 'auth.success');
    assert.equal(success?.subject, 'repo:acme/app:environment:production');
    assert.equal(success?.issuer, 'github');
    assert.equal(success?.rule, 'deploy-from-main');
  });

  it('a token from another branch is denied with a hint naming the claim', async () => {
    const token = await github.sign(actionsClaims({ ref: 'refs/heads/feature' }), {
      header: { typ: 'JWT' },
    });
    const refused = await connectError(h, token, { user: 'reporting' });
    assert.equal(refused.code, '28000');
    assert.match(refused.message, /may not use role "reporting" on database "warehouse"/);
    assert.match(
      refused.hint ?? '',
      /rule "deploy-from-main" grants this to claim "ref" = "refs\/heads\/main"/,
    );
    assert.doesNotMatch(refused.hint ?? '', /feature/, 'the hint never echoes claim values');

    const psql = await h.psql(token, ['-c', 'SELECT 1'], { user: 'reporting' });
    assert.notEqual(psql.code, 0);
    assert.match(psql.stderr, /claim "ref"/);
  });

  it('a token from another repository or environment is denied too', async () => {
    for (const overrides of [
      { repository: 'acme/other' },
      { environment: 'staging' },
      { environment: undefined },
    ]) {
      const token = await github.sign(actionsClaims(overrides), { header: { typ: 'JWT' } });
      const refused = await connectError(h, token, { user: 'reporting' });
      assert.equal(refused.code, '28000', JSON.stringify(overrides));
    }
  });
});
