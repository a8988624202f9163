import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { DEFAULT_ACTIVATION_DELAY_MS } from '../../src/idp/provider/signing-keys.ts';
import { CliFixture } from './cli-fixture.ts';

let fx: CliFixture | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});

const MINUTE_ISO = /\d{4}-\d\d-\d\dT\d\d:\d\dZ/.source;

describe('pgkey idp rotate-keys', () => {
  it('adds a pending key and retires the current one when it activates', async () => {
    fx = await CliFixture.create({ idp: { access_token_ttl: '10m' } });
    const before = Date.now();
    const first = await fx.run('idp', 'rotate-keys');
    assert.equal(first.code, 0, first.stderr);
    const [initial] = await fx.directory.signingKeys.list();
    assert.ok(initial !== undefined);
    assert.equal(
      first.stdout,
      `new signing key ${initial.kid}\n` +
        `  published in JWKS now, signs from ${new Date(initial.activatesAt).toISOString().slice(0, 16)}Z\n` +
        'no earlier key to retire\n' +
        'a running pgkey picks the new key up at its next key poll (every minute by default), or at once on SIGHUP\n',
    );
    assert.ok(
      initial.activatesAt >= before + DEFAULT_ACTIVATION_DELAY_MS,
      'pending: not signing yet',
    );

    const second = await fx.json('idp', 'rotate-keys');
    assert.equal(second.code, 0);
    const keys = await fx.directory.signingKeys.list();
    const pending = keys.find((k) => k.kid === second.body.kid);
    assert.ok(pending !== undefined, 'the new key is in the directory');
    assert.ok(pending.activatesAt > Date.now(), 'and signs only later');
    assert.equal(second.body.activatesAt, new Date(pending.activatesAt).toISOString());
    const [retired, ...more] = second.body.retired as Record<string, unknown>[];
    assert.equal(more.length, 0);
    assert.equal(retired?.kid, initial.kid);
    assert.equal(retired?.retiredAt, second.body.activatesAt);
    // Retired at the new key's activation; in JWKS for the token lifetime (10m) plus a minute.
    const expiresAt = Date.parse(String(retired?.expiresAt));
    assert.equal(expiresAt - pending.activatesAt, 11 * 60_000);
    const human = await fx.run('idp', 'rotate-keys');
    assert.match(
      human.stdout,
      new RegExp(
        `\\nretiring key ${pending.kid}\\n  stops signing ${MINUTE_ISO}, leaves JWKS ${MINUTE_ISO}\\n`,
      ),
    );
  });

  it('needs the idp section (ERR_CONFIG, exit 78) and takes no arguments (exit 2)', async () => {
    fx = await CliFixture.create({ idp: false });
    const run = await fx.run('idp', 'rotate-keys');
    assert.equal(run.code, 78);
    assert.match(
      run.stderr,
      /has no `idp` section: the signing keys belong to the built-in provider/,
    );
    assert.deepEqual(await fx.directory.signingKeys.list(), []);
    assert.equal((await fx.run('idp', 'rotate-keys', 'now')).code, 2);
  });
});
