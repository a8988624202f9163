import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { compactVerify, importJWK, type JWK } from 'jose';
import { openSigningKey } from '../../src/audit/signing-key.ts';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';

describe('audit signing key', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgkey-audit-key-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is generated once (0600), its public half written beside it, and reused', async () => {
    const files = {
      keyFile: join(dir, 'new', 'audit.key.jwk'),
      publicFile: join(dir, 'new.pub.jwk'),
    };
    const [a, b] = await Promise.all([openSigningKey(files), openSigningKey(files)]);
    assert.equal(a.kid, b.kid, 'two processes starting at once share one key');
    assert.equal((await stat(files.keyFile)).mode & 0o777, 0o600);
    const publicJwk = JSON.parse(await readFile(files.publicFile, 'utf8')) as JWK;
    assert.deepEqual(Object.keys(publicJwk).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x']);
    assert.equal(publicJwk.kid, a.kid);
    assert.equal((await openSigningKey(files)).kid, a.kid);

    const jws = a.sign({ chain: 'c', seq: 1, head: 'h', time: 't' });
    const { payload, protectedHeader } = await compactVerify(
      jws,
      await importJWK(publicJwk, 'EdDSA'),
    );
    assert.deepEqual(protectedHeader, { alg: 'EdDSA', typ: 'pgkey-audit-checkpoint', kid: a.kid });
    assert.deepEqual(JSON.parse(new TextDecoder().decode(payload)), {
      chain: 'c',
      seq: 1,
      head: 'h',
      time: 't',
    });
  });

  it('refuses a key others can read, and a public file that is not its half', async () => {
    const files = { keyFile: join(dir, 'k.jwk'), publicFile: join(dir, 'k.pub.jwk') };
    await openSigningKey(files);
    await chmod(files.keyFile, 0o644);
    await assert.rejects(
      openSigningKey(files),
      (e) => isPgkeyError(e, 'ERR_CONFIG') && /mode 0644/.test(e.message),
    );
    await chmod(files.keyFile, 0o600);
    const other = { keyFile: join(dir, 'other.jwk'), publicFile: join(dir, 'other.pub.jwk') };
    await openSigningKey(other);
    await writeFile(files.publicFile, await readFile(other.publicFile));
    await assert.rejects(
      openSigningKey(files),
      (e) => isPgkeyError(e, 'ERR_CONFIG') && /not the public half/.test(e.message),
    );
  });
});
