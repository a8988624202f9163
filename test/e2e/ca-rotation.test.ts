import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { activateRotation, finishRotation, prepareRotation } from '../../src/pki/ca-rotation.ts';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';

/**
 * `pgkey upstream rotate-ca` end to end: PostgreSQL trusts the bundle, the gateway switches
 * signers on reload, the old CA is dropped, and no login or live session fails on the way.
 */
describe('upstream CA rotation through a running gateway', () => {
  let h: GatewayHarness;
  before(async () => {
    h = await startGatewayHarness();
  });
  after(async () => {
    await h?.close();
  });

  const connect = async (): Promise<pg.Client> => {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: h.gateway.port,
      user: 'analyst',
      database: 'warehouse',
      password: await h.token(['analytics']),
      ssl: { ca: await readFile(h.clientCaFile, 'utf8'), servername: 'localhost' },
    });
    await client.connect();
    return client;
  };
  const issuerOf = async (): Promise<string> => {
    const client = await connect();
    const { rows } = await client.query(
      'SELECT client_dn, issuer_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
    );
    await client.end();
    return rows[0].issuer_dn as string;
  };

  it('keeps every login working from prepare to finish', async () => {
    const files = h.config.upstream.ca!;
    const live = await connect();
    const original = await issuerOf();

    const prepared = await prepareRotation(files);
    await h.pg.setClientCa(prepared.bundlePem);
    assert.equal(await issuerOf(), original, 'before activation the old CA still signs');

    await activateRotation(files);
    await h.gateway.reload(h.config);
    const rotated = await issuerOf();
    assert.notEqual(rotated, original, 'after reload the new CA signs');

    const finished = await finishRotation(files);
    await h.pg.setClientCa(finished.bundlePem);
    assert.equal(await issuerOf(), rotated);
    assert.equal((await live.query('SELECT 1 AS one')).rows[0].one, 1, 'the live session survived');
    await live.end();
  });
});
