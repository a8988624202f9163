// profiles.yaml: where it lives, what a profile defaults to, which profile a command uses,
// errors that name the key, and edits that keep a person's comments.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  configHome,
  DEFAULT_SCOPES,
  loadProfile,
  profilesFile,
  readProfiles,
  saveProfile,
} from '../../src/client/profiles.ts';
import { parseHostPort } from '../../src/cli/commands/login.ts';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';

describe('client profiles', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgkey-profiles-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const fresh = (name: string) => {
    const home = join(dir, name);
    return { home, env: { PGKEY_CONFIG_HOME: home } as NodeJS.ProcessEnv };
  };

  it('lives in $PGKEY_CONFIG_HOME, else $XDG_CONFIG_HOME/pgkey, else ~/.config/pgkey', () => {
    assert.equal(configHome({ PGKEY_CONFIG_HOME: '/a/b', XDG_CONFIG_HOME: '/x' }), '/a/b');
    assert.equal(configHome({ XDG_CONFIG_HOME: '/x' }), '/x/pgkey');
    assert.equal(configHome({}), join(homedir(), '.config', 'pgkey'));
    assert.equal(configHome({ XDG_CONFIG_HOME: '' }), join(homedir(), '.config', 'pgkey'));
  });

  it('a saved profile gets the defaults, a 0700 directory, and becomes the default', async () => {
    const { home, env } = fresh('defaults');
    const saved = await saveProfile(home, 'work', {
      issuer: 'https://login.example.com',
      gateway: { host: 'db.example.com', port: 6432 },
      gateway_ca_file: 'work-gateway-ca.pem',
    });
    assert.equal(saved.name, 'work');
    assert.equal(saved.home, home);
    assert.equal(saved.client_id, 'pgkey-cli');
    assert.deepEqual(saved.scopes, [...DEFAULT_SCOPES]);
    assert.equal(saved.acr_values, 'phrh phr');
    assert.equal(saved.gateway_ca_file, join(home, 'work-gateway-ca.pem'), 'relative to the dir');
    assert.equal((await stat(home)).mode & 0o777, 0o700);
    assert.equal((await stat(profilesFile(home))).mode & 0o777, 0o600);
    assert.equal((await loadProfile(env)).name, 'work');

    await saveProfile(home, 'lab', {
      issuer: 'http://localhost:8080',
      gateway: parseHostPort('localhost'),
    });
    assert.equal((await loadProfile(env)).name, 'work', 'the first profile stays the default');
    assert.equal((await loadProfile(env, 'lab')).gateway.port, 6432);
    assert.equal((await loadProfile({ ...env, PGKEY_PROFILE: 'lab' })).name, 'lab');
  });

  it('scopes may be a list or one space-separated string', async () => {
    const { home } = fresh('scopes');
    await mkdir(home, { recursive: true });
    await writeFile(
      profilesFile(home),
      `profiles:
  okta:
    issuer: https://corp.okta.com/oauth2/default
    client_id: 0oa1example
    scopes: openid profile email groups offline_access
    acr_values: phr
    gateway: { host: db.corp.example, port: 5432 }
  entra:
    issuer: https://login.microsoftonline.com/tenant/v2.0
    scopes: [openid, offline_access, "api://pgkey/postgres"]
    acr_values: ""
    authorization_params:
      claims: '{"access_token":{"acrs":{"essential":true,"value":"c1"}}}'
    gateway: { host: db.corp.example }
`,
    );
    const { profiles } = await readProfiles(home);
    assert.deepEqual(profiles.get('okta')?.scopes, [
      'openid',
      'profile',
      'email',
      'groups',
      'offline_access',
    ]);
    assert.deepEqual(profiles.get('entra')?.scopes, [
      'openid',
      'offline_access',
      'api://pgkey/postgres',
    ]);
    assert.equal(profiles.get('entra')?.acr_values, '');
    assert.match(profiles.get('entra')?.authorization_params?.claims ?? '', /"acrs"/);
    assert.equal(profiles.get('okta')?.gateway.port, 5432);
  });

  it('problems name the key', async () => {
    const { home, env } = fresh('bad');
    await mkdir(home, { recursive: true });
    const cases: [string, RegExp][] = [
      [
        'profiles:\n  t:\n    issuer: https://x.example\n    gateway: { host: h, port: "six" }\n',
        /profiles\.t\.gateway\.port: expected a number, got "six"/,
      ],
      [
        'profiles:\n  t:\n    issuer: http://idp.example.com\n    gateway: { host: h }\n',
        /profiles\.t\.issuer: must be an https:\/\/ URL/,
      ],
      [
        'profiles:\n  t:\n    issuer: https://x.example\n    gateway: { host: h }\n    gateway_ca: ca.pem\n',
        /profiles\.t\.gateway_ca: unknown key/,
      ],
      ['profiles:\n  t:\n    issuer: https://x.example\n', /profiles\.t\.gateway: required/],
      ['profiles: [1, 2]\n', /profiles: expected a mapping/],
      [
        'profiles:\n  t:\n    issuer: https://x.example\n    gateway: { host: h }\n    authorization_params: { state: fixed }\n',
        /profiles\.t\.authorization_params\.state: is set by pgkey login itself/,
      ],
      [
        'profiles:\n  "bad name":\n    issuer: https://x.example\n',
        /profiles\["bad name"\]: not a profile name/,
      ],
    ];
    for (const [yaml, message] of cases) {
      await writeFile(profilesFile(home), yaml);
      await assert.rejects(loadProfile(env, 't'), (error: unknown) => {
        assert.ok(isPgkeyError(error, 'ERR_CONFIG'), String(error));
        assert.match(error.message, message);
        assert.ok(error.message.startsWith(profilesFile(home)));
        return true;
      });
    }
  });

  it('which profile: a missing or ambiguous one says what to do', async () => {
    const { home, env } = fresh('choose');
    await assert.rejects(loadProfile(env), (error: unknown) => {
      assert.ok(isPgkeyError(error, 'ERR_LOGIN_REQUIRED'));
      assert.match(error.message, /no pgkey profile yet/);
      assert.match(error.hint ?? '', /pgkey login https:\/\//);
      return true;
    });
    await mkdir(home, { recursive: true });
    await writeFile(
      profilesFile(home),
      'profiles:\n  a: { issuer: "https://a.example", gateway: { host: a } }\n  b: { issuer: "https://b.example", gateway: { host: b } }\n',
    );
    await assert.rejects(
      loadProfile(env),
      /several profiles and no default: pass --profile \(a, b\)/,
    );
    await assert.rejects(loadProfile(env, 'c'), /no profile named "c"/);
    assert.equal((await loadProfile(env, 'b')).issuer, 'https://b.example');
  });

  it('edits keep comments and other profiles; undefined removes a key', async () => {
    const { home } = fresh('comments');
    await mkdir(home, { recursive: true });
    await writeFile(
      profilesFile(home),
      `# my pgkey profiles
default: lab
profiles:
  lab: # the test cluster
    issuer: https://lab.example
    gateway: { host: lab.example }
    role: reporting
`,
    );
    await saveProfile(home, 'lab', { role: undefined, database: 'warehouse' });
    await saveProfile(home, 'prod', {
      issuer: 'https://prod.example',
      gateway: { host: 'p', port: 1 },
    });
    const text = await readFile(profilesFile(home), 'utf8');
    assert.match(text, /^# my pgkey profiles/);
    assert.match(text, /# the test cluster/);
    assert.doesNotMatch(text, /role:/);
    const { profiles, default: chosen } = await readProfiles(home);
    assert.equal(chosen, 'lab');
    assert.equal(profiles.get('lab')?.database, 'warehouse');
    assert.equal(profiles.get('prod')?.gateway.port, 1);
  });

  it('a bad edit is refused before anything is written', async () => {
    const { home } = fresh('refused');
    await saveProfile(home, 'ok', { issuer: 'https://ok.example', gateway: { host: 'h' } });
    const before = await readFile(profilesFile(home), 'utf8');
    await assert.rejects(
      saveProfile(home, 'ok', { issuer: 'ftp://nope' }),
      /profiles\.ok\.issuer: must be an https:\/\/ URL/,
    );
    await assert.rejects(saveProfile(home, '../evil', { issuer: 'https://x' }), /not allowed/);
    assert.equal(await readFile(profilesFile(home), 'utf8'), before);
  });

  it('--gateway HOST:PORT', () => {
    assert.deepEqual(parseHostPort('db.example.com:5433'), { host: 'db.example.com', port: 5433 });
    assert.deepEqual(parseHostPort('db.example.com'), { host: 'db.example.com', port: 6432 });
    assert.deepEqual(parseHostPort('[::1]:7000'), { host: '::1', port: 7000 });
    for (const bad of ['', 'h:0', 'h:70000', 'a b:1', 'h:x']) {
      assert.throws(() => parseHostPort(bad), /is not HOST:PORT/);
    }
  });
});
