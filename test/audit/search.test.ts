import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import { compileFilter, type SearchFilter } from '../../src/audit/reading/event-filter.ts';
import { filesForPeriod, rotatedAt } from '../../src/audit/reading/period-files.ts';
import { searchTrail } from '../../src/audit/reading/search.ts';
import { AlignedLines, searchCells, terminalText } from '../../src/audit/reading/search-format.ts';
import { parsePeriod, parseTimeBound } from '../../src/audit/reading/time-bounds.ts';
import { fileLines } from '../../src/audit/reading/trail-lines.ts';
import { newReadStats, readTrail, type TrailEvent } from '../../src/audit/reading/trail-reader.ts';
import { trailFiles } from '../../src/audit/rotated-files.ts';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';
import { ALICE_KEY, BOB_KEY, writeWeekTrail } from './trail-fixture.ts';

const NOW = Date.UTC(2026, 10, 9, 12);
const run = promisify(execFile);
const moduleUrl = (name: string) =>
  new URL(`../../src/audit/reading/${name}`, import.meta.url).href;

async function events(files: readonly string[], since?: number, until?: number) {
  const stats = newReadStats();
  const found: TrailEvent[] = [];
  const period = {
    ...(since === undefined ? {} : { since }),
    ...(until === undefined ? {} : { until }),
  };
  for await (const event of readTrail(fileLines(files), period, stats)) found.push(event);
  return { found, stats };
}

async function search(files: readonly string[], filter: SearchFilter, since?: number) {
  const found: TrailEvent[] = [];
  await searchTrail(
    fileLines(files),
    { period: since === undefined ? {} : { since }, filter },
    (event) => {
      found.push(event);
    },
  );
  return found;
}

