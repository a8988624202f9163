/**
 * `pgkey demo --selftest`: the whole path a person takes, headless, in a temp dir, with the
 * software authenticator for their key — and then the revocation that must bite:
 *
 *   PostgreSQL → pgkey → user + invite → enroll (the enrollment page's endpoints) → log in
 *   (authorization code + PKCE for pgkey-cli, the sign-in page's endpoints) → token → psql
 *   through the gateway → a second psql holding a session → revoke the key from a second
 *   directory connection, as `pgkey keys revoke` does → that session ends with FATAL 57P01
 *   within a second → the old token is refused → the audit trail tells it all.
 *
 * Every step prints one line (step-reporter.ts). Exit code 0 only when every step passed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Writable } from 'node:stream';
import type { Logger } from '../runtime/logger.ts';
import { openDirectory } from '../store/open-directory.ts';
import { createEnrollmentLink, ensureUser, revokeKey, type DemoActor } from './demo-accounts.ts';
import { DEMO_DATABASE, DEMO_ROLE } from './demo-database.ts';
import { DEMO_ADMIN_GROUP, DEMO_USERS_GROUP, DemoStack } from './demo-stack.ts';
import { enrollWithSoftKey } from './enrollment-driver.ts';
import { loginWithSoftKey } from './oidc-login-driver.ts';
import { clientProgram } from './postgres-binaries.ts';
import { serverErrors, startPsql, type GatewayTarget } from './psql-client.ts';
import { jwtClaims } from './oidc-client.ts';
import { connectionRefusal, waitForActiveQuery, waitForAuditEvents } from './selftest-checks.ts';
import { SoftAuthenticator } from './soft-authenticator.ts';
import { formatMs, StepFailed, StepReporter, StepsStopped } from './step-reporter.ts';

export interface SelftestOptions {
  readonly stdout: Writable;
  readonly logger: Logger;
  readonly env?: NodeJS.ProcessEnv;
  readonly email?: string;
}

/** How soon a revoked key's session must end (DESIGN.md step 8). */
export const REVOCATION_DEADLINE_MS = 1000;
const HOLD_QUERY = 'SELECT pg_sleep(30)';
const REVOKE_REASON = 'selftest';

/** The steps, in order; `stop pgkey and PostgreSQL` follows whatever happened. */
export const SELFTEST_STEPS = [
  'find PostgreSQL',
  'start PostgreSQL',
  'start pgkey',
  'create user and invite',
  'enroll a key',
  'log in',
  'access token',
  'psql through the gateway',
  'hold a session open',
  'revoke the key',
  'session ended',
  'old token refused',
  'audit trail',
] as const;

export async function runSelftest(options: SelftestOptions): Promise<number> {
  const out = options.stdout;
  const dir = await mkdtemp(join(tmpdir(), 'pgkey-selftest-'));
  out.write(`pgkey demo --selftest (in ${dir})\n`);
  const report = new StepReporter(out, SELFTEST_STEPS);
  let stack: DemoStack | undefined;
  try {
    stack = await report.step('find PostgreSQL', async () => {
      const prepared = await DemoStack.prepare({
        dir,
        throwaway: true,
        logger: options.logger,
        ...(options.env === undefined ? {} : { env: options.env }),
      });
      const { version, binDir } = prepared.binaries;
      return { value: prepared, detail: `${version} in ${binDir}` };
    });
    await run(report, stack, options.email ?? 'admin@demo.local');
  } catch (error) {
    if (!(error instanceof StepsStopped)) throw error;
    report.finish();
  } finally {
    const running = stack;
    if (running !== undefined) {
      await report.always('stop pgkey and PostgreSQL', async () => {
        await running.close();
        return 'stopped; temp dir removed';
      });
    }
    await rm(dir, { recursive: true, force: true });
  }
  const total = report.outcomes.length;
  out.write(
    report.failed
      ? `selftest FAILED: ${report.passed} of ${total} steps passed\n`
      : `selftest passed: ${report.passed} of ${total} steps\n`,
  );
  return report.failed ? 1 : 0;
}

