// reliability.md E28: PKCE (RFC 7636) is required of every client and S256 is the only
// method; a code is single use, and redeeming it twice revokes what it issued (RFC 6749
// §4.1.2, RFC 9700 §4.8 downgrade: a verifier without a challenge is refused too).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Browser, CLI, CLI_REDIRECT, pkce, startHarness, type Harness } from './harness.ts';

describe('E28: PKCE and single-use codes', () => {
  let h: Harness;
  let secretDir: string;
  const secret = randomBytes(32).toString('base64url');
  before(async () => {
    secretDir = await mkdtemp(join(tmpdir(), 'pgkey-secret-'));
    const secretFile = join(secretDir, 'grafana-secret');
    await writeFile(secretFile, `${secret}\n`, { mode: 0o600 });
    h = await startHarness({
      idp: {
        clients: [
          {
            client_id: 'grafana',
            redirect_uris: ['https://grafana.example.com/login/generic_oauth'],
            client_secret_file: secretFile,
          },
        ],
      },
    });
  });
  after(async () => {
    await h.close();
    await rm(secretDir, { recursive: true, force: true });
  });

  /** The authorization error sent back to the client's redirect URI (RFC 6749 §4.1.2.1). */
  async function authorizationError(params: Record<string, string | undefined>) {
    const defined = Object.fromEntries(
      Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined),
    );
    const { response, url } = await h.start(defined, new Browser());
    assert.equal(response.status, 303, `${url}: expected a redirect to the client`);
    const location = new URL(String(response.headers.get('location')));
    assert.equal(location.searchParams.get('code'), null);
    assert.equal(location.searchParams.get('iss'), h.issuer, 'RFC 9207 iss on errors too');
    return location.searchParams.get('error');
  }

  it('an authorization request without code_challenge is refused, for public and confidential clients', async () => {
    const url = new URL('/auth', h.issuer);
    for (const [clientId, redirectUri] of [
      [CLI, CLI_REDIRECT],
      ['grafana', 'https://grafana.example.com/login/generic_oauth'],
    ] as const) {
      url.search = new URLSearchParams({
        client_id: clientId,
        redirect_uri: redirectUri,
        response_type: 'code',
        scope: 'openid',
        state: 's',
      }).toString();
      const response = await new Browser().fetch(url);
      assert.equal(response.status, 303);
      const location = new URL(String(response.headers.get('location')));
      assert.equal(location.searchParams.get('error'), 'invalid_request', clientId);
      assert.match(String(location.searchParams.get('error_description')), /PKCE/);
      assert.equal(location.searchParams.get('code'), null);
    }
  });

  it('code_challenge_method plain, or a challenge without a method, is refused', async () => {
    const { challenge } = pkce();
    assert.equal(
      await authorizationError({ code_challenge: challenge, code_challenge_method: 'plain' }),
      'invalid_request',
    );
    assert.equal(
      await authorizationError({ code_challenge: challenge, code_challenge_method: 'S512' }),
      'invalid_request',
    );
    const url = new URL('/auth', h.issuer);
    url.search = new URLSearchParams({
      client_id: CLI,
      redirect_uri: CLI_REDIRECT,
      response_type: 'code',
      scope: 'openid',
      code_challenge: challenge,
    }).toString();
    const response = await new Browser().fetch(url);
    const location = new URL(String(response.headers.get('location')));
    assert.equal(location.searchParams.get('error'), 'invalid_request');
  });

  async function code(): Promise<{ code: string; verifier: string }> {
    const { callback, pkce: proof } = await h.authorize();
    return { code: String(callback.searchParams.get('code')), verifier: proof.verifier };
  }

  const exchange = (body: Record<string, string>) =>
    h.token({
      grant_type: 'authorization_code',
      client_id: CLI,
      redirect_uri: CLI_REDIRECT,
      ...body,
    });

  it('a token request without the verifier, or with the wrong one, is invalid_grant', async () => {
    const issued = await code();
    assert.equal((await exchange({ code: issued.code })).json.error, 'invalid_grant');
    const other = await code();
    const wrong = await exchange({ code: other.code, code_verifier: pkce().verifier });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.json.error, 'invalid_grant');
  });

  it('a verifier for a code that carries no challenge is invalid_grant (RFC 9700 §4.8)', async () => {
    const issued = await code();
    // Forge the downgrade in storage: the code as if it had been issued without PKCE.
    const stored = await h.directory.oidc.find('AuthorizationCode', issued.code, Date.now());
    assert.ok(stored !== undefined);
    const { codeChallenge, codeChallengeMethod, ...rest } = stored.payload;
    assert.equal(codeChallengeMethod, 'S256');
    assert.equal(typeof codeChallenge, 'string');
    await h.directory.oidc.upsert('AuthorizationCode', issued.code, rest, stored.expiresAt, {
      grantId: String(rest.grantId),
    });
    const refused = await exchange({ code: issued.code, code_verifier: issued.verifier });
    assert.equal(refused.json.error, 'invalid_grant');
  });

  it('a reused code is invalid_grant and revokes the tokens the first use issued', async () => {
    const issued = await code();
    const first = await exchange({ code: issued.code, code_verifier: issued.verifier });
    assert.equal(first.status, 200, JSON.stringify(first.json));
    const second = await exchange({ code: issued.code, code_verifier: issued.verifier });
    assert.equal(second.status, 400);
    assert.equal(second.json.error, 'invalid_grant');
    const refresh = await h.token({
      grant_type: 'refresh_token',
      client_id: CLI,
      refresh_token: String(first.json.refresh_token),
    });
    assert.equal(refresh.json.error, 'invalid_grant', 'the refresh token of the first use is gone');
  });

  it('two concurrent redemptions of one code: exactly one succeeds', async () => {
    const issued = await code();
    const results = await Promise.all(
      [1, 2, 3].map(() => exchange({ code: issued.code, code_verifier: issued.verifier })),
    );
    assert.equal(results.filter((r) => r.status === 200).length, 1);
    assert.equal(results.filter((r) => r.json.error === 'invalid_grant').length, 2);
  });

  it('a confidential client needs its secret and PKCE', async () => {
    const redirect = 'https://grafana.example.com/login/generic_oauth';
    const { callback, pkce: proof } = await h.authorize({
      client_id: 'grafana',
      redirect_uri: redirect,
    });
    const body = {
      grant_type: 'authorization_code',
      code: String(callback.searchParams.get('code')),
      redirect_uri: redirect,
    };
    const basic = (password: string) =>
      `Basic ${Buffer.from(`grafana:${encodeURIComponent(password)}`).toString('base64')}`;
    const noSecret = await h.token({
      ...body,
      client_id: 'grafana',
      code_verifier: proof.verifier,
    });
    assert.equal(noSecret.json.error, 'invalid_client');
    const badSecret = await h.token(
      { ...body, code_verifier: proof.verifier },
      { authorization: basic('nope') },
    );
    assert.equal(badSecret.json.error, 'invalid_client');
    const ok = await h.token(
      { ...body, code_verifier: proof.verifier },
      { authorization: basic(secret) },
    );
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
  });
});
