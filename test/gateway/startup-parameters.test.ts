import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';
import {
  FORWARDED_PARAMETERS,
  parseOptions,
  parseStartupParameters,
} from '../../src/gateway/startup-parameters.ts';

const parse = (...pairs: Array<[string, string]>) => parseStartupParameters(new Map(pairs));

/** Asserts ERR_STARTUP_PARAMETER (SQLSTATE 0A000) with this reason and message. */
function refused(reason: string, message: string) {
  return (error: unknown): boolean => {
    assert.ok(
      isPgkeyError(error, 'ERR_STARTUP_PARAMETER'),
      `not ERR_STARTUP_PARAMETER: ${String(error)}`,
    );
    assert.equal(error.reason, reason);
    assert.equal(error.message, message);
    assert.equal(error.sqlstate, '0A000');
    return true;
  };
}

const notAllowed = (name: string) =>
  refused('startup_parameter_refused', `startup parameter "${name}" is not allowed by pgkey`);

describe('parseStartupParameters: user and database', () => {
  it('defaults the database to the user (protocol-message-formats StartupMessage)', () => {
    assert.deepEqual(parse(['user', 'alice']), {
      user: 'alice',
      database: 'alice',
      forwarded: [],
      applicationName: undefined,
    });
    assert.equal(parse(['user', 'alice'], ['database', '']).database, 'alice');
    assert.equal(parse(['database', 'shop'], ['user', 'alice']).database, 'shop');
  });

  for (const pairs of [[], [['user', '']], [['database', 'shop']], [['User', 'alice']]] as Array<
    Array<[string, string]>
  >) {
    it(`refuses a startup packet without a user: ${JSON.stringify(pairs)}`, () => {
      assert.throws(
        () => parse(...pairs),
        (error) => {
          assert.ok(isPgkeyError(error, 'ERR_NO_USER'));
          assert.equal(error.sqlstate, '28000');
          assert.equal(error.message, 'no PostgreSQL user name specified in startup packet');
          return true;
        },
      );
    });
  }

  it('accepts 63-byte user and database names and refuses 64 (NAMEDATALEN - 1)', () => {
    const u63 = 'u'.repeat(63);
    const euro21 = '€'.repeat(21); // 63 bytes in UTF-8
    assert.equal(parse(['user', u63], ['database', euro21]).database, euro21);
    const tooLong = refused(
      'startup_parameter_refused',
      'user and database names are at most 63 bytes',
    );
    assert.throws(() => parse(['user', 'u'.repeat(64)]), tooLong);
    assert.throws(() => parse(['user', 'alice'], ['database', 'd'.repeat(64)]), tooLong);
    assert.throws(() => parse(['user', '€'.repeat(22)]), tooLong);
  });
});

describe('parseStartupParameters: the allowlist', () => {
  it('forwards allowlisted settings in the order sent, spelled as sent', () => {
    const request = parse(
      ['user', 'alice'],
      ['DateStyle', 'ISO, MDY'],
      ['application_name', 'psql'],
      ['CLIENT_ENCODING', 'UTF8'],
      ['TimeZone', 'UTC'],
    );
    assert.deepEqual(request.forwarded, [
      ['DateStyle', 'ISO, MDY'],
      ['application_name', 'psql'],
      ['CLIENT_ENCODING', 'UTF8'],
      ['TimeZone', 'UTC'],
    ]);
    assert.equal(request.applicationName, 'psql');
  });

  it('lists every allowlisted name in lower case', () => {
    for (const name of FORWARDED_PARAMETERS) assert.equal(name, name.toLowerCase());
    for (const name of [
      'role',
      'session_authorization',
      'replication',
      'options',
      'user',
      'database',
    ]) {
      assert.equal(FORWARDED_PARAMETERS.has(name), false, name);
    }
  });

  for (const name of [
    'role',
    'ROLE',
    'session_authorization',
    'log_statement',
    'is_superuser',
    'Database',
  ]) {
    it(`refuses "${name}" with the name in the message and the allowlist in the hint`, () => {
      assert.throws(
        () => parse(['user', 'alice'], [name, 'x']),
        (error) => {
          notAllowed(name)(error);
          assert.ok(isPgkeyError(error));
          assert.equal(
            error.hint,
            `pgkey forwards only these settings: ${[...FORWARDED_PARAMETERS].join(', ')}`,
          );
          return true;
        },
      );
    });
  }

  it('truncates a long refused name in the message', () => {
    assert.throws(
      () => parse(['user', 'a'], ['x'.repeat(100), '1']),
      notAllowed(`${'x'.repeat(40)}…`),
    );
  });

  for (const value of ['true', 'database', 'false', '']) {
    it(`refuses replication=${JSON.stringify(value)}`, () => {
      assert.throws(
        () => parse(['user', 'alice'], ['replication', value]),
        refused('replication_refused', 'replication connections are not available through pgkey'),
      );
    });
  }

  it('caps values at 1024 bytes (a 5 KB search_path is refused)', () => {
    assert.equal(
      parse(['user', 'a'], ['search_path', 's'.repeat(1024)]).forwarded[0]?.[1].length,
      1024,
    );
    for (const value of ['s'.repeat(1025), 's'.repeat(5 * 1024), 'é'.repeat(513)]) {
      assert.throws(
        () => parse(['user', 'a'], ['search_path', value]),
        refused(
          'startup_parameter_refused',
          'startup parameter "search_path" is longer than 1024 bytes',
        ),
      );
    }
  });

  it('refuses a setting given twice, across spellings and across options', () => {
    const twice = (name: string) =>
      refused('startup_parameter_refused', `parameter "${name}" is given twice`);
    assert.throws(
      () => parse(['user', 'a'], ['DateStyle', 'ISO'], ['datestyle', 'SQL']),
      twice('datestyle'),
    );
    assert.throws(
      () => parse(['user', 'a'], ['application_name', 'x'], ['options', '-c application_name=y']),
      twice('application_name'),
    );
    assert.throws(
      () => parse(['user', 'a'], ['options', '--statement-timeout=1 -c statement_timeout=2']),
      twice('statement_timeout'),
    );
  });

  it('takes the application name from options and any spelling', () => {
    assert.equal(
      parse(['user', 'a'], ['options', '-c application_name=from\\ options']).applicationName,
      'from options',
    );
    assert.equal(parse(['user', 'a'], ['Application_Name', 'x']).applicationName, 'x');
  });

  it('expands options where they appear in the packet', () => {
    const request = parse(
      ['user', 'a'],
      ['application_name', 'p'],
      ['options', '-c search_path=s --lock-timeout=5s'],
      ['TimeZone', 'UTC'],
    );
    assert.deepEqual(request.forwarded, [
      ['application_name', 'p'],
      ['search_path', 's'],
      ['lock_timeout', '5s'],
      ['TimeZone', 'UTC'],
    ]);
  });
});

