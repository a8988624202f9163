/**
 * `pgkey demo`: pgkey end to end on this machine in one command. It starts a PostgreSQL of
 * its own (only pgkey may log in to it), the gateway and the built-in FIDO2 provider on
 * localhost, makes an administrator, and prints what to do next: register a key from the
 * enrollment link, sign in to get a token, connect with psql. Runs until told to stop
 * (Ctrl+C), then stops pgkey and PostgreSQL.
 */
import { userInfo } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';
import type { Writable } from 'node:stream';
import type { Logger } from '../runtime/logger.ts';
import { createEnrollmentLink, ensureUser } from './demo-accounts.ts';
import { DEMO_DATABASE, DEMO_ROLE } from './demo-database.ts';
import { DEMO_ADMIN_GROUP, DEMO_USERS_GROUP, DemoStack } from './demo-stack.ts';
import { startLoginHelper, type LoginHelper } from './login-helper.ts';

export const DEFAULT_DEMO_DIR = 'pgkey-demo';
export const DEFAULT_DEMO_EMAIL = 'admin@demo.local';

export interface DemoOptions {
  /** The demo directory, as the user typed it (relative to `cwd` unless absolute). */
  readonly dir: string;
  readonly cwd: string;
  readonly fresh: boolean;
  readonly email: string;
  readonly stdout: Writable;
  readonly logger: Logger;
  readonly env: NodeJS.ProcessEnv;
  /** Aborted on Ctrl+C / SIGTERM: the demo stops everything and resolves. */
  readonly stop: AbortSignal;
}

export async function runDemo(options: DemoOptions): Promise<number> {
  const out = options.stdout;
  const dir = isAbsolute(options.dir) ? options.dir : join(options.cwd, options.dir);
  const show = (path: string): string => {
    const rel = relative(options.cwd, path);
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
  };
  const stack = await DemoStack.prepare({
    dir,
    fresh: options.fresh,
    logger: options.logger,
    env: options.env,
  });
  let helper: LoginHelper | undefined;
  try {
    out.write(
      `pgkey demo: starting PostgreSQL ${stack.binaries.version} and pgkey in ${show(dir)}\n`,
    );
    const pg = await stack.startPostgres();
    const server = await stack.startPgkey();
    const { idp, directory, gateway } = server;
    if (idp === undefined || directory === undefined) throw new TypeError('demo config has no idp');

    const actor = {
      directory,
      audit: gateway.audit,
      actor: `cli:${userInfo().username}`,
      now: () => Date.now(),
    };
    const { user } = await ensureUser(actor, {
      email: options.email,
      displayName: 'Demo admin',
      groups: [DEMO_ADMIN_GROUP, DEMO_USERS_GROUP],
    });
    const ttlMs = stack.config.idp?.invite_ttl ?? 72 * 3_600_000;
    const { link } = await createEnrollmentLink(actor, { user, issuer: idp.issuer, ttlMs });
    const keys = (await directory.credentials.listByUser(user.id)).filter(
      (key) => key.revokedAt === undefined,
    );

    const tokenFile = join(dir, 'token');
    const conninfo = [
      'host=localhost',
      `port=${gateway.port}`,
      `user=${DEMO_ROLE}`,
      `dbname=${DEMO_DATABASE}`,
      'sslmode=verify-full',
      `sslrootcert=${conninfoValue(show(stack.caFile))}`,
    ].join(' ');
    const psql = `PGPASSWORD="$(cat ${shellWord(show(tokenFile))})" psql ${shellWord(conninfo)}`;
    const idpPort = Number(new URL(idp.issuer).port);
    helper = await startLoginHelper({
      issuer: idp.issuer,
      tokenFile,
      nextCommand: psql,
      preferredPort: idpPort + 1,
      onToken: ({ email, expiresAt }) =>
        out.write(
          `\n  token saved for ${email} in ${show(tokenFile)}, valid until ${new Date(expiresAt).toLocaleTimeString()}\n`,
        ),
    });

    const rows: [string, string][] = [
      [
        'PostgreSQL',
        `127.0.0.1:${pg.port}, only pgkey may log in (pg_hba: hostssl all all 127.0.0.1/32 cert)` +
          (pg.kept
            ? ''
            : `\n${' '.repeat(18)}its data is in a temp dir, gone at exit: the postgres user cannot reach ${show(dir)}`),
      ],
      ['gateway', `localhost:${gateway.port}, TLS from the demo CA ${show(stack.caFile)}`],
      ['FIDO2 provider', idp.issuer],
      ['admin pages', `${idp.issuer}/admin (step 1 signs you in; later: ${idp.issuer}/login)`],
      ['administrator', `${user.email} (groups ${user.groups.join(', ')})`],
      ['policy', `group ${DEMO_USERS_GROUP} → database ${DEMO_DATABASE} as role ${DEMO_ROLE}`],
      ['config, audit', `${show(stack.configFile)}, ${show(stack.auditFile)}`],
    ];
    const already =
      keys.length === 0
        ? ''
        : ` (${user.email} has ${keys.length} key${keys.length === 1 ? '' : 's'} already: this adds one; or skip to 2)`;
    out.write(
      [
        '',
        ...rows.map(([name, value]) => `  ${name.padEnd(15)} ${value}`),
        '',
        `1. Register your security key or passkey${already}:`,
        `     ${link}`,
        '',
        `2. Sign in with it; the token for psql is saved to ${show(tokenFile)}:`,
        `     ${helper.url}`,
        '',
        '3. Connect through the gateway:',
        `     ${psql}`,
        '',
        `Then: SELECT * FROM glossary;  Revoke the key on ${idp.issuer}/admin and watch the session end.`,
        `Open the links in a browser on this machine (WebAuthn needs localhost). From another machine:`,
        `  ssh -L ${idpPort}:localhost:${idpPort} -L ${helper.port}:localhost:${helper.port} <this host>`,
        'Ctrl+C stops the demo.',
        '',
      ].join('\n'),
    );
    await aborted(options.stop);
    out.write('\npgkey demo: stopping\n');
    return 0;
  } finally {
    await helper?.close();
    await stack.close();
  }
}

/** A word for sh: as is when plain, else double-quoted with `"`, `$`, `` ` `` and `\\` escaped. */
function shellWord(text: string): string {
  return /^[\w./=-]+$/.test(text) ? text : `"${text.replace(/["$`\\]/g, '\\$&')}"`;
}

/** A libpq connection string value: single-quoted when it has spaces or quotes. */
function conninfoValue(text: string): string {
  return /^[^\s'\\]+$/.test(text) ? text : `'${text.replace(/['\\]/g, '\\$&')}'`;
}

function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener('abort', () => resolve(), { once: true }),
  );
}
