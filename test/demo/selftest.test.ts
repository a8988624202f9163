import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/pgkey.js', import.meta.url));

/** Every step `pgkey demo --selftest` prints, in order. */
const STEPS = [
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
  'stop pgkey and PostgreSQL',
];

function pgkey(
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Postmasters whose data directory is below `prefix` (ps shows `postgres -D <dir>`). */
function postmastersBelow(prefix: string): string[] {
  const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
  return ps.split('\n').filter((line) => /\bpostgres -D /.test(line) && line.includes(prefix));
}

describe('pgkey demo --selftest', () => {
  it('runs the whole path and prints every step passed', async () => {
    const clusters = join(tmpdir(), 'pgkey-demo-pg-');
    const before = new Set(postmastersBelow(clusters));
    const { code, stdout, stderr } = await pgkey(['demo', '--selftest']);
    assert.equal(code, 0, `${stdout}\n${stderr}`);
    const lines = stdout.split('\n');
    const dir = /^pgkey demo --selftest \(in (.+)\)$/.exec(lines[0] ?? '')?.[1];
    assert.ok(dir !== undefined, lines[0]);
    const steps = lines.filter((line) => /^ {2}[✓✗–] /.test(line));
    assert.deepEqual(
      steps.map((line) => line.slice(4, 30).trim()),
      STEPS,
    );
    for (const line of steps) assert.match(line, /^ {2}✓ .+ \d+(\.\d+)? m?s {2}\S/);
    const detail = (title: string) => steps.find((line) => line.includes(` ${title} `)) ?? '';
    assert.match(detail('psql through the gateway'), /SELECT current_user → app$/);
    assert.match(
      detail('session ended'),
      /after \d+ ms: FATAL: {2}57P01: terminating connection: security key revoked: selftest$/,
    );
    assert.match(
      detail('old token refused'),
      /28P01: token rejected: the security key this token names was revoked$/,
    );
    assert.match(detail('audit trail'), /session\.start, key\.revoked, session\.terminated$/);
    assert.equal(lines.at(-2), `selftest passed: ${STEPS.length} of ${STEPS.length} steps`);

    assert.equal(existsSync(dir), false, 'the temp dir is removed');
    const left = postmastersBelow(clusters).filter((line) => !before.has(line));
    assert.deepEqual(left, [], 'no PostgreSQL left running');
  });

  it('says what to install when the PostgreSQL server programs are missing', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'pgkey-demo-test-'));
    try {
      const dir = join(parent, 'demo');
      const env = { ...process.env, PGKEY_PG_BINDIR: join(parent, 'no-such-bin') };
      const demo = await pgkey(['demo', '--dir', dir], env);
      assert.equal(demo.code, 1);
      assert.match(
        demo.stderr,
        /PostgreSQL server programs \(initdb, pg_ctl, postgres\) were not found/,
      );
      assert.match(demo.stderr, /^hint: .*apt-get install postgresql/m);
      assert.equal(existsSync(dir), false, 'nothing was written');

      const selftest = await pgkey(['demo', '--selftest'], env);
      assert.equal(selftest.code, 1);
      assert.match(selftest.stdout, /✗ find PostgreSQL .*apt-get install postgresql/);
      assert.match(selftest.stdout, /^selftest FAILED: 0 of \d+ steps passed$/m);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
