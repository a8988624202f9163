import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';

describe('psql through the gateway (cert upstream)', () => {
  let h: GatewayHarness;
  before(async () => {
    h = await startGatewayHarness();
  });
  after(async () => {
    await h?.close();
  });

  it('lands as the requested role with the token as the password', async () => {
    const token = await h.token(['analytics']);
    const result = await h.psql(token, [
      '-At',
      '-c',
      'SELECT current_user, current_database(), ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
    ]);
    assert.equal(result.stderr, '');
    assert.equal(result.stdout.trim(), 'analyst|warehouse|t');
  });
});
