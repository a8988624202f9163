import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditLog } from '../../src/audit/audit-log.ts';
import { parseConfig } from '../../src/config/load.ts';
import { freePort } from '../../src/demo/free-port.ts';
import type { Config, ConfigInput } from '../../src/config/schema.ts';
import { startGateway, type Gateway } from '../../src/gateway/gateway.ts';
import { initUpstreamCa } from '../../src/pki/upstream-ca.ts';
import type { Clock } from '../../src/runtime/clock.ts';
import { silentLogger, type Logger } from '../../src/runtime/logger.ts';
import { startPgkeyServer, type PgkeyServer } from '../../src/server/pgkey-server.ts';
import { builtinIdp, builtinIdpConfig, type BuiltinIdp } from './builtin-idp.ts';
import { startPgCluster, type PgCluster } from './pg-cluster.ts';
import { createTestCa } from './test-pki.ts';
import { TestIssuer } from './token-issuer.ts';

/**
 * A whole pgkey in a temp dir for end-to-end tests: a real PostgreSQL 15 (cert or scram
 * auth), pgkey's upstream CA, a gateway TLS certificate from a test CA, a test token issuer
 * with a static JWKS file, and the gateway itself, in-process, on random ports. Clients are
 * the real ones (psql, pgbench, pg), pointed at `localhost` with verify-full.
 */
export interface GatewayHarness {
  readonly pg: PgCluster;
  readonly gateway: Gateway;
  readonly issuer: TestIssuer;
  readonly dir: string;
  /** The CA that signed the gateway's TLS certificate: clients' sslrootcert. */
  readonly clientCaFile: string;
  readonly config: Config;
  readonly auditFile: string;
  /** With `idp`: the whole server (gateway, provider, directory), as `pgkey serve` runs it. */
  readonly server: PgkeyServer | undefined;
  /** With `idp`: people, keys and tokens of the built-in provider. */
  readonly idp: BuiltinIdp | undefined;
  /** With `idp` or `tokenService`: the config as a file, for `pgkey …` commands run as other processes. */
  readonly configFile: string | undefined;
  /** With `tokenService`: its issuer URL (plain http on loopback). */
  readonly tokenService: string | undefined;
  /** libpq environment for a connection through the gateway (token as PGPASSWORD). */
  env(token: string, extra?: Record<string, string>): NodeJS.ProcessEnv;
  /** Runs psql through the gateway. */
  psql(
    token: string,
    args: readonly string[],
    options?: { user?: string; database?: string; env?: Record<string, string>; input?: string },
  ): Promise<RunResult>;
  /** A human FIDO2 token for the test issuer with these groups. */
  token(
    groups: readonly string[],
    claims?: Record<string, unknown>,
    ttlSeconds?: number,
  ): Promise<string>;
  close(): Promise<void>;
}

export interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface HarnessOptions {
  readonly auth?: 'cert' | 'scram';
  readonly policy?: ConfigInput['policy'];
  /** `provisioning:` for rules with `provision` (per-person roles). */
  readonly provisioning?: ConfigInput['provisioning'];
  readonly session?: ConfigInput['session'];
  readonly listen?: Partial<NonNullable<ConfigInput['listen']>>;
  /**
   * Overrides for `upstream`; a function is called once the cluster runs, for tests that put
   * something of their own between the gateway and PostgreSQL (a proxy, a hostile server).
   */
  readonly upstream?:
    Partial<ConfigInput['upstream']> | ((pg: PgCluster) => Partial<ConfigInput['upstream']>);
  readonly pgSettings?: Record<string, string>;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /**
   * Run the whole server (startPgkeyServer) with the built-in provider on a free localhost
   * port and a sqlite directory in the temp dir; its tokens are accepted as issuer
   * `builtin`. An object adds `idp:` keys. Absent: the gateway alone.
   */
  readonly idp?: boolean | Record<string, unknown>;
  /**
   * Run the whole server with the token service on a free localhost port (plain http) and a
   * sqlite directory in the temp dir. An object adds `token_service:` keys.
   */
  readonly tokenService?: boolean | Record<string, unknown>;
  /** Issuers after the test issuer (and the built-in provider's), e.g. a workload issuer. */
  readonly issuers?: ConfigInput['issuers'];
  /**
   * Also open the SASL OAUTHBEARER listener (`listen.oauth`) on a free port, advertising the
   * test issuer; `gateway.oauth.port` is where it listens. An object sets `scope`.
   */
  readonly oauth?: boolean | { readonly scope?: string };
  /** `audit:` keys besides `file` (sinks, rotation, checkpoints, on_failure). */
  readonly audit?: Omit<NonNullable<ConfigInput['audit']>, 'file'>;
  /**
   * The gateway alone: the audit log it writes to, opened by the test (e.g. over a file
   * that fails on demand) instead of from the config. The harness closes it.
   */
  readonly openAudit?: (config: Config) => Promise<AuditLog>;
}

