import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';
import { loadScramSecrets } from '../../src/upstream/scram-secrets.ts';

const SECRET = 's3cret-Never-Shown';

describe('loadScramSecrets', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgkey-scram-secrets-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function secretsFile(name: string, text: string, mode = 0o600): Promise<string> {
    const file = join(dir, name);
    await writeFile(file, text, { mode });
    await chmod(file, mode); // the umask may have narrowed `mode`
    return file;
  }

  /** Asserts ERR_CONFIG naming the file, and that no password leaks into any text. */
  function configError(file: string, pattern: RegExp) {
    return (error: unknown): boolean => {
      assert.ok(isPgkeyError(error, 'ERR_CONFIG'), `expected ERR_CONFIG, got ${String(error)}`);
      assert.ok(error.message.includes(file), error.message);
      assert.match(error.message, pattern);
      for (const text of [
        error.message,
        error.hint ?? '',
        error.cause instanceof Error ? error.cause.message : '',
      ]) {
        assert.ok(!text.includes(SECRET), `secret leaked into: ${text}`);
      }
      return true;
    };
  }

  it('reads a map of role to password', async () => {
    const file = await secretsFile('ok.yaml', `app: ${SECRET}\n"read only": "x: y"\n`);
    const secrets = await loadScramSecrets(file);
    assert.deepEqual(
      [...secrets],
      [
        ['app', SECRET],
        ['read only', 'x: y'],
      ],
    );
  });

  for (const mode of [0o640, 0o604, 0o644, 0o660]) {
    it(`refuses mode ${mode.toString(8)} and says chmod 600`, async () => {
      const file = await secretsFile(`mode-${mode.toString(8)}.yaml`, `app: ${SECRET}\n`, mode);
      await assert.rejects(
        loadScramSecrets(file),
        configError(file, new RegExp(`chmod 600 ${file}`)),
      );
    });
  }

  it('accepts mode 0400', async () => {
    const file = await secretsFile('ro.yaml', `app: ${SECRET}\n`, 0o400);
    assert.equal((await loadScramSecrets(file)).get('app'), SECRET);
  });

  it('refuses a directory and a FIFO without hanging', async () => {
    const directory = join(dir, 'a-directory');
    await mkdir(directory, { mode: 0o700 });
    await assert.rejects(loadScramSecrets(directory), configError(directory, /not a regular file/));
    const fifo = join(dir, 'a-fifo');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    await assert.rejects(loadScramSecrets(fifo), configError(fifo, /not a regular file/));
  });

  it('refuses a missing file', async () => {
    const file = join(dir, 'missing.yaml');
    await assert.rejects(loadScramSecrets(file), configError(file, /ENOENT/));
  });

  const bad: ReadonlyArray<readonly [string, string, RegExp]> = [
    ['a numeric password', `app: ${SECRET}\nreporting: 12345\n`, /role "reporting" must be/],
    ['a null password', 'app:\n', /role "app" must be/],
    ['a nested map', `app:\n  password: ${SECRET}\n`, /role "app" must be/],
    ['a numeric role', `42: ${SECRET}\n`, /"42" is not a PostgreSQL role name/],
    ['a role over 63 bytes', `${'r'.repeat(64)}: ${SECRET}\n`, /is not a PostgreSQL role name/],
    ['a list', `- ${SECRET}\n`, /expected a map/],
    ['a duplicate role', `app: ${SECRET}\napp: other\n`, /not valid YAML \(line 2\)/],
    ['broken YAML', `app: "${SECRET}\n`, /not valid YAML/],
    ['invalid UTF-8', '\u0000', /not valid UTF-8/],
  ];
  for (const [name, text, pattern] of bad) {
    it(`refuses ${name}, naming the key but not the secret`, async () => {
      const file = await secretsFile(`${name.replaceAll(' ', '-')}.yaml`, text);
      if (name === 'invalid UTF-8') await writeFile(file, Buffer.from([0x61, 0x3a, 0x20, 0xff]));
      await assert.rejects(loadScramSecrets(file), configError(file, pattern));
    });
  }
});