async function run(report: StepReporter, stack: DemoStack, email: string): Promise<void> {
  const pg = await report.step('start PostgreSQL', async () => {
    const started = await stack.startPostgres();
    return { value: started, detail: `127.0.0.1:${started.port}, TLS, pg_hba hostssl … cert` };
  });
  const { server, issuer } = await report.step('start pgkey', async () => {
    const started = await stack.startPgkey();
    if (started.idp === undefined) throw new StepFailed('the demo config runs no provider');
    const detail = `gateway localhost:${started.gateway.port}, provider ${started.idp.issuer}`;
    return { value: { server: started, issuer: started.idp.issuer }, detail };
  });
  const admin: DemoActor = {
    directory: stack.directory,
    audit: server.gateway.audit,
    actor: `cli:${userInfo().username}`,
    now: () => Date.now(),
  };
  const link = await report.step('create user and invite', async () => {
    const { user } = await ensureUser(admin, {
      email,
      displayName: 'Demo admin',
      groups: [DEMO_ADMIN_GROUP, DEMO_USERS_GROUP],
    });
    const invite = await createEnrollmentLink(admin, { user, issuer, ttlMs: 10 * 60_000 });
    return { value: invite.link, detail: `${email} in ${user.groups.join(', ')}` };
  });

  const authenticator = new SoftAuthenticator();
  const credentialId = await report.step('enroll a key', async () => {
    const enrolled = await enrollWithSoftKey({ link, authenticator, name: 'selftest' });
    const path = new URL(link).pathname.replace(/[^/]+$/, '…');
    const key = `${enrolled.credentialId.slice(0, 10)}…`;
    return { value: enrolled.credentialId, detail: `POST ${path}/options, /verify → key ${key}` };
  });
  const token = await report.step('log in', async () => {
    const tokens = await loginWithSoftKey({ issuer, authenticator });
    return { value: tokens.accessToken, detail: 'authorization code + PKCE for pgkey-cli' };
  });
  await report.step('access token', () => {
    const { header, payload } = jwtClaims(token);
    const groups = Array.isArray(payload.groups) ? payload.groups.join(', ') : '';
    const ttl = Number(payload.exp) - Number(payload.iat);
    const detail = `${String(header.typ)}, acr ${String(payload.acr)}, groups ${groups}, ${ttl} s`;
    return { value: undefined, detail };
  });

  const target: GatewayTarget = {
    port: server.gateway.port,
    caFile: stack.caFile,
    user: DEMO_ROLE,
    database: DEMO_DATABASE,
  };
  const psql = clientProgram(stack.binaries, 'psql');
  await report.step('psql through the gateway', async () => {
    const result = await startPsql(psql, target, token, 'SELECT current_user').done;
    const user = result.stdout.trim();
    if (result.code !== 0 || user !== DEMO_ROLE) {
      throw new StepFailed(`psql exited ${result.code}: ${result.stderr.trim() || user}`);
    }
    return { value: undefined, detail: `SELECT current_user → ${user}` };
  });
  const held = await report.step('hold a session open', async () => {
    const running = startPsql(psql, target, token, HOLD_QUERY);
    await waitForActiveQuery(pg, DEMO_ROLE, HOLD_QUERY).catch((error: unknown) => {
      running.stop();
      throw error;
    });
    return { value: running, detail: `second psql running ${HOLD_QUERY}` };
  });
  try {
    const revokedAt = await report.step('revoke the key', async () => {
      // A second connection to the directory file, as `pgkey keys revoke` makes from its own
      // process: the server hears of it through the directory's change feed.
      const directory = await openDirectory(stack.config.directory);
      try {
        const at = performance.now();
        await revokeKey({ ...admin, directory }, { credentialId, reason: REVOKE_REASON });
        return { value: at, detail: 'from a second directory connection, as pgkey keys revoke' };
      } finally {
        await directory.close();
      }
    });
    await report.step('session ended', async () => {
      const result = await Promise.race([held.done, delay(5000)]);
      if (result === undefined) {
        throw new StepFailed('the session was still open 5 s after the revocation');
      }
      const after = result.endedAt - revokedAt;
      const fatal = serverErrors(result.stderr).find((line) => line.includes('57P01'));
      if (fatal === undefined) {
        throw new StepFailed(`no FATAL 57P01 from psql: ${result.stderr.trim()}`);
      }
      if (after > REVOCATION_DEADLINE_MS) {
        throw new StepFailed(`ended after ${formatMs(after)}: too late`);
      }
      return { value: undefined, detail: `after ${formatMs(after)}: ${fatal}` };
    });
  } finally {
    held.stop();
  }
  await report.step('old token refused', async () => {
    const refusal = await connectionRefusal(target, token);
    if (refusal.code !== '28P01') {
      throw new StepFailed(`refused with ${refusal.code}: ${refusal.message}`);
    }
    return { value: undefined, detail: `${refusal.code}: ${refusal.message}` };
  });
  await report.step('audit trail', async () => {
    const wanted = ['session.start', 'key.revoked', 'session.terminated'];
    const found = await waitForAuditEvents(stack.auditFile, wanted);
    const missing = wanted.filter((type) => !found.has(type));
    if (missing.length > 0) throw new StepFailed(`missing ${missing.join(', ')}`);
    return { value: undefined, detail: wanted.join(', ') };
  });
}

function delay(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(resolve, ms, undefined));
}
