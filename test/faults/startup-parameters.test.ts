/**
 * reliability.md §7 A5: what a StartupMessage may carry through pgkey. Each refusal is a
 * FATAL that names the parameter, sent before the token is asked for, and nothing reaches
 * PostgreSQL; allowlisted settings arrive in the session.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { untypedPacket } from '../support/bytes.ts';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';
import { pgConnectionsSeen } from './observe.ts';
import {
  CODES,
  connectTls,
  expectFatal,
  login,
  query,
  startupPacket,
  type ParamValue,
} from './wire.ts';

const USER = [
  ['user', 'analyst'],
  ['database', 'warehouse'],
] as const;

describe('startup parameters (A5)', () => {
  let h: GatewayHarness;
  let ca: string;
  before(async () => {
    h = await startGatewayHarness();
    ca = await readFile(h.clientCaFile, 'utf8');
  });
  after(async () => {
    await h?.close();
  });

  const refusals: Array<
    [string, ReadonlyArray<readonly [ParamValue, ParamValue]>, string, string | RegExp]
  > = [
    [
      'replication=database',
      [['replication', 'database']],
      '0A000',
      'replication connections are not available through pgkey',
    ],
    [
      'replication=true',
      [['replication', 'true']],
      '0A000',
      'replication connections are not available through pgkey',
    ],
    [
      'options=-c role=postgres',
      [['options', '-c role=postgres']],
      '0A000',
      'startup parameter "role" is not allowed by pgkey',
    ],
    [
      'options=-crole=postgres',
      [['options', '-crole=postgres']],
      '0A000',
      'startup parameter "role" is not allowed by pgkey',
    ],
    [
      'options=--session-authorization=postgres',
      [['options', '--session-authorization=postgres']],
      '0A000',
      'startup parameter "session_authorization" is not allowed by pgkey',
    ],
    ['options=-c=', [['options', '-c=']], '0A000', 'startup option "=" needs name=value'],
    ['options=-c', [['options', '-c']], '0A000', 'startup option "-c" needs name=value'],
    [
      'options=-D /tmp (a backend switch)',
      [['options', '-D /tmp']],
      '0A000',
      'startup option "-D" is not allowed by pgkey',
    ],
    [
      'session_authorization',
      [['session_authorization', 'postgres']],
      '0A000',
      'startup parameter "session_authorization" is not allowed by pgkey',
    ],
    ['role', [['role', 'postgres']], '0A000', 'startup parameter "role" is not allowed by pgkey'],
    [
      'a setting that needs privileges (log_statement)',
      [['log_statement', 'none']],
      '0A000',
      'startup parameter "log_statement" is not allowed by pgkey',
    ],
    [
      'a non-UTF-8 value',
      [['application_name', Buffer.from([0x61, 0xff, 0xfe])]],
      '08P01',
      'invalid UTF-8 in the value of startup parameter "application_name"',
    ],
    [
      'a duplicate key',
      [
        ['application_name', 'a'],
        ['application_name', 'b'],
      ],
      '08P01',
      'duplicate startup parameter "application_name"',
    ],
    [
      'the same setting in two spellings',
      [
        ['DateStyle', 'ISO'],
        ['datestyle', 'German'],
      ],
      '0A000',
      'parameter "datestyle" is given twice',
    ],
    [
      'the same setting as a parameter and in options',
      [
        ['search_path', 'a'],
        ['options', '-c search_path=b'],
      ],
      '0A000',
      'parameter "search_path" is given twice',
    ],
    [
      'a 5 KB value',
      [['application_name', 'x'.repeat(5 * 1024)]],
      '0A000',
      'startup parameter "application_name" is longer than 1024 bytes',
    ],
  ];

  for (const [what, parameters, sqlstate, message] of refusals) {
    it(`refuses ${what} with a FATAL naming it, before the token`, async () => {
      const seen = await pgConnectionsSeen(h);
      const wire = await connectTls(h.gateway.port, { ca });
      wire.write(startupPacket([...USER, ...parameters]));
      // expectFatal reads the first message: no 'R' came before the refusal.
      const fields = await expectFatal(wire, sqlstate, message);
      if (sqlstate === '0A000' && !/replication/.test(what)) {
        assert.match(fields.get('H') ?? '', /^pgkey forwards only these settings: .*search_path/);
      }
      assert.equal(await pgConnectionsSeen(h), seen, 'nothing reached PostgreSQL');
    });
  }

  it('refuses a value without its NUL (packet ends inside it) → 08P01', async () => {
    const wire = await connectTls(h.gateway.port, { ca });
    // user\0analyst\0application_name\0abc — and no terminators after the value.
    const body = Buffer.from('user\0analyst\0application_name\0abc', 'latin1');
    wire.write(untypedPacket(CODES.Protocol30, body));
    await expectFatal(
      wire,
      '08P01',
      'invalid startup packet layout: expected terminator as last byte',
    );
  });

  it('forwards search_path given in options: SHOW search_path through the gateway', async () => {
    const session = await login(h.gateway.port, {
      ca,
      token: await h.token(['analytics']),
      parameters: [['options', '-c search_path=foo']],
    });
    assert.deepEqual((await query(session.wire, 'SHOW search_path')).rows, [['foo']]);
    session.wire.destroy();
  });

  it('forwards allowlisted settings given as startup parameters', async () => {
    const session = await login(h.gateway.port, {
      ca,
      token: await h.token(['analytics']),
      parameters: [
        ['search_path', 'bar, public'],
        ['application_name', 'fault-test'],
        ['statement_timeout', '1234'],
      ],
    });
    const statuses = session.greeting
      .filter((m) => m.type === 'S')
      .map((m) => m.body.toString('utf8').split('\0').slice(0, 2));
    assert.deepEqual(
      statuses.find(([name]) => name === 'application_name'),
      ['application_name', 'fault-test'],
    );
    const result = await query(
      session.wire,
      "SELECT current_setting('search_path'), current_setting('statement_timeout'), current_user",
    );
    assert.deepEqual(result.rows, [['bar, public', '1234ms', 'analyst']]);
    session.wire.destroy();
  });
});
