import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { checkConfig, formatDiagnostic } from '../../src/config/load.ts';
import { CONFIG_RULES } from '../../src/config/rules.ts';
import type { ConfigInput } from '../../src/config/schema.ts';

/** A valid config as plain data; each case edits a copy and expects one exact problem. */
function base(): ConfigInput {
  return {
    listen: { address: '127.0.0.1:6432', tls: { cert: 'gw.pem', key: 'gw-key.pem' } },
    issuers: [
      { name: 'corp', issuer: 'https://idp.example.com', audience: 'pgkey', profile: 'okta' },
      {
        name: 'offline',
        issuer: 'https://idp.internal',
        audience: 'pgkey',
        profile: 'generic',
        jwks_file: 'jwks.json',
        fido2: { amr: ['hwk'] },
      },
      {
        name: 'ci',
        issuer: 'https://token.actions.example.com',
        audience: 'pgkey',
        profile: 'workload',
      },
    ],
    upstream: { tls: { ca: 'pg-ca.pem' }, auth: 'cert', ca: { cert: 'ca.pem', key: 'ca-key.pem' } },
    policy: [
      {
        name: 'dba',
        match: { groups: ['dba'] },
        databases: ['*'],
        roles: ['postgres'],
        fresh_auth: '10m',
      },
      {
        name: 'deploy',
        match: { issuers: ['ci'], claims: { repository: 'acme/app' } },
        databases: ['app'],
        roles: ['migrator'],
      },
    ],
  };
}

type Edit = (c: ConfigInput) => void;

/** An issuer whose tokens name the key (pgkey's built-in provider). */
const BUILTIN: ConfigInput['issuers'][number] = {
  name: 'builtin',
  issuer: 'https://login.example.com',
  audience: 'pgkey',
  profile: 'builtin',
};

interface Case {
  readonly rule: string;
  readonly title: string;
  readonly edit: Edit;
  /** The one expected problem, as `pgkey config check` prints it. */
  readonly error: string;
}

