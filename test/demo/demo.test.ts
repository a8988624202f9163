import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { enrollWithSoftKey } from '../../src/demo/enrollment-driver.ts';
import { HeadlessBrowser } from '../../src/demo/headless-browser.ts';
import { approveWithSoftKey } from '../../src/demo/oidc-login-driver.ts';
import { SoftAuthenticator } from '../../src/demo/soft-authenticator.ts';
import { waitFor } from '../support/e2e-clients.ts';

const BIN = fileURLToPath(new URL('../../bin/pgkey.js', import.meta.url));
const execFileAsync = promisify(execFile);

/**
 * `pgkey demo` as a person runs it: start it, follow what it prints — open the enrollment
 * link, sign in at the login link, paste the psql command — then Ctrl+C. The "browser" is
 * headless and the key is the software authenticator; the printed command runs in a shell.
 */
describe('pgkey demo', () => {
  let cwd: string;
  let demo: ChildProcess;
  let stdout = '';
  let exited: Promise<number | null>;

  const printed = (pattern: RegExp): string => {
    const found = pattern.exec(stdout)?.[1];
    assert.ok(found !== undefined, `${String(pattern)} in:\n${stdout}`);
    return found;
  };

  before(async () => {
    cwd = mkdtempSync(join(tmpdir(), 'pgkey-demo-test-'));
    chmodSync(cwd, 0o755); // as a home or project directory: the postgres user may pass
    demo = spawn(process.execPath, [BIN, 'demo', '--dir', 'demo'], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    demo.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    demo.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    exited = new Promise((resolve) => demo.once('close', resolve));
    await waitFor(
      'the demo to print its instructions',
      () => stdout.includes('Ctrl+C stops the demo.') || demo.exitCode !== null,
      60_000,
    );
    assert.equal(demo.exitCode, null, `${stdout}\n${stderr}`);
  });

  after(async () => {
    // A failed test leaves the demo running: Ctrl+C it, as a person would.
    if (demo?.exitCode === null) {
      demo.kill('SIGINT');
      const stopped = await Promise.race([exited, delay(15_000).then(() => 'timeout')]);
      if (stopped === 'timeout') demo.kill('SIGKILL');
    }
    rmSync(cwd, { recursive: true, force: true });
  });

  it('prints the enrollment link, the login link and a psql command that work', async () => {
    const link = printed(/^ {5}(http:\/\/localhost:\d+\/enroll\/[\w-]{43})$/m);
    const login = printed(/^ {5}(http:\/\/127\.0\.0\.1:\d+\/login)$/m);
    const psql = printed(/^ {5}(PGPASSWORD=.* psql .*)$/m);
    assert.equal(
      psql.replace(/port=\d+/, 'port=N'),
      'PGPASSWORD="$(cat demo/token)" psql "host=localhost port=N user=app dbname=demo sslmode=verify-full sslrootcert=demo/tls/demo-ca.pem"',
    );
    assert.match(stdout, /^ {2}admin pages {5}http:\/\/localhost:\d+\/admin /m);

    const key = new SoftAuthenticator();
    await enrollWithSoftKey({ link, authenticator: key });

    // The login link starts pgkey-cli's authorization request and takes the code back.
    const start = await fetch(login, { redirect: 'manual' });
    assert.equal(start.status, 302);
    const authorize = start.headers.get('location') ?? '';
    const browser = new HeadlessBrowser(new URL(link).origin);
    const callback = await approveWithSoftKey(browser, authorize, key);
    assert.equal(callback.origin, new URL(login).origin);
    const saved = await fetch(callback);
    assert.equal(saved.status, 200, await saved.text());
    await waitFor('the token line', () => stdout.includes('token saved for admin@demo.local'));
    assert.equal(statSync(join(cwd, 'demo', 'token')).mode & 0o777, 0o600);

    const { stdout: rows } = await execFileAsync(
      'sh',
      ['-c', `${psql} -X -At -c 'SELECT current_user, count(*) FROM glossary GROUP BY 1'`],
      { cwd, env: { PATH: process.env.PATH } },
    );
    assert.equal(rows, 'app|5\n');
  });

  it('stops PostgreSQL and pgkey on Ctrl+C, keeping the demo directory', async () => {
    const pidFile = join(cwd, 'demo', 'postgres', 'data', 'postmaster.pid');
    assert.ok(existsSync(pidFile), 'PostgreSQL runs from the demo directory');
    const config = readFileSync(join(cwd, 'demo', 'pgkey.yaml'), 'utf8');
    assert.match(config, /profile: builtin/);
    demo.kill('SIGINT');
    assert.equal(await exited, 0);
    assert.match(stdout, /pgkey demo: stopping\n$/);
    assert.equal(existsSync(pidFile), false, 'PostgreSQL stopped');
    assert.ok(existsSync(join(cwd, 'demo', 'postgres', 'data', 'PG_VERSION')), 'data kept');
  });
});
