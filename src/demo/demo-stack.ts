/**
 * Everything `pgkey demo` runs, in one directory: a demo CA and its certificates for
 * `localhost`, pgkey's upstream CA, a throwaway PostgreSQL that trusts only that CA, and a
 * complete `pgkey.yaml` — gateway, built-in FIDO2 provider on http://localhost, sqlite
 * directory, audit file — started with the same startPgkeyServer as `pgkey serve`. The config
 * stays behind, so the admin commands (`pgkey users …`, `pgkey keys …`) can be pointed at it
 * with `--config <dir>/pgkey.yaml` while the demo runs.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadConfig } from '../config/load.ts';
import type { Config, ConfigInput } from '../config/schema.ts';
import { PgkeyError } from '../errors/pgkey-error.ts';
import { trustBundlePem } from '../pki/ca-rotation.ts';
import { exists } from '../pki/pem-files.ts';
import { initUpstreamCa, type UpstreamCaFiles } from '../pki/upstream-ca.ts';
import type { Logger } from '../runtime/logger.ts';
import type { Directory } from '../store/directory.ts';
import { startPgkeyServer, type PgkeyServer } from '../server/pgkey-server.ts';
import { openDemoCa, type DemoCa } from './demo-ca.ts';
import { DEMO_DATABASE, DEMO_ROLE, provisionDemoDatabase } from './demo-database.ts';
import { prepareDemoDirectory, previousPorts, type Ports } from './demo-directory.ts';
import { freePort, isAddressInUse } from './free-port.ts';
import { clusterRoot, startLocalPostgres, type LocalPostgres } from './local-postgres.ts';
import { findPostgresBinaries, type PostgresBinaries } from './postgres-binaries.ts';

export const DEMO_USERS_GROUP = 'demo-users';
export const DEMO_ADMIN_GROUP = 'pgkey-admins';
const CONFIG_FILE = 'pgkey.yaml';

export interface DemoStackOptions {
  readonly dir: string;
  /** Wipe the directory first (only a demo directory, or an empty one). */
  readonly fresh?: boolean;
  /** A throwaway cluster: no fsync, removed at stop (the selftest). */
  readonly throwaway?: boolean;
  readonly logger: Logger;
  readonly env?: NodeJS.ProcessEnv;
}

export class DemoStack {
  readonly dir: string;
  readonly binaries: PostgresBinaries;
  readonly configFile: string;
  /** The CA of the gateway's (and PostgreSQL's) certificate: clients' `sslrootcert`. */
  readonly caFile: string;
  readonly #options: DemoStackOptions;
  readonly #ca: DemoCa;
  readonly #upstreamCa: UpstreamCaFiles;
  readonly #previous: Ports;
  #pg: LocalPostgres | undefined;
  #server: PgkeyServer | undefined;
  #config: Config | undefined;