const CASES: readonly Case[] = [
  {
    rule: 'token-service',
    title: 'a token service on plain http off loopback',
    edit: (c) => (c.token_service = { issuer: 'http://sts.example.com' }),
    error: 'token_service.issuer: must use https:// (http:// only for loopback hosts)',
  },
  {
    rule: 'token-service',
    title: 'an https token service without a certificate',
    edit: (c) => {
      c.listen = { require_tls: false };
      c.token_service = { issuer: 'https://sts.example.com' };
    },
    error: 'token_service.tls: required for an https:// issuer (or set listen.tls)',
  },
  {
    rule: 'token-service',
    title: 'the token service listed as an issuer too',
    edit: (c) => (c.token_service = { issuer: 'https://idp.example.com' }),
    error:
      'issuers[0].issuer: this is the token service: the gateway trusts it already; remove this entry',
  },
  {
    rule: 'token-service',
    title: 'the token service on the wire listener address',
    edit: (c) =>
      (c.token_service = { issuer: 'https://sts.example.com', address: '127.0.0.1:6432' }),
    error: 'token_service.address: same address as listen.address',
  },
  {
    rule: 'token-service',
    title: 'a default lifetime longer than the maximum',
    edit: (c) =>
      (c.token_service = {
        issuer: 'https://sts.example.com',
        mint: { max_ttl: '10m', default_ttl: '15m' },
      }),
    error: 'token_service.mint.default_ttl: longer than mint.max_ttl',
  },
  {
    rule: 'token-service',
    title: 'an issuer named like the token service',
    edit: (c) => (c.issuers[0]!.name = 'pgkey-sts'),
    error: 'issuers[0].name: "pgkey-sts" is reserved for the token service; choose another',
  },
  {
    rule: 'agent-rules',
    title: 'an actor condition on human identities',
    edit: (c) => (c.policy[0]!.match = { actor: ['agent:bot'], kind: 'human' }),
    error:
      'policy[0].match.kind: "human" identities have no actor: with match.actor this rule could never match',
  },
  {
    rule: 'unique-issuers',
    title: 'duplicate issuer name',
    edit: (c) => (c.issuers[1]!.name = 'corp'),
    error: 'issuers[1].name: duplicate issuer name "corp" (also issuers[0].name)',
  },
  {
    rule: 'unique-issuers',
    title: 'duplicate issuer URL',
    edit: (c) => (c.issuers[2]!.issuer = 'https://idp.example.com'),
    error: 'issuers[2].issuer: same issuer URL as issuers[0]; tokens could not be told apart',
  },
  {
    rule: 'issuer-urls',
    title: 'http issuer off loopback',
    edit: (c) => (c.issuers[0]!.issuer = 'http://idp.example.com'),
    error: 'issuers[0].issuer: must use https:// (http:// only for loopback hosts), got "http://"',
  },
  {
    rule: 'issuer-urls',
    title: 'http jwks_uri off loopback',
    edit: (c) => (c.issuers[0]!.jwks_uri = 'http://10.0.0.1/jwks'),
    error:
      'issuers[0].jwks_uri: must use https:// (http:// only for loopback hosts), got "http://"',
  },
  {
    rule: 'issuer-urls',
    title: 'other schemes',
    edit: (c) => (c.issuers[0]!.issuer = 'ftp://127.0.0.1/'),
    error: 'issuers[0].issuer: must use https:// (http:// only for loopback hosts), got "ftp://"',
  },
  {
    rule: 'issuer-urls',
    title: 'issuer with a query',
    edit: (c) => (c.issuers[0]!.issuer = 'https://idp.example.com/?tenant=1'),
    error: 'issuers[0].issuer: an issuer URL has no query (?) or fragment (#)',
  },
  {
    rule: 'issuer-urls',
    title: 'issuer with credentials',
    edit: (c) => (c.issuers[0]!.issuer = 'https://u:p@idp.example.com'),
    error: 'issuers[0].issuer: must not contain a user name or password',
  },
  {
    rule: 'issuer-keys',
    title: 'jwks_file with jwks_uri',
    edit: (c) => (c.issuers[1]!.jwks_uri = 'https://idp.internal/jwks'),
    error: 'issuers[1].jwks_uri: cannot be combined with jwks_file: pick static keys or a URL',
  },
  {
    rule: 'fido2-evidence',
    title: 'generic without fido2',
    edit: (c) => delete c.issuers[1]!.fido2,
    error: 'issuers[1].fido2: required for profile "generic"',
  },
  {
    rule: 'fido2-evidence',
    title: 'entra without fido2',
    edit: (c) => (c.issuers[0]!.profile = 'entra'),
    error:
      'issuers[0].fido2: required for profile "entra" (set acrs to your authentication contexts, e.g. [c1])',
  },
  {
    rule: 'fido2-evidence',
    title: 'entra without acrs',
    edit: (c) => Object.assign(c.issuers[0]!, { profile: 'entra', fido2: { amr: ['mfa'] } }),
    error:
      'issuers[0].fido2.acrs: required for profile "entra": Entra ID proves FIDO2 only through authentication contexts',
  },
  {
    rule: 'fido2-evidence',
    title: 'workload with fido2',
    edit: (c) => (c.issuers[2]!.fido2 = { acr: ['phr'] }),
    error:
      'issuers[2].fido2: workload issuers cannot prove FIDO2; remove it and use match.claims in policy',
  },
  {
    rule: 'fido2-evidence',
    title: 'empty fido2',
    edit: (c) => (c.issuers[1]!.fido2 = {}),
    error: 'issuers[1].fido2: set at least one of amr, acr, acrs',
  },
  {
    rule: 'fido2-evidence',
    title: 'builtin with another typ',
    edit: (c) => Object.assign(c.issuers[0]!, { profile: 'builtin', typ: 'JWT' }),
    error: 'issuers[0].typ: the builtin profile issues "at+jwt" tokens (RFC 9068)',
  },
  {
    rule: 'upstream-auth',
    title: 'cert without ca',
    edit: (c) => delete c.upstream.ca,
    error:
      'upstream.ca: required when upstream.auth is "cert" (create it with `pgkey upstream init`)',
  },
  {
    rule: 'upstream-auth',
    title: 'cert by default without ca',
    edit: (c) => {
      delete c.upstream.ca;
      delete c.upstream.auth;
    },
    error:
      'upstream.ca: required when upstream.auth is "cert" (create it with `pgkey upstream init`)',
  },
  {
    rule: 'upstream-auth',
    title: 'scram without scram',
    edit: (c) => {
      c.upstream.auth = 'scram';
      delete c.upstream.ca;
    },
    error: 'upstream.scram: required when upstream.auth is "scram"',
  },
  {
    rule: 'listeners',
    title: 'TLS required without certificate',
    edit: (c) => delete c.listen!.tls,
    error: 'listen.tls: required while listen.require_tls is true (the default)',
  },
  {
    rule: 'listeners',
    title: 'port above 65535',
    edit: (c) => (c.listen!.address = '127.0.0.1:65536'),
    error: 'listen.address: port 65536 is above 65535',
  },
  {
    rule: 'listeners',
    title: 'admin on the wire port',
    edit: (c) => (c.admin = { address: '127.0.0.1:6432' }),
    error: 'admin.address: same address as listen.address',
  },
  {
    rule: 'positive-durations',
    title: 'zero max_duration',
    edit: (c) => (c.session = { max_duration: '0s' }),
    error: 'session.max_duration: must be greater than 0',
  },
  {
    rule: 'positive-durations',
    title: 'zero fresh_auth',
    edit: (c) => (c.policy[0]!.fresh_auth = '0m'),
    error: 'policy[0].fresh_auth: must be greater than 0',
  },
  {
    rule: 'positive-durations',
    title: 'zero cert_ttl',
    edit: (c) => (c.upstream.cert_ttl = '0s'),
    error: 'upstream.cert_ttl: must be greater than 0',
  },
  {
    rule: 'policy-rules',
    title: 'duplicate rule names',
    edit: (c) => (c.policy[1]!.name = 'dba'),
    error: 'policy[1].name: duplicate rule name "dba" (also policy[0].name)',
  },
  {
    rule: 'policy-rules',
    title: 'unknown issuer in match',
    edit: (c) => (c.policy[0]!.match!.issuers = ['corp', 'okta']),
    error: 'policy[0].match.issuers[1]: unknown issuer "okta" (configured: corp, offline, ci)',
  },
  {
    rule: 'policy-rules',
    title: 'e-mail without @',
    edit: (c) => (c.policy[0]!.match!.emails = ['ann']),
    error: 'policy[0].match.emails[0]: "ann" is not an e-mail address',
  },
  {
    rule: 'policy-rules',
    title: 'pg_ role',
    edit: (c) => (c.policy[0]!.roles = ['pg_read_all_data']),
    error: 'policy[0].roles[0]: "pg_read_all_data" is a reserved PostgreSQL role name (pg_ prefix)',
  },
  {
    rule: 'policy-rules',
    title: 'wildcard role',
    edit: (c) => (c.policy[0]!.roles = ['admin', '*']),
    error: 'policy[0].roles[1]: roles take no wildcard: list each role',
  },
  {
    rule: 'policy-rules',
    title: 'public role',
    edit: (c) => (c.policy[0]!.roles = ['PUBLIC']),
    error: 'policy[0].roles[0]: "public" is not a role one can log in as',
  },
  {
    rule: 'policy-rules',
    title: 'long database name',
    edit: (c) => (c.policy[1]!.databases = ['d'.repeat(64)]),
    error: 'policy[1].databases[0]: must be 1-63 bytes without NUL (a PostgreSQL name)',
  },
  {
    rule: 'workload-rules',
    title: 'kind workload without claims',
    edit: (c) => (c.policy[1]!.match = { kind: 'workload' }),
    error:
      'policy[1].match.claims: required for rules that can match workload identities (e.g. repository: org/app)',
  },
  {
    rule: 'workload-rules',
    title: 'workload issuer without claims',
    edit: (c) => delete c.policy[1]!.match!.claims,
    error:
      'policy[1].match.claims: required for rules that can match workload identities (e.g. repository: org/app)',
  },
  {
    rule: 'workload-rules',
    title: 'workload issuer with empty claims',
    edit: (c) => (c.policy[1]!.match = { issuers: ['corp', 'ci'], claims: {} }),
    error:
      'policy[1].match.claims: required for rules that can match workload identities (e.g. repository: org/app)',
  },
  {
    rule: 'workload-rules',
    title: 'workload rule with fresh_auth',
    edit: (c) =>
      Object.assign(c.policy[1]!, {
        match: { kind: 'workload', claims: { repository: 'acme/app' } },
        fresh_auth: '5m',
      }),
    error:
      'policy[1].fresh_auth: workload identities never log in with a security key, so this rule could never grant',
  },
  {
    rule: 'assurance-rules',
    title: 'authenticator conditions on a rule no builtin issuer can reach',
    edit: (c) => (c.policy[0]!.authenticator = { device_bound: true }),
    error:
      'policy[0].authenticator: only the built-in provider\'s tokens (profile builtin) say which key was used, and this rule can match no such issuer (only "corp", "offline"): it could never grant',
  },
  {
    rule: 'assurance-rules',
    title: 'aal3 limited to an issuer that does not name the key',
    edit: (c) => {
      c.issuers.push(BUILTIN);
      Object.assign(c.policy[0]!, { match: { issuers: ['corp'] }, assurance: 'aal3' });
    },
    error:
      'policy[0].assurance: only the built-in provider\'s tokens (profile builtin) say which key was used, and this rule can match no such issuer (only "corp"): it could never grant',
  },
  {
    rule: 'assurance-rules',
    title: 'an AAGUID list without attestation',
    edit: (c) => {
      c.issuers.push(BUILTIN);
      c.policy[0]!.match = { issuers: ['builtin'] };
      c.policy[0]!.authenticator = { aaguids: ['cb69481e-8ff7-4039-93ec-0a2729a154a8'] };
    },
    error:
      'policy[0].authenticator.aaguids: needs attested: true (or assurance: aal3): an AAGUID without a verified attestation is self-asserted',
  },
  {
    rule: 'assurance-rules',
    title: 'an empty authenticator block',
    edit: (c) => (c.policy[0]!.authenticator = {}),
    error:
      'policy[0].authenticator: set at least one of device_bound, attested, user_verified, aaguids',
  },
  {
    rule: 'assurance-rules',
    title: 'a workload rule with an assurance level',
    edit: (c) =>
      Object.assign(c.policy[1]!, {
        match: { kind: 'workload', claims: { repository: 'acme/app' } },
        assurance: 'aal2',
      }),
    error:
      'policy[1].assurance: workload identities never log in with a security key, so this rule could never grant',
  },
  {
    rule: 'positive-durations',
    title: 'zero rule idle_timeout',
    edit: (c) => (c.policy[0]!.idle_timeout = '0s'),
    error: 'policy[0].idle_timeout: must be greater than 0',
  },
  {
    rule: 'idp-issuer',
    title: 'http idp issuer off loopback',
    edit: (c) => (c.idp = { issuer: 'http://login.example.com', trust_proxy: true }),
    error: 'idp.issuer: must use https:// (http:// only for loopback hosts)',
  },
  {
    rule: 'idp-issuer',
    title: 'https idp issuer without TLS or a proxy',
    edit: (c) => (c.idp = { issuer: 'https://login.example.com' }),
    error:
      'idp.tls: required for an https:// issuer, unless TLS ends at a proxy (set idp.trust_proxy)',
  },
  {
    rule: 'idp-issuer',
    title: 'idp issuer with a trailing slash',
    edit: (c) => (c.idp = { issuer: 'http://localhost:8080/' }),
    error: 'idp.issuer: no trailing slash: verifiers compare `iss` byte for byte',
  },
  {
    rule: 'idp-webauthn',
    title: 'an IP address as RP ID',
    edit: (c) => (c.idp = { issuer: 'http://127.0.0.1:8080' }),
    error:
      'idp.issuer: WebAuthn RP IDs are domain names, not IP addresses: use e.g. http://localhost',
  },
  {
    rule: 'idp-webauthn',
    title: 'rp_id that does not cover the issuer',
    edit: (c) => (c.idp = { issuer: 'http://localhost:8080', rp_id: 'example.com' }),
    error:
      'idp.rp_id: the issuer host localhost is not example.com or below it (WebAuthn L3 §5.1.4.1)',
  },
  {
    rule: 'idp-webauthn',
    title: 'aaguids without require_attested',
    edit: (c) =>
      (c.idp = {
        issuer: 'http://localhost:8080',
        authenticators: { aaguids: ['ee882879-721c-4913-9775-3dfcce97072a'] },
      }),
    error:
      'idp.authenticators.aaguids: needs require_attested: an AAGUID without a verified attestation is self-asserted',
  },
  {
    rule: 'idp-clients',
    title: 'duplicate client ids',
    edit: (c) =>
      (c.idp = {
        issuer: 'http://localhost:8080',
        clients: [
          { client_id: 'app', redirect_uris: ['https://app.example.com/cb'] },
          { client_id: 'app', redirect_uris: ['https://app.example.com/cb2'] },
        ],
      }),
    error: 'idp.clients[1].client_id: duplicate client_id "app" (also idp.clients[0])',
  },
  {
    rule: 'idp-clients',
    title: 'http redirect URI off loopback',
    edit: (c) =>
      (c.idp = {
        issuer: 'http://localhost:8080',
        clients: [{ client_id: 'app', redirect_uris: ['http://app.example.com/cb'] }],
      }),
    error: 'idp.clients[0].redirect_uris[0]: must use https:// (http:// only for loopback hosts)',
  },
  {
    rule: 'idp-lifetimes',
    title: 'session shorter than an access token',
    edit: (c) =>
      (c.idp = { issuer: 'http://localhost:8080', session_max: '5m', access_token_ttl: '10m' }),
    error: 'idp.session_max: must be at least idp.access_token_ttl',
  },
  {
    rule: 'idp-gateway-trust',
    title: 'the issuers entry for the provider uses another profile',
    edit: (c) => (c.idp = { issuer: 'https://idp.example.com', trust_proxy: true }),
    error: 'issuers[0].profile: must be "builtin" for the built-in provider',
  },
  {
    rule: 'oauth-listener',
    title: 'the OAUTHBEARER listener on the main listener address',
    edit: (c) => (c.listen!.oauth = { address: '127.0.0.1:6432', issuer: 'https://idp.internal' }),
    error:
      'listen.oauth.address: same address as listen.address: the OAUTHBEARER door needs a listener of its own',
  },
  {
    rule: 'oauth-listener',
    title: 'the OAUTHBEARER listener on a port above 65535',
    edit: (c) => (c.listen!.oauth = { address: '0.0.0.0:70000', issuer: 'https://idp.internal' }),
    error: 'listen.oauth.address: port 70000 is above 65535',
  },
  {
    rule: 'oauth-issuer',
    title: 'an OAUTHBEARER issuer the gateway does not trust',
    edit: (c) =>
      (c.listen!.oauth = { address: '0.0.0.0:6433', issuer: 'https://idp.example.com/' }),
    error:
      'listen.oauth.issuer: "https://idp.example.com/" is not one of issuers[].issuer: tokens from it would be refused',
  },
  {
    rule: 'audit-sinks',
    title: 'the postgres sink without audit.postgres',
    edit: (c) => (c.audit = { sinks: ['file', 'postgres'] }),
    error: 'audit.postgres: required when audit.sinks lists postgres',
  },
  {
    rule: 'audit-sinks',
    title: 'a sink listed twice',
    edit: (c) => (c.audit = { sinks: ['file', 'stdout', 'file'] }),
    error: 'audit.sinks[2]: file is listed twice',
  },
  {
    rule: 'provisioning',
    title: 'a rule provisions without the provisioning section',
    edit: (c) => (c.policy[0]!.provision = { mode: 'keep' }),
    error: 'provisioning: required: policy[0] provisions roles (docs/provisioning.md)',
  },
  {
    rule: 'provisioning',
    title: 'a rule drops roles with nowhere to put their objects',
    edit: (c) => {
      c.policy[0]!.provision = { mode: 'drop' };
      c.provisioning = {};
    },
    error:
      'provisioning.reassign_to: required: policy[0] drops roles, and their objects need an owner',
  },
];

