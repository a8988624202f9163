// Step-up and assurance through the real gateway and a real PostgreSQL (issue 5):
// `fresh_auth` refuses a stale login with a HINT naming `pgkey login --fresh` and lets the
// fresh one in; `assurance: aal3` lets the built-in provider's attested, device-bound key in
// and refuses a synced passkey, and an issuer that cannot name the key as unverifiable;
// `authenticator.aaguids` and `authenticator.user_verified` each let the right key in and
// refuse the other with their own reason;
// the rule's idle limit (aal3: 15 minutes) and its 12-hour login limit end live sessions.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { ManualClock } from '../../src/runtime/clock.ts';
import {
  connectError,
  connectPg,
  liveSessionId,
  readAudit,
  sessionEnd,
  waitFor,
} from '../support/e2e-clients.ts';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';
import { createAttestationCa, type AttestationCa } from '../support/soft-authenticator.ts';
import { TestIssuer } from '../support/token-issuer.ts';

const MIN = 60_000;
/** The one key model the `models` rule lets in (written upper-case there: compared case-insensitively). */
const ALLOWED_MODEL = 'cb69481e-8ff7-4039-93ec-0a2729a154a8';
const OTHER_MODEL = 'fbfc3007-154e-4ecc-8c0b-6e020557d7bd';
const FRESH_HINT = 'log in again with your security key (pgkey login --fresh), then reconnect';

interface Refusal {
  readonly message: string | RegExp;
  readonly hint: string;
  /** `auth.failure` `reason`: the condition that stood in the way. */
  readonly reason: string;
}

/**
 * psql prints the FATAL and the HINT as PostgreSQL's own refusals look; node-postgres sees
 * SQLSTATE 28000 with the same message and hint; each attempt leaves one auth.failure.
 */
async function assertRefused(
  h: GatewayHarness,
  token: string,
  options: { user: string; database: string },
  expected: Refusal,
): Promise<void> {
  const auditBefore = readAudit(h).length;
  const psql = await h.psql(token, ['-c', 'SELECT 1'], options);
  assert.equal(psql.code, 2, psql.stderr);
  const prefix = `psql: error: connection to server at "127.0.0.1", port ${h.gateway.port} failed: FATAL:  `;
  assert.ok(psql.stderr.startsWith(prefix), psql.stderr);
  const [message = '', ...rest] = psql.stderr.slice(prefix.length).split('\n');
  const assertMessage = (text: string): void => {
    if (typeof expected.message === 'string') assert.equal(text, expected.message);
    else assert.match(text, expected.message);
  };
  assertMessage(message);
  assert.deepEqual(rest, [`HINT:  ${expected.hint}`, '']);

  // A moment later: a login age in the message may have moved on by a second.
  const error = await connectError(h, token, options);
  assert.equal(error.severity, 'FATAL');
  assert.equal(error.code, '28000');
  assertMessage(error.message);
  assert.equal(error.hint, expected.hint);

  const failures = readAudit(h)
    .slice(auditBefore)
    .map((r) => [r.type, r.reason, r.user]);
  assert.deepEqual(failures, [
    ['auth.failure', expected.reason, options.user],
    ['auth.failure', expected.reason, options.user],
  ]);
}

