/**
 * `pgkey audit search|report` as an operator runs them: a config whose `audit.file` holds the
 * week of trail from test/audit/trail-fixture.ts, and `main(argv, io)` with captured output.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.ts';
import { writeWeekTrail } from '../audit/trail-fixture.ts';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

export interface AuditCli {
  readonly dir: string;
  readonly file: string;
  run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
}

export async function auditCli(
  options: { readonly extras?: boolean; readonly rotateBytes?: number } = {},
): Promise<AuditCli> {
  const dir = await mkdtemp(join(tmpdir(), 'pgkey-audit-cli-'));
  const { file } = await writeWeekTrail(join(dir, 'trail'), options);
  const config = {
    listen: { address: '127.0.0.1:0', tls: { cert: 'gw.pem', key: 'gw-key.pem' } },
    issuers: [
      { name: 'builtin', issuer: 'http://localhost:8443', audience: 'pgkey', profile: 'builtin' },
    ],
    upstream: {
      host: '127.0.0.1',
      tls: { ca: 'pg-ca.pem' },
      auth: 'cert',
      ca: { cert: 'ca.pem', key: 'ca-key.pem' },
    },
    policy: [{ name: 'dba', match: { groups: ['dba'] }, databases: ['*'], roles: ['dba'] }],
    audit: { file: 'trail/audit.jsonl' },
  };
  await writeFile(join(dir, 'pgkey.yaml'), JSON.stringify(config, null, 2));
  return {
    dir,
    file,
    async run(...args) {
      const stdout = new Capture();
      const stderr = new Capture();
      const code = await main(args, { stdout, stderr, env: {}, cwd: dir });
      return { code, stdout: stdout.text, stderr: stderr.text };
    },
  };
}
