import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { EXAMPLE_CONFIG } from '../../src/config/docs.ts';
import {
  checkConfig,
  checkConfigFile,
  formatDiagnostic,
  loadConfig,
  parseConfig,
} from '../../src/config/load.ts';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';

/** The YAML from the issue, byte for byte: the user's contract. */
const CONTRACT = `listen:
  address: 127.0.0.1:6432
  tls: { cert: certs/gateway.pem, key: certs/gateway-key.pem }
issuers:
  - name: corp
    issuer: https://idp.example.com      # OIDC discovery; http:// only for loopback issuers
    audience: pgkey
    profile: okta                         # builtin | okta | entra | keycloak | generic | workload
    groups_claim: groups                  # default: groups
  - name: offline
    issuer: https://idp.internal
    audience: pgkey
    jwks_file: keys/idp-jwks.json         # static keys, no network
    profile: generic
    fido2: { amr: [hwk, pop] }            # or { acr: [phr, phrh] }: what proves a FIDO2 login
upstream:
  host: 127.0.0.1
  port: 5432
  tls: { ca: certs/postgres-ca.pem }      # verify-full
  auth: cert                              # cert | scram
  ca: { cert: pgkey-data/upstream-ca.pem, key: pgkey-data/upstream-ca-key.pem }
  # scram: { secrets_file: secrets/roles.yaml }   (role -> password, file mode 0600 enforced)
policy:
  - name: dba
    match: { groups: [dba] }
    databases: ["*"]
    roles: [postgres]
    fresh_auth: 10m                       # FIDO2 login no older than this (auth_time)
  - name: analysts
    match: { groups: [analytics] }
    databases: [warehouse]
    roles: [analyst, reporting]
audit:
  file: pgkey-data/audit.jsonl
`;

function configError(fn: () => unknown) {
  try {
    fn();
  } catch (error) {
    assert.ok(isPgkeyError(error, 'ERR_CONFIG'), `expected ERR_CONFIG, got ${String(error)}`);
    return error;
  }
  assert.fail('expected ERR_CONFIG');
}