describe('step-up and authenticator conditions at the gateway', () => {
  let h: GatewayHarness;
  let ca: AttestationCa;
  let okta: TestIssuer;
  let dir: string;
  const nowSeconds = (): number => Math.floor(Date.now() / 1000);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgkey-assurance-'));
    ca = await createAttestationCa();
    const roots = join(dir, 'attestation-roots.pem');
    await writeFile(roots, ca.certPem);
    // An Okta-profile issuer: FIDO2 evidence (`amr` pop), but no word on the key.
    okta = await TestIssuer.create({ issuer: 'https://okta.test.pgkey' });
    const oktaJwks = await okta.writeJwksFile(dir);
    h = await startGatewayHarness({
      // `preferred`: the provider lets a key sign in on presence alone, and says so.
      idp: {
        authenticators: { attestation: 'direct', trusted_roots: roots },
        user_verification: 'preferred',
      },
      issuers: [
        {
          name: 'okta',
          issuer: okta.issuer,
          audience: 'pgkey',
          profile: 'okta',
          jwks_file: oktaJwks,
        },
      ],
      policy: [
        {
          name: 'prod-dba',
          match: { groups: ['dba'], issuers: ['builtin', 'okta'] },
          databases: ['warehouse'],
          roles: ['app_owner'],
          assurance: 'aal3',
        },
        {
          name: 'ops',
          match: { groups: ['ops'] },
          databases: ['warehouse'],
          roles: ['reporting'],
          fresh_auth: '5m',
        },
        {
          name: 'models',
          match: { groups: ['models'] },
          databases: ['warehouse'],
          roles: ['analyst'],
          authenticator: { attested: true, aaguids: [ALLOWED_MODEL.toUpperCase()] },
        },
        {
          name: 'uv',
          match: { groups: ['uv'] },
          databases: ['warehouse'],
          roles: ['reporting'],
          authenticator: { user_verified: true },
        },
        {
          name: 'quick',
          match: { groups: ['quick'] },
          databases: ['warehouse'],
          roles: ['analyst'],
          idle_timeout: '2s',
        },
      ],
    });
  });
  after(async () => {
    await h?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('fresh_auth: a stale login is refused with the HINT; a fresh login gets in', async () => {
    const options = { user: 'reporting', database: 'warehouse' };
    await assertRefused(
      h,
      await h.token(['ops'], { auth_time: nowSeconds() - 6 * 60 - 10 }),
      options,
      {
        message:
          /^rule "ops" requires a security-key login within the last 5m; yours was 6m\d+s ago$/,
        hint: FRESH_HINT,
        reason: 'stale_auth',
      },
    );
    // What `pgkey login --fresh` brings: a token whose auth_time is now.
    const fresh = await h.psql(
      await h.token(['ops']),
      ['-At', '-c', 'SELECT current_user'],
      options,
    );
    assert.equal(fresh.stderr, '');
    assert.equal(fresh.stdout, 'reporting\n');
  });

  it('aal3: the built-in provider’s attested, device-bound key gets in; the session says aal3', async () => {
    const person = await h.idp!.enroll('ada@example.com', ['dba'], {
      attestation: 'packed-x5c',
      attestationIssuer: ca,
    });
    const token = await h.idp!.token(person);
    const result = await h.psql(token, ['-At', '-c', 'SELECT current_user'], {
      user: 'app_owner',
      database: 'warehouse',
    });
    assert.equal(result.stderr, '');
    assert.equal(result.stdout, 'app_owner\n');
    const start = readAudit(h).findLast((r) => r.type === 'session.start');
    assert.equal(start?.rule, 'prod-dba');
    assert.equal(start?.assurance, 'aal3');
    assert.equal(start?.credential_id, person.credentialId);
    const success = readAudit(h).findLast((r) => r.type === 'auth.success');
    assert.equal(success?.assurance, 'aal3');
  });

  it('aal3: a synced passkey without attestation is refused, and told which key it takes', async () => {
    const person = await h.idp!.enroll('bob@example.com', ['dba'], {
      attestation: 'none',
      backupEligible: true,
    });
    await assertRefused(
      h,
      await h.idp!.token(person),
      { user: 'app_owner', database: 'warehouse' },
      {
        message:
          'rule "prod-dba" (assurance aal3) requires a device-bound security key and an attested key model; yours is a synced passkey; your key\'s attestation was not verified when it was enrolled',
        hint: 'log in again (pgkey login --fresh) with a device-bound security key and an attested key model, then reconnect',
        reason: 'device_bound_required',
      },
    );
  });

  it('aal3: a device-bound key whose attestation was never verified is refused', async () => {
    const person = await h.idp!.enroll('carol@example.com', ['dba'], { attestation: 'none' });
    await assertRefused(
      h,
      await h.idp!.token(person),
      { user: 'app_owner', database: 'warehouse' },
      {
        message:
          'rule "prod-dba" (assurance aal3) requires an attested key model; your key\'s attestation was not verified when it was enrolled',
        hint: 'log in again (pgkey login --fresh) with an attested key model, then reconnect',
        reason: 'attestation_required',
      },
    );
  });

  it('aal3: an issuer whose tokens do not name the key is refused as unverifiable', async () => {
    const token = await okta.sign({
      amr: ['pop'],
      auth_time: nowSeconds(),
      groups: ['dba'],
      email: 'dave@example.com',
    });
    await assertRefused(
      h,
      token,
      { user: 'app_owner', database: 'warehouse' },
      {
        message:
          'rule "prod-dba" (assurance aal3) requires a device-bound security key, an attested key model and the key\'s PIN or biometric (user verification), which issuer "okta" does not report: it cannot be verified for your token',
        hint: "only tokens that name the security key used (pgkey's built-in provider: pgkey login) can meet this rule",
        reason: 'authenticator_unverifiable',
      },
    );
  });

  it('authenticator.aaguids: an attested key of a listed model gets in, another model is refused', async () => {
    const options = { user: 'analyst', database: 'warehouse' };
    const listed = await h.idp!.enroll('erin@example.com', ['models'], {
      attestation: 'packed-x5c',
      attestationIssuer: ca,
      aaguid: ALLOWED_MODEL,
    });
    const ok = await h.psql(await h.idp!.token(listed), ['-At', '-c', 'SELECT 1'], options);
    assert.equal(ok.stderr, '');
    assert.equal(ok.stdout, '1\n');
    assert.equal(readAudit(h).findLast((r) => r.type === 'auth.success')?.aaguid, ALLOWED_MODEL);

    const other = await h.idp!.enroll('fay@example.com', ['models'], {
      attestation: 'packed-x5c',
      attestationIssuer: ca,
      aaguid: OTHER_MODEL,
    });
    await assertRefused(h, await h.idp!.token(other), options, {
      message: `rule "models" requires a key model the rule lists; your key model (AAGUID) is ${OTHER_MODEL}`,
      hint: 'log in again (pgkey login --fresh) with a key model the rule lists, then reconnect',
      reason: 'aaguid_not_allowed',
    });
  });

  it('authenticator.user_verified: a login with the PIN gets in, presence alone is refused', async () => {
    const options = { user: 'reporting', database: 'warehouse' };
    const pin = await h.idp!.enroll('gus@example.com', ['uv'], { userVerified: true });
    const ok = await h.psql(await h.idp!.token(pin), ['-At', '-c', 'SELECT 1'], options);
    assert.equal(ok.stderr, '');
    assert.equal(ok.stdout, '1\n');

    const touch = await h.idp!.enroll('hal@example.com', ['uv'], { userVerified: false });
    await assertRefused(h, await h.idp!.token(touch), options, {
      message:
        'rule "uv" requires the key\'s PIN or biometric (user verification); your login did not use the key\'s PIN or biometric',
      hint: "log in again (pgkey login --fresh) with the key's PIN or biometric (user verification), then reconnect",
      reason: 'user_verification_required',
    });
  });

  it('a rule’s idle_timeout ends its idle sessions (shorter than session.idle_timeout)', async () => {
    const client = await connectPg(h, await h.token(['quick']));
    const id = await liveSessionId(h, 'analyst');
    try {
      await client.query('SELECT 1');
      const error = await waitFor('the idle FATAL', () => client.errors[0], 8000);
      assert.ok(error instanceof pg.DatabaseError, String(error));
      assert.equal(error.code, '57P05');
      assert.equal(error.message, 'terminating connection due to idle timeout');
      const end = await sessionEnd(h, id);
      assert.equal(end.reason, 'idle_timeout');
      // Not before the rule's 2s (the global limit is the 1h default: waiting proves the rest).
      assert.ok((end.duration_ms as number) >= 2000, `ended after ${String(end.duration_ms)} ms`);
    } finally {
      await client.end();
    }
  });
});