/** Roles every harness cluster has; scram mode gives each the password `pw-<role>`. */
export const TEST_ROLES = ['analyst', 'reporting', 'app_owner'] as const;

export const DEFAULT_POLICY: NonNullable<ConfigInput['policy']> = [
  {
    name: 'dba',
    match: { groups: ['dba'] },
    databases: ['*'],
    roles: ['app_owner'],
    fresh_auth: '10m',
  },
  {
    name: 'analysts',
    match: { groups: ['analytics'] },
    databases: ['warehouse'],
    roles: ['analyst', 'reporting'],
  },
];

export async function startGatewayHarness(options: HarnessOptions = {}): Promise<GatewayHarness> {
  const auth = options.auth ?? 'cert';
  const dir = await mkdtemp(join(tmpdir(), 'pgkey-e2e-'));
  const caFiles = { cert: join(dir, 'upstream-ca.pem'), key: join(dir, 'upstream-ca-key.pem') };
  const upstreamCa = await initUpstreamCa(caFiles);
  const pg = await startPgCluster({
    auth,
    clientCaPem: upstreamCa.certPem,
    ...(options.pgSettings === undefined ? {} : { settings: options.pgSettings }),
  });
  try {
    for (const role of TEST_ROLES) {
      await pg.query(`CREATE ROLE ${role} LOGIN PASSWORD 'pw-${role}'`);
    }
    await pg.query('CREATE DATABASE warehouse OWNER app_owner');
    await pg.query('GRANT CONNECT ON DATABASE warehouse TO analyst, reporting');

    const gatewayCa = await createTestCa('pgkey test gateway CA');
    const server = await gatewayCa.issueServer();
    const clientCaFile = join(dir, 'gateway-ca.pem');
    await writeFile(clientCaFile, gatewayCa.certPem);
    await writeFile(join(dir, 'gateway.pem'), server.certPem);
    await writeFile(join(dir, 'gateway-key.pem'), server.keyPem, { mode: 0o600 });
    const secretsFile = join(dir, 'roles.yaml');
    await writeFile(secretsFile, TEST_ROLES.map((r) => `${r}: pw-${r}`).join('\n'), {
      mode: 0o600,
    });

    const issuer = await TestIssuer.create(
      options.clock === undefined ? {} : { clock: options.clock },
    );
    const jwksFile = await issuer.writeJwksFile(dir);
    const auditFile = join(dir, 'audit.jsonl');
    const builtin =
      options.idp === undefined || options.idp === false
        ? undefined
        : await builtinIdpConfig(options.idp === true ? {} : options.idp);
    const stsPort =
      options.tokenService === undefined || options.tokenService === false
        ? undefined
        : await freePort();
    const tokenService =
      stsPort === undefined
        ? undefined
        : {
            issuer: `http://127.0.0.1:${stsPort}`,
            address: `127.0.0.1:${stsPort}`,
            ...(options.tokenService === true ? {} : options.tokenService),
          };
    const input: ConfigInput = {
      listen: {
        address: '127.0.0.1:0',
        tls: { cert: 'gateway.pem', key: 'gateway-key.pem' },
        ...(options.oauth === undefined || options.oauth === false
          ? {}
          : {
              oauth: {
                address: '127.0.0.1:0',
                issuer: issuer.issuer,
                ...(options.oauth === true ? {} : options.oauth),
              },
            }),
        ...options.listen,
      },
      issuers: [
        {
          name: 'test',
          issuer: issuer.issuer,
          audience: 'pgkey',
          profile: 'builtin',
          jwks_file: jwksFile,
        },
        ...(builtin === undefined ? [] : [builtin.issuerEntry]),
        ...(options.issuers ?? []),
      ],
      upstream: {
        host: '127.0.0.1',
        port: pg.port,
        tls: { ca: pg.serverCaFile, servername: 'localhost' },
        auth,
        ...(auth === 'cert' ? { ca: caFiles } : { scram: { secrets_file: secretsFile } }),
        ...(typeof options.upstream === 'function' ? options.upstream(pg) : options.upstream),
      },
      policy: options.policy ?? DEFAULT_POLICY,
      ...(options.provisioning === undefined ? {} : { provisioning: options.provisioning }),
      ...(options.session === undefined ? {} : { session: options.session }),
      audit: { file: auditFile, ...options.audit },
      admin: { address: '127.0.0.1:0' },
      ...(builtin === undefined ? {} : { idp: builtin.idp, directory: builtin.directory }),
      ...(tokenService === undefined
        ? {}
        : { token_service: tokenService, directory: { sqlite: { file: 'directory.db' } } }),
    };
    const config = parseConfig(JSON.stringify(input), dir, 'harness.yaml');
    const logger = options.logger ?? silentLogger;
    const clock = options.clock === undefined ? {} : { clock: options.clock };
    let pgkey: PgkeyServer | undefined;
    let configFile: string | undefined;
    if (builtin !== undefined || tokenService !== undefined) {
      configFile = join(dir, 'harness.yaml'); // JSON is YAML
      await writeFile(configFile, JSON.stringify(input, null, 2), { mode: 0o600 });
      pgkey = await startPgkeyServer({ config, logger, ...clock });
    }
    const audit = pgkey === undefined ? await options.openAudit?.(config) : undefined;
    const gateway =
      pgkey?.gateway ??
      (await startGateway({ config, logger, ...clock, ...(audit === undefined ? {} : { audit }) }));
    const running = pgkey;
    const idp =
      running === undefined || config.idp === undefined
        ? undefined
        : await builtinIdp(running, config.idp).catch(async (error: unknown) => {
            await running.close();
            throw error;
          });

    const env = (token: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
      PATH: process.env.PATH,
      PGHOST: 'localhost',
      PGHOSTADDR: '127.0.0.1',
      PGPORT: String(gateway.port),
      PGSSLMODE: 'verify-full',
      PGSSLROOTCERT: clientCaFile,
      PGPASSWORD: token,
      PGCONNECT_TIMEOUT: '10',
      PGAPPNAME: 'pgkey-e2e',
      ...extra,
    });
    return {
      pg,
      gateway,
      issuer,
      dir,
      clientCaFile,
      config,
      auditFile,
      server: pgkey,
      idp,
      configFile,
      tokenService: pgkey?.tokenService?.issuer,
      env,
      psql: (token, args, o = {}) =>
        run(
          'psql',
          [
            '-X',
            '-v',
            'ON_ERROR_STOP=1',
            '-U',
            o.user ?? 'analyst',
            '-d',
            o.database ?? 'warehouse',
            ...args,
          ],
          env(token, o.env),
          o.input,
        ),
      token: (groups, claims = {}, ttlSeconds = 300) =>
        issuer.humanToken({ groups, email: 'alice@example.com', ...claims }, { ttlSeconds }),
      async close() {
        await (pgkey ?? gateway).close();
        await audit?.close().catch(() => undefined); // a test may have broken it on purpose
        await pg.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** Runs a command to completion, collecting output (never through a shell). */
export function run(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  input?: string,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}