describe('reading the trail', () => {
  let dir: string;
  let file: string;
  let rotated: string[];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgkey-search-'));
    file = (await writeWeekTrail(join(dir, 'one'), { extras: true })).file;
    rotated = await trailFiles(
      (await writeWeekTrail(join(dir, 'rotated'), { rotateBytes: 9000 })).file,
    );
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('yields the events, skipping chain bookkeeping, unknown types (counted) and a torn last line', async () => {
    const { found, stats } = await events([file]);
    assert.equal(found.length, 95);
    assert.ok(
      found.every(
        (e) => !['audit.chain_start', 'audit.checkpoint', 'audit.rotated'].includes(e.type),
      ),
    );
    assert.deepEqual([...stats.unknown], [['approval.granted', 2]]);
    assert.equal(stats.torn, 1);
    assert.equal(stats.unreadable, 0);
    assert.deepEqual(stats.sources, ['audit.jsonl']);
    // The chain fields ride along unread; the line is kept as stored.
    const first = found[0];
    assert.equal(typeof first?.record.seq, 'number');
    assert.equal(JSON.parse(first?.text ?? '').id, first?.record.id);
  });

  it('gives a session.end the role and database of its start', async () => {
    const { found } = await events([file]);
    const ends = found.filter((e) => e.type === 'session.end');
    assert.ok(ends.length > 20);
    for (const end of ends) {
      assert.ok(end.facts.role !== undefined && end.facts.database !== undefined, end.text);
    }
    const revoked = ends.find((e) => e.record.reason === 'revoked');
    assert.equal(`${revoked?.facts.role}@${revoked?.facts.database}`, 'analyst@warehouse');
  });

  it('reads rotated files in order as one trail, and the same events as one file', async () => {
    assert.ok(rotated.length >= 3, `rotated into ${rotated.length} files`);
    const whole = await events([file]);
    const split = await events(rotated);
    const key = (e: TrailEvent) =>
      `${e.time} ${e.type} ${e.facts.session ?? ''} ${e.facts.role ?? ''}@${e.facts.database ?? ''}`;
    // Ids, chains and sink drops aside, both trails tell the same week.
    assert.deepEqual(split.found.map(key), whole.found.map(key));
    assert.equal(split.stats.sources.length, rotated.length);
  });

  it('skips rotated files that ended more than a day before the period, and still ends sessions right', async () => {
    const ends = rotated.map(rotatedAt);
    assert.equal(ends.at(-1), undefined);
    const since = Date.UTC(2026, 10, 6);
    const { read, skipped } = filesForPeriod(rotated, since, undefined);
    assert.ok(skipped.length >= 1);
    assert.deepEqual([...skipped, ...read], rotated);
    for (const old of skipped) assert.ok((rotatedAt(old) ?? 0) < since - 24 * 3600_000);
    const { found } = await events(read, since);
    assert.ok(found.length > 0);
    assert.ok(found.every((e) => e.time >= since));
    for (const end of found.filter((e) => e.type === 'session.end')) {
      assert.ok(end.facts.database !== undefined, end.text);
    }
    assert.deepEqual(
      filesForPeriod(rotated, undefined, Date.UTC(2026, 9, 1)).read,
      rotated.slice(0, 1),
    );
  });

  it('filters by person: substring of e-mail, subject, agent, actor or minter, any case; = for exact', async () => {
    const alice = await search([file], { who: 'ALICE' });
    const types = new Set(alice.map((e) => e.type));
    // Her sessions, the service token she minted (and its sessions), what she revoked and disabled.
    for (const type of ['session.start', 'token.minted', 'token.revoked', 'user.disabled']) {
      assert.ok(types.has(type), type);
    }
    assert.ok(alice.some((e) => e.facts.mintedBy === 'alice@example.com'));
    assert.equal((await search([file], { who: '=alice' })).length, 0);
    // Her own six sessions, and the four of the service token she minted.
    const exact = await search([file], { who: '=Alice@Example.com', type: 'session.start' });
    assert.equal(exact.length, 10);
    assert.equal(exact.filter((e) => e.facts.mintedBy === 'alice@example.com').length, 4);
    const agent = await search([file], { who: 'report-bot', type: 'session.start' });
    assert.equal(agent.length, 4);
    assert.ok(agent.every((e) => e.facts.person === 'carol@example.com'));
    assert.equal((await search([file], { who: 'u-bob', type: 'session.start' })).length, 6);
  });

  it('filters by database, role and type (with * and lists), key prefix and session', async () => {
    const prod = await search([file], { database: 'prod', type: 'session.*' });
    assert.ok(prod.every((e) => e.facts.database === 'prod'));
    assert.deepEqual([...new Set(prod.map((e) => e.type))].sort(), [
      'session.abandoned',
      'session.end',
      'session.start',
    ]);
    assert.equal((await search([file], { database: 'pro*', type: 'session.start' })).length, 8);
    assert.equal((await search([file], { role: 'etl', type: 'session.start' })).length, 4);
    const mixed = await search([file], { type: 'key.revoked,user.*' });
    assert.deepEqual(
      mixed.map((e) => e.type),
      ['user.created', 'key.revoked', 'user.disabled'],
    );
    const bobs = await search([file], { key: BOB_KEY.slice(0, 8), type: 'session.start' });
    assert.equal(bobs.length, 5);
    assert.equal(
      (await search([file], { key: ALICE_KEY })).filter((e) => e.type === 'session.start').length,
      6,
    );
    const one = await search([file], { session: 's002' });
    assert.deepEqual(
      one.map((e) => e.type),
      ['auth.success', 'session.start', 'query.executed', 'query.executed', 'session.end'],
    );
  });

  it('refuses a filter it cannot use, naming the flag', () => {
    for (const [filter, flag] of [
      [{ who: '=' }, '--who'],
      [{ database: '' }, '--db'],
      [{ key: 'not a key!' }, '--key'],
    ] as const) {
      assert.throws(
        () => compileFilter(filter),
        (error: unknown) => isPgkeyError(error, 'ERR_USAGE') && error.message.includes(flag),
      );
    }
    // Regex characters in a name are literal.
    const match = compileFilter({ database: 'a.b*' });
    const fake = (database: string) =>
      ({ facts: { family: 'connection', database } }) as unknown as TrailEvent;
    assert.equal(match(fake('a.bc')), true);
    assert.equal(match(fake('axbc')), false);
  });

  it('stops at the limit and says whether more match', async () => {
    const seen: string[] = [];
    const result = await searchTrail(
      fileLines([file]),
      { period: {}, filter: { type: 'session.start' }, limit: 3 },
      (e) => {
        seen.push(e.type);
      },
    );
    assert.equal(result.matched, 3);
    assert.equal(result.more, true);
    const all = await searchTrail(
      fileLines([file]),
      { period: {}, filter: { type: 'session.start' }, limit: 23 },
      () => undefined,
    );
    assert.deepEqual([all.matched, all.more], [23, false]);
  });

  it('formats a line per event: time, type, who (via agent), role@database, client, short key, detail', async () => {
    const { found } = await events([file]);
    const cells = (type: string, pick = 0) =>
      searchCells(found.filter((e) => e.type === type)[pick] as TrailEvent);
    assert.deepEqual(cells('query.executed'), [
      '2026-11-02T10:15:00Z',
      'query.executed',
      'alice@example.com',
      'dba@prod',
      '10.0.0.7',
      'AL1ceYk5nfcQ',
      '1 row  SELECT count(*) FROM orders WHERE created_at > now() - inte…',
    ]);
    const delegated = found.find((e) => e.type === 'session.start' && e.facts.agent !== undefined);
    assert.equal(searchCells(delegated as TrailEvent)[2], 'carol@example.com via agent:report-bot');
    assert.equal(
      cells('session.terminated')[6],
      'revoked: security key revoked: lost on the train',
    );
    assert.equal(cells('token.minted')[6], 'svc:nightly-etl until 2026-11-09T00:00:00Z');
    assert.equal(cells('auth.failure', 6)[3], 'admin\u202Egnp.exe@prod');
  });

  it('formats a refused token request: the caller when known, what was asked for, why', async () => {
    const refusals = join(dir, 'refusals.jsonl');
    const request = {
      time: '2026-11-03T10:00:00.000Z',
      type: 'token.refused',
      client: { address: '10.0.0.7', port: 1 },
      operation: 'mint',
    };
    const asked = {
      name: 'ci',
      database: 'warehouse',
      role: 'app_owner',
      ttl: '2h',
    };
    const alice = {
      issuer: 'builtin',
      subject: 'u-alice',
      email: 'alice@example.com',
      credential_id: ALICE_KEY,
    };
    const records = [
      { ...request, id: 'r1', reason: 'policy_denied', status: 403, ...asked, ...alice },
      // No token: no one to name, and the body was never read.
      { ...request, id: 'r2', reason: 'token_missing', status: 401 },
    ];
    await writeFile(refusals, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
    const { found } = await events([refusals]);
    assert.deepEqual(found.map(searchCells), [
      [
        '2026-11-03T10:00:00Z',
        'token.refused',
        'alice@example.com',
        'app_owner@warehouse',
        '10.0.0.7',
        ALICE_KEY.slice(0, 12),
        'mint svc:ci for 2h refused: policy_denied (HTTP 403)',
      ],
      [
        '2026-11-03T10:00:00Z',
        'token.refused',
        '',
        '',
        '10.0.0.7',
        '',
        'mint refused: token_missing (HTTP 401)',
      ],
    ]);
    assert.deepEqual(
      (await search([refusals], { who: 'alice', type: 'token.*' })).map((e) => e.record.id),
      ['r1'],
    );
  });

  it('aligns columns in pages, never lets a value drive the terminal', () => {
    let out = '';
    const lines = new AlignedLines((text) => (out += text), ['a', 'bb', 'c'], 2);
    lines.add(['x', '', 'last']);
    lines.add(['xyz', 'evil\u001b[2J\u202Eright', 'z']);
    lines.add(['longer-cell', 'q', 'end']);
    lines.flush();
    assert.equal(
      out,
      // The second page widens the first column; the header and first page were already out.
      'A    BB              C\n' +
        'x    -               last\n' +
        'xyz  evil?[2J?right  z\n' +
        'longer-cell  q               end\n',
    );
    assert.equal(terminalText('a\u009b31m\u2066b'), 'a?31m?b');
  });
});

describe('--since and --until', () => {
  it('reads spans back from now, bare dates as UTC midnight, and instants', () => {
    assert.equal(parseTimeBound('7d', NOW, '--since'), NOW - 7 * 86_400_000);
    assert.equal(parseTimeBound('1h30m', NOW, '--since'), NOW - 5_400_000);
    assert.equal(parseTimeBound('2026-11-01', NOW, '--since'), Date.UTC(2026, 10, 1));
    assert.equal(parseTimeBound('2026-11-01T09:30Z', NOW, '--since'), Date.UTC(2026, 10, 1, 9, 30));
    assert.equal(
      parseTimeBound('2026-11-01T10:30:15.5+01:00', NOW, '--since'),
      Date.UTC(2026, 10, 1, 9, 30, 15, 500),
    );
  });

  it('refuses what is not a time, naming the flag', () => {
    for (const text of [
      'yesterday',
      '2026-02-30',
      '2026-11-01T09:30',
      '7',
      '',
      '-7d',
      '2026-13-01',
    ]) {
      assert.throws(
        () => parseTimeBound(text, NOW, '--until'),
        (error: unknown) => isPgkeyError(error, 'ERR_USAGE') && error.message.startsWith('--until'),
        text,
      );
    }
    assert.throws(
      () => parsePeriod({ since: '2026-11-02', until: '2026-11-01' }, NOW),
      /later than --since/,
    );
    assert.deepEqual(parsePeriod({}, NOW, { since: '30d' }), { since: NOW - 30 * 86_400_000 });
    assert.deepEqual(parsePeriod({}, NOW), {});
  });
});

describe('a large trail', () => {
  let dir: string;
  let file: string;
  const LINES = 200_000;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgkey-search-large-'));
    file = join(dir, 'audit.jsonl');
    const { writeLargeTrail } = await import('./large-trail.ts');
    await writeLargeTrail(file, LINES);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is searched as a stream: heap stays bounded, and it takes seconds, not minutes', async () => {
    // In a process of its own, with a heap too small for the file (over 100 MB), sampling
    // heapUsed on a timer; the test runner's own async bookkeeping would blur the numbers.
    const script = `
      const { fileLines } = await import(${JSON.stringify(moduleUrl('trail-lines.ts'))});
      const { searchTrail } = await import(${JSON.stringify(moduleUrl('search.ts'))});
      const base = process.memoryUsage().heapUsed;
      let peak = 0;
      const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().heapUsed - base); }, 5);
      const started = performance.now();
      const result = await searchTrail(
        fileLines([${JSON.stringify(file)}]),
        { period: { since: Date.UTC(2026, 0, 1) }, filter: { who: 'user-7@example.com', database: 'db-3' } },
        () => {},
      );
      clearInterval(timer);
      console.log(JSON.stringify({ lines: result.stats.lines, matched: result.matched, peak, seconds: (performance.now() - started) / 1000 }));
    `;
    const { stdout } = await run(process.execPath, [
      '--max-old-space-size=64',
      '--input-type=module',
      '-e',
      script,
    ]);
    const result = JSON.parse(stdout) as {
      lines: number;
      matched: number;
      peak: number;
      seconds: number;
    };
    assert.equal(result.lines, LINES);
    assert.ok(result.matched > 0);
    assert.ok(
      result.peak < 32 * 1024 * 1024,
      `heap grew by ${Math.round(result.peak / 1048576)} MiB`,
    );
    assert.ok(result.seconds < 30, `took ${result.seconds.toFixed(1)} s`);
  });

  it('skips a line too long to be a record without holding it', async () => {
    const huge = join(dir, 'huge.jsonl');
    await writeFile(
      huge,
      `${'x'.repeat(9 * 1024 * 1024)}\n{"time":"2026-01-01T00:00:00.000Z","id":"a","type":"key.added","actor":"a","user":"b"}\n`,
    );
    const { found, stats } = await events([huge]);
    assert.deepEqual(
      found.map((e) => e.type),
      ['key.added'],
    );
    assert.equal(stats.unreadable, 1);
    assert.deepEqual(stats.firstUnreadable, { source: 'huge.jsonl', line: 1 });
  });
});
