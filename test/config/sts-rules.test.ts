import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { checkConfig, formatDiagnostic } from '../../src/config/load.ts';
import type { ConfigInput } from '../../src/config/schema.ts';

/** `token_service:` defaults and what its rules accept (the refusals are in rules.test.ts). */
function config(tokenService: Record<string, unknown>): ConfigInput {
  return {
    listen: { tls: { cert: 'gw.pem', key: 'gw-key.pem' } },
    issuers: [
      {
        name: 'corp',
        issuer: 'https://idp.example.com',
        audience: ['pgkey', 'x'],
        profile: 'okta',
      },
    ],
    upstream: { tls: { ca: 'pg-ca.pem' }, auth: 'cert', ca: { cert: 'ca.pem', key: 'ca-key.pem' } },
    policy: [
      { name: 'people', match: { groups: ['dba'] }, databases: ['app'], roles: ['app'] },
      { name: 'bots', match: { actor: ['agent:bot'] }, databases: ['app'], roles: ['reader'] },
    ],
    token_service: tokenService,
  } as ConfigInput;
}

describe('token_service config', () => {
  it('fills defaults: address, lifetimes, no exchange freshness', () => {
    const result = checkConfig(
      stringify(config({ issuer: 'https://pgkey.example.com' })),
      '/etc/pgkey',
    );
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.warnings, []);
    assert.deepEqual(result.config?.token_service, {
      issuer: 'https://pgkey.example.com',
      address: '127.0.0.1:8444',
      mint: { fresh_auth: 300_000, max_ttl: 3_600_000, default_ttl: 900_000 },
      exchange: { max_ttl: 900_000, default_ttl: 300_000 },
    });
  });

  it('resolves its files against the config directory', () => {
    const result = checkConfig(
      stringify(
        config({
          issuer: 'https://pgkey.example.com',
          tls: { cert: 'sts.pem', key: 'sts-key.pem' },
          publish_gateway_ca: 'certs/ca.pem',
        }),
      ),
      '/etc/pgkey',
    );
    assert.equal(result.config?.token_service?.tls?.cert, '/etc/pgkey/sts.pem');
    assert.equal(result.config?.token_service?.publish_gateway_ca, '/etc/pgkey/certs/ca.pem');
  });

  it('accepts a loopback http issuer with a warning, and warns about day-long service tokens', () => {
    const result = checkConfig(
      stringify(config({ issuer: 'http://127.0.0.1:8444', mint: { max_ttl: '48h' } })),
      '/etc/pgkey',
    );
    assert.deepEqual(result.errors, []);
    assert.deepEqual(
      result.warnings.map((w) => formatDiagnostic(w)),
      [
        'token_service.issuer: plain http: tokens cross in the clear; only for local use',
        'token_service.mint.max_ttl: more than 24h: a leaked service token stays good that long unless revoked',
      ],
    );
  });

  it('refuses lifetimes under a second and an issuer with a trailing slash', () => {
    const result = checkConfig(
      stringify(
        config({
          issuer: 'https://pgkey.example.com/',
          exchange: { max_ttl: '500ms', default_ttl: '100ms' },
        }),
      ),
      '/etc/pgkey',
    );
    assert.deepEqual(
      result.errors.map((e) => formatDiagnostic(e)),
      [
        'token_service.issuer: no trailing slash: verifiers compare `iss` byte for byte',
        'token_service.exchange.max_ttl: must be at least 1s',
        'token_service.exchange.default_ttl: must be at least 1s',
      ],
    );
  });
});