function check(edit?: Edit) {
  const input = base();
  edit?.(input);
  return checkConfig(stringify(input), '/etc/pgkey');
}

describe('cross-field rules', () => {
  it('the base config is valid, so every case below starts clean', () => {
    const result = check();
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.warnings, []);
  });

  for (const c of CASES) {
    it(`${c.rule}: ${c.title}`, () => {
      const result = check(c.edit);
      assert.deepEqual(
        result.errors.map((d) => formatDiagnostic(d)),
        [c.error],
      );
      assert.equal(result.config, undefined);
    });
  }

  it('audit-sinks: warns about an unused postgres section, no file sink, and on_failure continue', () => {
    const result = check((c) => {
      c.audit = {
        sinks: ['stdout'],
        on_failure: 'continue',
        postgres: { url_file: 'audit-url' },
      };
    });
    assert.deepEqual(result.errors, []);
    assert.deepEqual(
      result.warnings.map((d) => d.path),
      ['audit.sinks', 'audit.on_failure', 'audit.postgres'],
    );
  });

  it('has a case for every rule in the catalogue', () => {
    assert.deepEqual(
      [...new Set(CASES.map((c) => c.rule))].sort(),
      CONFIG_RULES.map((r) => r.name).sort(),
    );
  });

  it('assurance-rules: aal2 and a rule idle_timeout need no issuer that names the key', () => {
    const result = check((c) => {
      Object.assign(c.policy[0]!, { assurance: 'aal2', idle_timeout: '10m' });
    });
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.warnings, []);
    assert.equal(result.config?.policy[0]?.assurance, 'aal2');
    assert.equal(result.config?.policy[0]?.idle_timeout, 10 * 60_000);
  });

  it('assurance-rules: key conditions limited to builtin issuers are clean', () => {
    const result = check((c) => {
      c.issuers.push(BUILTIN);
      Object.assign(c.policy[0]!, {
        match: { groups: ['dba'], issuers: ['builtin'] },
        assurance: 'aal3',
        authenticator: { aaguids: ['CB69481E-8FF7-4039-93EC-0A2729A154A8'] },
      });
    });
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.warnings, []);
  });

  it('assurance-rules: authenticator takes only `true` and well-formed AAGUIDs', () => {
    for (const [authenticator, message] of [
      [
        { device_bound: false },
        'policy[0].authenticator.device_bound: must be one of true; got false',
      ],
      [
        { aaguids: ['yubikey'] },
        'policy[0].authenticator.aaguids[0]: expected an AAGUID such as cb69481e-8ff7-4039-93ec-0a2729a154a8',
      ],
      [
        { pin: true },
        'policy[0].authenticator.pin: unknown key; expected one of device_bound, attested, user_verified, aaguids',
      ],
    ] as const) {
      const result = check((c) => Object.assign(c.policy[0]!, { authenticator }));
      assert.deepEqual(
        result.errors.map((d) => formatDiagnostic(d)),
        [message],
      );
    }
    const level = check((c) => Object.assign(c.policy[0]!, { assurance: 'aal1' }));
    assert.deepEqual(
      level.errors.map((d) => formatDiagnostic(d)),
      ['policy[0].assurance: must be one of aal2, aal3; got "aal1"'],
    );
  });

  it('accepts http:// for loopback issuers, with a warning', () => {
    for (const url of [
      'http://127.0.0.1:8080',
      'http://127.9.9.9/',
      'http://localhost:9000/idp',
      'http://[::1]:8080',
    ]) {
      const result = check((c) => (c.issuers[0]!.issuer = url));
      assert.deepEqual(result.errors, [], url);
      assert.deepEqual(
        result.warnings.map((d) => d.path),
        ['issuers[0].issuer'],
        url,
      );
    }
    const lookalike = check((c) => (c.issuers[0]!.issuer = 'http://127.0.0.1.evil.example/'));
    assert.equal(lookalike.errors[0]?.path, 'issuers[0].issuer');
  });

  it('accepts scram with its secrets file and plaintext listeners when asked', () => {
    const scram = check((c) => {
      c.upstream = {
        tls: { ca: 'pg-ca.pem' },
        auth: 'scram',
        scram: { secrets_file: 'roles.yaml' },
      };
    });
    assert.deepEqual(scram.errors, []);
    const plain = check((c) => (c.listen = { require_tls: false }));
    assert.deepEqual(plain.errors, []);
  });

  it('accepts an OAUTHBEARER listener; scope defaults to openid and must be RFC 6749 scopes', () => {
    const oauth = check(
      (c) => (c.listen!.oauth = { address: '0.0.0.0:6433', issuer: 'https://idp.example.com' }),
    );
    assert.deepEqual(oauth.errors, []);
    assert.deepEqual(oauth.warnings, []);
    assert.deepEqual(oauth.config?.listen.oauth, {
      address: '0.0.0.0:6433',
      issuer: 'https://idp.example.com',
      scope: 'openid',
    });
    for (const scope of ['', 'openid email groups', 'urn:x:y api://db/.default']) {
      const ok = check(
        (c) =>
          (c.listen!.oauth = { address: '0.0.0.0:6433', issuer: 'https://idp.internal', scope }),
      );
      assert.deepEqual(ok.errors, [], scope);
    }
    for (const scope of ['openid  email', ' openid', 'a"b', 'a\\b', 'é']) {
      const bad = check(
        (c) =>
          (c.listen!.oauth = { address: '0.0.0.0:6433', issuer: 'https://idp.internal', scope }),
      );
      assert.equal(bad.errors[0]?.path, 'listen.oauth.scope', scope);
    }
  });
});