describe('parseOptions', () => {
  const accepted: Array<[string, Array<[string, string]>]> = [
    ['', []],
    ['   \t ', []],
    ['-c search_path=x', [['search_path', 'x']]],
    ['-csearch_path=x', [['search_path', 'x']]],
    ['--search_path=x', [['search_path', 'x']]],
    ['--search-path=x', [['search_path', 'x']]],
    ['-c statement-timeout=5s', [['statement_timeout', '5s']]],
    ['-c application_name=a-b', [['application_name', 'a-b']]],
    ['-c search_path=a=b', [['search_path', 'a=b']]],
    ['-c search_path=', [['search_path', '']]],
    ['-c search_path=a\\ b', [['search_path', 'a b']]],
    ['-c search_path=a\\\\b', [['search_path', 'a\\b']]],
    ['-c search_path=x\\', [['search_path', 'x']]],
    [
      '-c search_path=x -c search_path=y',
      [
        ['search_path', 'x'],
        ['search_path', 'y'],
      ],
    ],
    [
      '  -c  search_path=a\t--geqo=off\n-cjit=on  ',
      [
        ['search_path', 'a'],
        ['geqo', 'off'],
        ['jit', 'on'],
      ],
    ],
  ];
  for (const [options, expected] of accepted) {
    it(`parses ${JSON.stringify(options)}`, () => {
      assert.deepEqual(parseOptions(options), expected);
    });
  }

  const needsValue = (setting: string) =>
    refused('startup_parameter_refused', `startup option "${setting}" needs name=value`);
  const optionNotAllowed = (arg: string) =>
    refused('startup_parameter_refused', `startup option "${arg}" is not allowed by pgkey`);
  const rejected: Array<[string, (error: unknown) => boolean]> = [
    ['-c role=admin', notAllowed('role')],
    ['-crole=admin', notAllowed('role')],
    ['--role=admin', notAllowed('role')],
    ['-c session-authorization=postgres', notAllowed('session_authorization')],
    ['-c user=postgres', notAllowed('user')],
    [
      '-c replication=true',
      refused('replication_refused', 'startup parameter "replication" is not allowed by pgkey'),
    ],
    ['-c=', needsValue('=')],
    ['-c =x', needsValue('=x')],
    ['--=x', needsValue('=x')],
    ['-c', needsValue('-c')],
    ['-c search_path=x -c', needsValue('-c')],
    ['-c search_path', needsValue('search_path')],
    ['--geqo', needsValue('geqo')],
    ['-c -c', needsValue('-c')],
    ['-', optionNotAllowed('-')],
    ['x', optionNotAllowed('x')],
    ['-d 5', optionNotAllowed('-d')],
    ['-D /tmp', optionNotAllowed('-D')],
    ['-c\\ search_path=x', notAllowed(' search_path')],
  ];
  for (const [options, check] of rejected) {
    it(`refuses ${JSON.stringify(options)}`, () => {
      assert.throws(() => parseOptions(options), check);
    });
  }

  it('caps each value at 1024 bytes', () => {
    assert.throws(
      () => parseOptions(`-c search_path=${'s'.repeat(1025)}`),
      refused(
        'startup_parameter_refused',
        'startup parameter "search_path" is longer than 1024 bytes',
      ),
    );
  });

  it('ends on any input: every result is a list or ERR_STARTUP_PARAMETER', () => {
    // A fixed-seed generator over the characters the splitter and parser treat specially.
    let seed = 0x2545_f491;
    const next = (): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 0x1_0000_0000;
    };
    const alphabet = ['-', '-', 'c', '=', '\\', ' ', '\t', 'a', '_', 'j', 'i', 't', '€'];
    for (let round = 0; round < 3000; round++) {
      const length = Math.floor(next() * 40);
      let text = '';
      for (let i = 0; i < length; i++) text += alphabet[Math.floor(next() * alphabet.length)];
      try {
        const pairs = parseOptions(text);
        for (const [name, value] of pairs) {
          assert.ok(FORWARDED_PARAMETERS.has(name.toLowerCase()), name);
          assert.equal(typeof value, 'string');
        }
      } catch (error) {
        assert.ok(
          isPgkeyError(error, 'ERR_STARTUP_PARAMETER'),
          `${JSON.stringify(text)}: ${String(error)}`,
        );
      }
    }
    // A long run of escapes and switches finishes quickly too.
    assert.throws(() => parseOptions('-c '.repeat(3000)), needsValue('-c'));
    assert.throws(() => parseOptions('\\'.repeat(10_000)), optionNotAllowed(`${'\\'.repeat(40)}…`));
  });
});
