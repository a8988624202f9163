/**
 * The admin commands as an operator runs them: `main(argv, io)` (the one error boundary)
 * with captured stdout and stderr, against a config file in a temp directory whose
 * `directory` is a sqlite file. The fixture holds its own directory on the same file, as a
 * running `pgkey serve` would: to arrange data, inspect it and hear changes.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.ts';
import type { Directory, NewCredential, User } from '../../src/store/directory.ts';
import { openSqliteDirectory } from '../../src/store/sqlite-directory.ts';

export const ISSUER = 'http://localhost:8443';
export const YUBIKEY = 'cb69481e-8ff7-4039-93ec-0a2729a154a8'; // "YubiKey 5 Series"
export const ICLOUD = 'fbfc3007-154e-4ecc-8c0b-6e020557d7bd'; // "iCloud Keychain"

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface FixtureOptions {
  /** `idp:` keys besides issuer and address; `false` leaves the section out. */
  readonly idp?: Record<string, unknown> | false;
}

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

export class CliFixture {
  readonly dir: string;
  readonly configFile: string;
  readonly directoryFile: string;
  readonly directory: Directory;

  private constructor(dir: string, directory: Directory) {
    this.dir = dir;
    this.configFile = join(dir, 'pgkey.yaml');
    this.directoryFile = join(dir, 'data', 'directory.db');
    this.directory = directory;
  }

  static async create(options: FixtureOptions = {}): Promise<CliFixture> {
    const dir = await mkdtemp(join(tmpdir(), 'pgkey-cli-'));
    const config = {
      listen: { address: '127.0.0.1:0', tls: { cert: 'gw.pem', key: 'gw-key.pem' } },
      issuers: [{ name: 'builtin', issuer: ISSUER, audience: 'pgkey', profile: 'builtin' }],
      upstream: {
        host: '127.0.0.1',
        port: 5432,
        tls: { ca: 'pg-ca.pem' },
        auth: 'cert',
        ca: { cert: 'ca.pem', key: 'ca-key.pem' },
      },
      policy: [{ name: 'dba', match: { groups: ['dba'] }, databases: ['*'], roles: ['postgres'] }],
      directory: { sqlite: { file: 'data/directory.db' } },
      ...(options.idp === false
        ? {}
        : { idp: { issuer: ISSUER, address: '127.0.0.1:0', ...options.idp } }),
    };
    // JSON is YAML.
    await writeFile(join(dir, 'pgkey.yaml'), JSON.stringify(config, null, 2));
    const directory = await openSqliteDirectory(join(dir, 'data', 'directory.db'));
    return new CliFixture(dir, directory);
  }

  /** `pgkey …args --config <fixture config>`, from the fixture's directory. */
  async run(...args: string[]): Promise<CliRun> {
    const stdout = new Capture();
    const stderr = new Capture();
    const code = await main([...args, '--config', this.configFile], {
      stdout,
      stderr,
      env: {},
      cwd: this.dir,
    });
    return { code, stdout: stdout.text, stderr: stderr.text };
  }

  /** As `run` with `--json`, parsing stdout: exactly one JSON document. */
  async json(...args: string[]): Promise<{ code: number; body: Record<string, unknown> }> {
    const result = await this.run(...args, '--json');
    return { code: result.code, body: JSON.parse(result.stdout) as Record<string, unknown> };
  }

  async user(email: string): Promise<User> {
    const user = await this.directory.users.findByEmail(email);
    if (user === undefined) throw new Error(`fixture: no user ${email}`);
    return user;
  }

  async addKey(email: string, id: string, overrides: Partial<NewCredential> = {}) {
    const user = await this.user(email);
    return this.directory.credentials.add({
      id,
      userId: user.id,
      publicKey: new Uint8Array([0xa5, 1, 2, 3]),
      signCount: 0,
      transports: ['usb'],
      aaguid: YUBIKEY,
      backupEligible: false,
      backupState: false,
      attestationFormat: 'packed',
      attested: true,
      name: 'YubiKey 5',
      createdAt: Date.UTC(2026, 0, 2, 9, 30, 15),
      ...overrides,
    });
  }

  async close(): Promise<void> {
    await this.directory.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}