describe('warnings', () => {
  const WARNINGS: [string, Edit, string][] = [
    [
      'plaintext listener',
      (c) => (c.listen!.require_tls = false),
      'listen.require_tls: false: tokens may cross the network in plaintext',
    ],
    [
      'empty match',
      (c) => (c.policy[0]!.match = {}),
      'policy[0].match: empty: this rule applies to every person from every issuer',
    ],
    [
      'redundant wildcard',
      (c) => (c.policy[0]!.databases = ['*', 'app']),
      'policy[0].databases: "*" already allows every database',
    ],
    [
      'max_session above the cap',
      (c) => (c.policy[0]!.max_session = '24h'),
      'policy[0].max_session: longer than session.max_duration, which still applies',
    ],
    [
      'a rule idle_timeout longer than the global one',
      (c) => (c.policy[0]!.idle_timeout = '2h'),
      'policy[0].idle_timeout: longer than session.idle_timeout, which still applies',
    ],
    [
      'key conditions on a rule that also matches issuers that cannot show the key',
      (c) => {
        c.issuers.push(BUILTIN);
        c.policy[0]!.assurance = 'aal3';
      },
      'policy[0].assurance: people from issuers "corp", "offline" are refused by this rule: their tokens do not say which key was used (add match.issuers to limit the rule to builtin issuers)',
    ],
    [
      'fresh_auth looser than the assurance preset',
      (c) => {
        c.issuers.push(BUILTIN);
        Object.assign(c.policy[0]!, {
          match: { groups: ['dba'], issuers: ['builtin'] },
          assurance: 'aal3',
          fresh_auth: '24h',
        });
      },
      "policy[0].fresh_auth: longer than assurance aal3's 12h, which applies",
    ],
    [
      'idle_timeout looser than the assurance preset',
      (c) => {
        c.issuers.push(BUILTIN);
        Object.assign(c.policy[0]!, {
          match: { groups: ['dba'], issuers: ['builtin'] },
          assurance: 'aal2',
          idle_timeout: '1h30m',
          fresh_auth: '5m',
        });
        c.session = { idle_timeout: '2h' };
      },
      "policy[0].idle_timeout: longer than assurance aal2's 1h, which applies",
    ],
    [
      'unused ca',
      (c) => Object.assign(c.upstream, { auth: 'scram', scram: { secrets_file: 's.yaml' } }),
      'upstream.ca: ignored: upstream.auth is "scram"',
    ],
    [
      'unused scram',
      (c) => (c.upstream.scram = { secrets_file: 's.yaml' }),
      'upstream.scram: ignored: upstream.auth is "cert"',
    ],
    [
      'wide clock skew',
      (c) => (c.issuers[0]!.clock_skew = '10m'),
      'issuers[0].clock_skew: more than 5m keeps expired tokens usable for longer',
    ],
    [
      'a provider the gateway does not trust',
      (c) => (c.idp = { issuer: 'https://login.example.com', trust_proxy: true }),
      'idp.issuer: no issuers[] entry has this issuer: the gateway will not accept tokens from its own provider',
    ],
    [
      'an OAUTHBEARER issuer for workloads',
      (c) =>
        (c.listen!.oauth = {
          address: '0.0.0.0:6433',
          issuer: 'https://token.actions.example.com',
        }),
      'listen.oauth.issuer: issuer "ci" is a workload issuer: no person logs in there',
    ],
    [
      'the built-in provider as OAUTHBEARER issuer without the device grant',
      (c) => {
        c.issuers[0]!.profile = 'builtin';
        c.idp = { issuer: 'https://idp.example.com', trust_proxy: true };
        c.listen!.oauth = { address: '0.0.0.0:6433', issuer: 'https://idp.example.com' };
      },
      'idp.cli_device_flow: false: libpq 18 with oauth_client_id=pgkey-cli runs the device grant, which the built-in provider then refuses',
    ],
  ];
  for (const [title, edit, expected] of WARNINGS) {
    it(title, () => {
      const result = check(edit);
      assert.deepEqual(result.errors, []);
      assert.ok(result.config !== undefined);
      assert.deepEqual(
        result.warnings.map((d) => formatDiagnostic(d)),
        [expected],
      );
    });
  }
});