describe('aal3 sessions on a moving clock', () => {
  // The gateway and the token issuer run on a clock the test moves: 15 minutes of idleness
  // pass without waiting for them. Every connection opens before the clock moves, since
  // PostgreSQL checks pgkey's ephemeral certificates against the real time.
  const clock = new ManualClock(Date.now());
  let h: GatewayHarness;
  before(async () => {
    h = await startGatewayHarness({
      clock,
      policy: [
        {
          name: 'prod-dba',
          match: { groups: ['dba'] },
          databases: ['warehouse'],
          roles: ['app_owner'],
          assurance: 'aal3',
        },
        {
          name: 'analysts',
          match: { groups: ['analytics'] },
          databases: ['warehouse'],
          roles: ['analyst'],
        },
      ],
    });
  });
  after(async () => {
    await h?.close();
  });

  /** A builtin-profile token for an attested, device-bound key that verified the person. */
  const keyToken = (groups: string[], authTime: number) =>
    h.token(groups, { auth_time: Math.floor(authTime / 1000), user_verified: true }, 7200);

  const alive = async (client: pg.Client & { errors: Error[] }): Promise<void> => {
    assert.deepEqual(client.errors, []);
    const result = await client.query('SELECT 1 AS one');
    assert.equal((result.rows[0] as { one: number }).one, 1);
  };

  async function ended(
    client: pg.Client & { errors: Error[] },
    id: string,
    expected: { code: string; message: string; hint?: string; reason: string },
  ): Promise<void> {
    const error = await waitFor('the FATAL', () => client.errors[0]);
    assert.ok(error instanceof pg.DatabaseError, String(error));
    assert.equal(error.code, expected.code);
    assert.equal(error.message, expected.message);
    assert.equal(error.hint, expected.hint);
    const end = await sessionEnd(h, id);
    assert.equal(end.reason, expected.reason);
  }

  it('the 15-minute idle limit of aal3 ends an idle session; the global 1h does not yet', async () => {
    assert.equal(h.config.session.idle_timeout, 60 * MIN, 'the global limit is the 1h default');
    const dba = await connectPg(h, await keyToken(['dba'], clock.now()), { user: 'app_owner' });
    const dbaId = await liveSessionId(h, 'app_owner');
    const analyst = await connectPg(h, await keyToken(['analytics'], clock.now()));
    const analystId = await liveSessionId(h, 'analyst');
    // A login 11h50m old: within aal3's 12h at connect, reaching it 10 minutes from now.
    const late = await connectPg(
      h,
      await keyToken(['dba'], clock.now() - 11 * 60 * MIN - 50 * MIN),
      {
        user: 'app_owner',
      },
    );
    const lateId = await waitFor(
      'the second dba session',
      () => h.gateway.sessions.list().find((s) => s.role === 'app_owner' && s.id !== dbaId)?.id,
    );
    try {
      const start = readAudit(h).find((r) => r.type === 'session.start' && r.session === dbaId);
      assert.equal(start?.assurance, 'aal3');

      clock.advance(5 * MIN);
      for (const client of [dba, analyst, late]) await alive(client);

      // 12h after the late session's login: it ends (idle, so at once) and says why.
      clock.advance(5 * MIN);
      await ended(late, lateId, {
        code: '57P01',
        message:
          'terminating connection: the security-key login behind it is 12h old, the limit of assurance aal3',
        hint: 'log in again with your security key (pgkey login --fresh) and reconnect',
        reason: 'reauthentication_required',
      });
      await alive(dba);
      await alive(analyst);

      // 14 quiet minutes: under the limit, the session still answers (and is active again).
      clock.advance(14 * MIN);
      await alive(dba);
      // 19 quiet minutes: past it (the idle check looks every quarter of the limit).
      clock.advance(19 * MIN);
      await ended(dba, dbaId, {
        code: '57P05',
        message: 'terminating connection due to idle timeout',
        reason: 'idle_timeout',
      });
      // The analyst's rule has no idle limit of its own: session.idle_timeout (1h) applies.
      await alive(analyst);
      assert.ok(h.gateway.sessions.list().some((s) => s.id === analystId));
    } finally {
      for (const client of [dba, analyst, late]) await client.end().catch(() => undefined);
    }
  });
});