describe('parseConfig', () => {
  it('accepts the contract YAML as written, without warnings', () => {
    const check = checkConfig(CONTRACT, '/etc/pgkey');
    assert.deepEqual(check.errors, []);
    assert.deepEqual(check.warnings, []);
    assert.equal(check.config?.issuers[1]?.fido2?.amr?.[1], 'pop');
    assert.deepEqual(check.config?.policy[1]?.roles, ['analyst', 'reporting']);
  });

  it('keeps examples/pgkey.yaml identical to the documented example, which is the contract', async () => {
    const file = await readFile(new URL('../../examples/pgkey.yaml', import.meta.url), 'utf8');
    assert.equal(file, EXAMPLE_CONFIG);
    assert.deepEqual(
      parseConfig(EXAMPLE_CONFIG, '/etc/pgkey'),
      parseConfig(CONTRACT, '/etc/pgkey'),
    );
  });

  it('turns durations into milliseconds and fills defaults', () => {
    const config = parseConfig(CONTRACT, '/etc/pgkey');
    assert.equal(config.policy[0]?.fresh_auth, 600_000);
    assert.equal(config.policy[1]?.fresh_auth, undefined);
    assert.equal(config.listen.handshake_timeout, 30_000);
    assert.equal(config.session.max_duration, 12 * 3_600_000);
    assert.equal(config.issuers[0]?.clock_skew, 60_000);
    assert.equal(config.upstream.cert_ttl, 600_000);
    assert.equal(config.listen.require_tls, true);
    assert.equal(config.admin.address, '127.0.0.1:9187');
    const custom = parseConfig(CONTRACT.replace('fresh_auth: 10m', 'fresh_auth: 1h30m'), '/x');
    assert.equal(custom.policy[0]?.fresh_auth, 5_400_000);
  });

  it("reads a rule's query audit with its defaults, and requires `queries` in it", () => {
    const withAudit = (audit: string) =>
      CONTRACT.replace('roles: [analyst, reporting]', `roles: [analyst, reporting]\n    ${audit}`);
    const config = parseConfig(withAudit('audit: { queries: true }'), '/x');
    assert.equal(config.policy[0]?.audit, undefined);
    assert.deepEqual(config.policy[1]?.audit, {
      queries: true,
      parameters: 'redact',
      statement_max_bytes: 4096,
    });
    const hashed = parseConfig(withAudit('audit: { queries: true, parameters: hash }'), '/x');
    assert.equal(hashed.policy[1]?.audit?.parameters, 'hash');
    for (const [audit, expected] of [
      ['audit: { parameters: log }', 'policy[1].audit.queries: required'],
      [
        'audit: { queries: true, parameters: plain }',
        'policy[1].audit.parameters: must be one of none, redact, hash, log; got "plain"',
      ],
      [
        'audit: { queries: true, statement_max_bytes: 10 }',
        'policy[1].audit.statement_max_bytes: must be at least 64',
      ],
    ] as const) {
      const check = checkConfig(withAudit(audit), '/x');
      assert.deepEqual(
        check.errors.map((d) => formatDiagnostic(d)),
        [expected],
        audit,
      );
    }
  });

  it('resolves every relative path against the config directory and keeps absolute ones', () => {
    const text = CONTRACT.replace(
      'file: pgkey-data/audit.jsonl',
      'file: /var/log/pgkey/audit.jsonl',
    );
    const config = parseConfig(text, '/etc/pgkey');
    assert.deepEqual(config.listen.tls, {
      cert: '/etc/pgkey/certs/gateway.pem',
      key: '/etc/pgkey/certs/gateway-key.pem',
    });
    assert.equal(config.issuers[1]?.jwks_file, '/etc/pgkey/keys/idp-jwks.json');
    assert.equal(config.upstream.tls.ca, '/etc/pgkey/certs/postgres-ca.pem');
    assert.deepEqual(config.upstream.ca, {
      cert: '/etc/pgkey/pgkey-data/upstream-ca.pem',
      key: '/etc/pgkey/pgkey-data/upstream-ca-key.pem',
    });
    assert.equal(config.audit.file, '/var/log/pgkey/audit.jsonl');
    const scram = CONTRACT.replace('auth: cert ', 'auth: scram').replace(
      /# scram: .*/,
      'scram: { secrets_file: secrets/roles.yaml }',
    );
    assert.equal(
      parseConfig(scram, '/etc/pgkey').upstream.scram?.secrets_file,
      '/etc/pgkey/secrets/roles.yaml',
    );
    // A default path is relative too.
    const defaults = parseConfig(CONTRACT.replace(/audit:\n {2}file: .*\n/, ''), '/srv');
    assert.equal(defaults.audit.file, '/srv/pgkey-data/audit.jsonl');
  });

  it('returns a frozen config', () => {
    const config = parseConfig(CONTRACT, '/etc/pgkey');
    assert.ok(Object.isFrozen(config) && Object.isFrozen(config.policy[0]?.roles));
  });

  it('names the file and the first problem in the message, and every problem in detail', () => {
    const text = CONTRACT.replace('    fido2: { amr: [hwk, pop] }', '').replace(
      'roles: [postgres]',
      'roles: [pg_monitor]',
    );
    const error = configError(() => parseConfig(text, '/etc/pgkey', 'pgkey.yaml'));
    assert.equal(error.message, 'pgkey.yaml: issuers[1].fido2: required for profile "generic"');
    assert.deepEqual(error.detail?.split('\n'), [
      'issuers[1].fido2: required for profile "generic"',
      'policy[0].roles[0]: "pg_monitor" is a reserved PostgreSQL role name (pg_ prefix)',
    ]);
  });

  it('orders problems by their place in the file, not by schema order', () => {
    // The schema checks listen before audit; the file puts audit first.
    const moved = `audit:\n  file: ""\n${CONTRACT.replace(/audit:\n.*\n/, '')}`;
    const text = moved
      .replace('port: 5432', 'port: "5432"')
      .replace('address: 127.0.0.1:6432', 'address: nowhere');
    const check = checkConfig(text, '/x');
    assert.deepEqual(
      check.errors.map((d) => [d.path, d.line]),
      [
        ['audit.file', 2],
        ['listen.address', 4],
        ['upstream.port', 20],
      ],
    );
    assert.equal(check.errors[2]?.message, 'expected a number, got "5432"');
    // Cross-field problems too: policy written above issuers is reported first.
    const policyFirst = CONTRACT.replace('roles: [postgres]', 'roles: [pg_x]').replace(
      '    fido2: { amr: [hwk, pop] }',
      '',
    );
    const [issuers, policy] = policyFirst.split(/^(?=upstream:)/m);
    const reordered = checkConfig(`${policy ?? ''}${issuers ?? ''}`, '/x');
    assert.deepEqual(
      reordered.errors.map((d) => d.path),
      ['policy[0].roles[0]', 'issuers[1].fido2'],
    );
  });

  it('names unknown keys and suggests the close one', () => {
    const check = checkConfig(
      CONTRACT.replace('groups_claim: groups', 'group_claim: groups'),
      '/x',
    );
    assert.deepEqual(
      check.errors.map((d) => formatDiagnostic(d)),
      ['issuers[0].group_claim: unknown key (did you mean "groups_claim"?)'],
    );
    assert.equal(check.errors[0]?.line, 9);
    const top = checkConfig(`${CONTRACT}sesion: {}\n`, '/x');
    assert.equal(formatDiagnostic(top.errors[0]!), 'sesion: unknown key (did you mean "session"?)');
    const far = checkConfig(CONTRACT.replace('port: 5432', 'port: 5432\n  banana: 1'), '/x');
    assert.match(far.errors[0]?.message ?? '', /^unknown key; expected one of host, port, tls, /);
  });

  it('gives line:column for YAML syntax errors', () => {
    const error = configError(() =>
      parseConfig('listen:\n  address: [127.0.0.1\nissuers: []\n', '/x', 'pgkey.yaml'),
    );
    assert.match(error.message, /^pgkey\.yaml:3:1: /);
  });

  it('rejects duplicate keys with their line', () => {
    const check = checkConfig(
      CONTRACT.replace('  port: 5432\n', '  port: 5432\n  port: 5433\n'),
      '/x',
    );
    assert.deepEqual(
      check.errors.map((d) => formatDiagnostic(d)),
      ['19:3: duplicate key "port"'],
    );
  });

  it('explains empty files, lists and missing values', () => {
    assert.match(checkConfig('', '/x').errors[0]?.message ?? '', /^expected a mapping/);
    assert.match(checkConfig('- a\n', '/x').errors[0]?.message ?? '', /^expected a mapping/);
    const empty = checkConfig(CONTRACT.replace('databases: [warehouse]', 'databases:'), '/x');
    assert.equal(
      formatDiagnostic(empty.errors[0]!),
      'policy[1].databases: has no value; expected a list',
    );
    const missing = checkConfig(CONTRACT.replace(/upstream:\n(?: {2}.*\n)+/, ''), '/x');
    assert.equal(formatDiagnostic(missing.errors[0]!), 'upstream: required');
  });

  it('refuses alias bombs and YAML 1.1 booleans', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 8; i++)
      bomb.push(
        `${'bcdefghi'[i]}: &${'bcdefghi'[i]} [${Array(10).fill(`*${'abcdefgh'[i]}`).join(', ')}]`,
      );
    const errors = checkConfig(`${bomb.join('\n')}\n`, '/x').errors;
    assert.equal(errors.length, 1);
    assert.match(errors[0]?.message ?? '', /alias/i);
    const yes = checkConfig(
      CONTRACT.replace('address: 127.0.0.1:6432', 'address: 127.0.0.1:6432\n  require_tls: yes'),
      '/x',
    );
    assert.deepEqual(
      yes.errors.map((d) => formatDiagnostic(d)),
      ['listen.require_tls: expected true or false, got "yes"'],
    );
  });

  it('words schema problems for operators', () => {
    const cases: [string, string, string][] = [
      [
        'fresh_auth: 10m',
        'fresh_auth: soon',
        'policy[0].fresh_auth: "soon" is not a duration (try 30s, 10m, 12h)',
      ],
      [
        'fresh_auth: 10m',
        'fresh_auth: 10',
        'policy[0].fresh_auth: expected a duration such as 30s, 10m or 12h',
      ],
      [
        'profile: okta',
        'profile: auth0',
        'issuers[0].profile: must be one of builtin, okta, entra, keycloak, generic, workload; got "auth0"',
      ],
      [
        'audience: pgkey\n    profile: okta',
        'audience: []\n    profile: okta',
        'issuers[0].audience: must not be empty',
      ],
      [
        'audience: pgkey\n    profile: okta',
        'audience: 7\n    profile: okta',
        'issuers[0].audience: expected a string or a list',
      ],
      [
        'issuer: https://idp.internal',
        'issuer: idp.internal',
        'issuers[1].issuer: not a URL: "idp.internal"',
      ],
      ['port: 5432', 'port: 70000', 'upstream.port: must be at most 65535'],
    ];
    for (const [from, to, expected] of cases) {
      const check = checkConfig(CONTRACT.replace(from, to), '/x');
      assert.deepEqual(
        check.errors.map((d) => formatDiagnostic(d)),
        [expected],
        to,
      );
    }
  });
});

describe('loadConfig', () => {
  it('reads a file and resolves paths against its directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pgkey-config-'));
    try {
      const file = join(dir, 'pgkey.yaml');
      await writeFile(file, CONTRACT);
      const config = await loadConfig(file);
      assert.equal(config.issuers[1]?.jwks_file, join(dir, 'keys/idp-jwks.json'));
      await writeFile(file, CONTRACT.replace('roles: [postgres]', 'roles: ["*"]'));
      await assert.rejects(loadConfig(file), {
        code: 'ERR_CONFIG',
        message: `${file}: policy[0].roles[0]: roles take no wildcard: list each role`,
      });
      const check = await checkConfigFile(file);
      assert.equal(check.config, undefined);
      assert.equal(check.errors.length, 1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports a missing file as ERR_CONFIG', async () => {
    await assert.rejects(loadConfig('/nonexistent/pgkey.yaml'), {
      code: 'ERR_CONFIG',
      message: '/nonexistent/pgkey.yaml: no such file',
    });
  });
});
