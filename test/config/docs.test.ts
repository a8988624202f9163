import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { configKeys, renderConfigDocs } from '../../src/config/docs.ts';
import { CONFIG_RULES } from '../../src/config/rules.ts';

describe('config docs', () => {
  it('docs/configuration.md is exactly what the schema generates (run `npm run docs` after schema changes)', async () => {
    const committed = await readFile(
      new URL('../../docs/configuration.md', import.meta.url),
      'utf8',
    );
    assert.equal(committed, renderConfigDocs());
  });

  it('documents every key with its path, type, required flag, default and description', () => {
    const docs = renderConfigDocs();
    const keys = configKeys();
    assert.ok(keys.length > 60, `only ${keys.length} keys`);
    for (const key of keys) {
      if (!key.path.includes('.')) continue; // sections are headings
      const row = docs.split('\n').find((line) => line.startsWith(`| \`${key.path}\` |`));
      assert.ok(row !== undefined, `no row for ${key.path}`);
      assert.ok(key.description.length > 0, `${key.path} has no description`);
      assert.ok(row.includes(key.type.replaceAll('|', '\\|')), `${key.path}: type`);
    }
    for (const rule of CONFIG_RULES) assert.ok(docs.includes(`**${rule.name}**`), rule.name);
  });

  it('knows which keys are paths and durations and what they default to', () => {
    const byPath = new Map(configKeys().map((k) => [k.path, k]));
    const paths = configKeys()
      .filter((k) => k.kind === 'path')
      .map((k) => k.path);
    assert.deepEqual(paths, [
      'listen.tls.cert',
      'listen.tls.key',
      'issuers[].jwks_file',
      'upstream.tls.ca',
      'upstream.ca.cert',
      'upstream.ca.key',
      'upstream.scram.secrets_file',
      'audit.file',
      'audit.postgres.url_file',
      'audit.signing_key',
      'directory.sqlite.file',
      'directory.postgres.url_file',
      'idp.tls.cert',
      'idp.tls.key',
      'idp.clients[].client_secret_file',
      'idp.authenticators.trusted_roots',
      'idp.authenticators.mds_blob',
      'token_service.tls.cert',
      'token_service.tls.key',
      'token_service.publish_gateway_ca',
    ]);
    assert.equal(byPath.get('policy[].fresh_auth')?.type, 'duration');
    assert.equal(byPath.get('listen.handshake_timeout')?.default, '30s');
    assert.equal(byPath.get('issuers[].name')?.required, true);
    assert.equal(byPath.get('issuers[].groups_claim')?.required, false);
    assert.equal(byPath.get('issuers[].groups_claim')?.default, 'groups');
    assert.equal(byPath.get('upstream.port')?.type, 'integer 1–65535');
    assert.equal(byPath.get('listen.address')?.type, 'host:port');
  });
});