  private constructor(options: DemoStackOptions, binaries: PostgresBinaries, ca: DemoCa) {
    this.#options = options;
    this.dir = options.dir;
    this.binaries = binaries;
    this.configFile = join(options.dir, CONFIG_FILE);
    this.caFile = ca.certFile;
    this.#ca = ca;
    this.#upstreamCa = {
      cert: join(options.dir, 'upstream-ca.pem'),
      key: join(options.dir, 'upstream-ca-key.pem'),
    };
    this.#previous = previousPorts(this.configFile);
  }

  /** Checks for the PostgreSQL programs first, then prepares the directory and the CAs. */
  static async prepare(options: DemoStackOptions): Promise<DemoStack> {
    const binaries = findPostgresBinaries(options.env);
    await prepareDemoDirectory(options.dir, options.fresh ?? false);
    const ca = await openDemoCa({
      cert: join(options.dir, 'tls', 'demo-ca.pem'),
      key: join(options.dir, 'tls', 'demo-ca-key.pem'),
    });
    return new DemoStack(options, binaries, ca);
  }

  get postgres(): LocalPostgres {
    if (this.#pg === undefined) throw notStarted('PostgreSQL');
    return this.#pg;
  }

  /** The loaded pgkey.yaml, once pgkey was started. */
  get config(): Config {
    if (this.#config === undefined) throw notStarted('pgkey');
    return this.#config;
  }

  /** The running server's directory (the built-in provider's). */
  get directory(): Directory {
    const directory = this.server.directory;
    if (directory === undefined) throw notStarted('the directory');
    return directory;
  }

  get auditFile(): string {
    return this.config.audit.file;
  }

  get server(): PgkeyServer {
    if (this.#server === undefined) throw notStarted('pgkey');
    return this.#server;
  }

  /** The upstream CA (created on first use), then PostgreSQL trusting only it. */
  async startPostgres(): Promise<LocalPostgres> {
    if (!(await exists(this.#upstreamCa.cert))) await initUpstreamCa(this.#upstreamCa);
    this.#pg = await startLocalPostgres({
      binaries: this.binaries,
      root: clusterRoot(this.binaries, this.dir, this.#options.throwaway ?? false),
      serverCert: await this.#ca.issueServer('localhost'),
      clientCaPem: await trustBundlePem(this.#upstreamCa),
      ...(this.#previous.postgres === undefined ? {} : { preferredPort: this.#previous.postgres }),
    });
    await provisionDemoDatabase(this.#pg);
    return this.#pg;
  }

  /** Writes the gateway certificate and pgkey.yaml, then starts gateway, provider, directory. */
  async startPgkey(): Promise<PgkeyServer> {
    const gatewayCert = await this.#ca.issueServer('localhost');
    await writeFile(join(this.dir, 'tls', 'gateway.pem'), gatewayCert.certPem, { mode: 0o644 });
    await writeFile(join(this.dir, 'tls', 'gateway-key.pem'), gatewayCert.keyPem, { mode: 0o600 });
    // The selftest takes whatever is free: a demo may be running next to it.
    let prefer = this.#options.throwaway !== true;
    for (let attempt = 1; ; attempt++) {
      const ports = {
        gateway: await freePort(prefer ? (this.#previous.gateway ?? 6432) : undefined),
        idp: await freePort(prefer ? (this.#previous.idp ?? 8080) : undefined),
      };
      const config = await this.#writeConfig(ports);
      try {
        this.#server = await startPgkeyServer({ config, logger: this.#options.logger });
        this.#config = config;
        return this.#server;
      } catch (error) {
        // Another program took a port between the look and the bind: take other ones.
        if (attempt >= 3 || !isAddressInUse(error)) throw error;
        prefer = false;
      }
    }
  }

  /** Stops pgkey, then PostgreSQL. Safe to call at any point, and twice. */
  async close(): Promise<void> {
    const server = this.#server;
    const pg = this.#pg;
    this.#server = undefined;
    this.#pg = undefined;
    try {
      await server?.close();
    } finally {
      await pg?.stop();
    }
  }

  async #writeConfig(ports: { gateway: number; idp: number }): Promise<Config> {
    const issuer = `http://localhost:${ports.idp}`;
    const input: ConfigInput = {
      listen: {
        address: `127.0.0.1:${ports.gateway}`,
        tls: { cert: 'tls/gateway.pem', key: 'tls/gateway-key.pem' },
      },
      issuers: [{ name: 'demo', issuer, audience: 'pgkey', profile: 'builtin' }],
      upstream: {
        host: '127.0.0.1',
        port: this.postgres.port,
        tls: { ca: 'tls/demo-ca.pem', servername: 'localhost' },
        auth: 'cert',
        ca: { cert: 'upstream-ca.pem', key: 'upstream-ca-key.pem' },
      },
      policy: [
        {
          name: DEMO_USERS_GROUP,
          match: { groups: [DEMO_USERS_GROUP] },
          databases: [DEMO_DATABASE],
          roles: [DEMO_ROLE],
        },
      ],
      audit: { file: 'audit.jsonl' },
      admin: { address: '127.0.0.1:0' },
      directory: { sqlite: { file: 'directory.db' } },
      idp: {
        issuer,
        address: `127.0.0.1:${ports.idp}`,
        rp_name: 'pgkey demo',
        admin_group: DEMO_ADMIN_GROUP,
      },
    };
    const header =
      `# Written by \`pgkey demo\` at every start (ports change when taken).\n` +
      `# Valid while the demo runs: its PostgreSQL listens on ${this.postgres.port}.\n`;
    await writeFile(this.configFile, header + stringify(input), { mode: 0o600 });
    return loadConfig(this.configFile);
  }
}

function notStarted(what: string): PgkeyError {
  return new PgkeyError('ERR_INTERNAL', { message: `${what} is not running` });
}
