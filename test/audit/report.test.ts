import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { escapeHtml, markup, raw } from '../../src/audit/reading/html.ts';
import { collectReport } from '../../src/audit/reading/report.ts';
import { renderReport, type TrailCheck } from '../../src/audit/reading/report-page.ts';
import type { ReportData } from '../../src/audit/reading/report-data.ts';
import { niceTicks } from '../../src/audit/reading/svg-charts.ts';
import { fileLines } from '../../src/audit/reading/trail-lines.ts';
import type { ReadStats } from '../../src/audit/reading/trail-reader.ts';
import { writeWeekTrail } from './trail-fixture.ts';

const SINCE = Date.UTC(2026, 9, 31);
const UNTIL = Date.UTC(2026, 10, 9);
const CHECK: TrailCheck = { state: 'verified', lines: ['ok: 159 records in 1 file'] };

function render(report: ReportData, stats: ReadStats, check = CHECK): string {
  return renderReport(report, {
    since: SINCE,
    until: UNTIL,
    generated: UNTIL,
    source: '/var/lib/pgkey/audit.jsonl',
    read: ['/var/lib/pgkey/audit.jsonl'],
    skipped: [],
    stats,
    check,
  });
}

/** What a browser would fetch or run: the report must have none of it. */
function assertSelfContained(page: string): void {
  assert.doesNotMatch(page, /<script/i);
  assert.doesNotMatch(page, /<(img|iframe|link|object|embed|audio|video|source|base|form)\b/i);
  assert.doesNotMatch(
    page,
    /<[^>]*\s(src|href|action|xlink:href|style)\s*=\s*["']?[^"'>]*(https?:|url\(|\/\/)/i,
  );
  assert.doesNotMatch(page, /<[^>]*\s(src|href|action|xlink:href)\s*=/i);
  assert.doesNotMatch(page, /url\(|@import/i);
  // `http` may appear in text, never inside a tag.
  assert.doesNotMatch(page, /<[^>]*https?:[^>]*>/i);
  assert.doesNotMatch(page, /<[^>]*\son[a-z]+\s*=/i);
}

describe('audit report', () => {
  let dir: string;
  let file: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgkey-report-'));
    file = (await writeWeekTrail(join(dir, 'week'), { extras: true })).file;
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('sums up the week: sessions, people, denials, revocations, tokens, gaps', async () => {
    const { report, stats } = await collectReport(fileLines([file]), SINCE, UNTIL);
    assert.equal(report.sessions, 23);
    assert.deepEqual([...report.databases].sort(), [
      ['prod', 8],
      ['staging', 2],
      ['warehouse', 13],
    ]);
    const people = [...report.access.values()].map((a) => `${a.name}:${a.sessions}:${a.service}`);
    assert.deepEqual(people.sort(), [
      'alice@example.com:6:false',
      'bob@example.com:6:false',
      'carol@example.com:7:false',
      'mallory@example.com:0:false',
      'svc:nightly-etl:4:true',
    ]);
    const carol = [...report.access.values()].find((a) => a.name === 'carol@example.com');
    assert.deepEqual([...(carol?.agents ?? [])], [['agent:report-bot', 4]]);
    const bob = [...report.access.values()].find((a) => a.name === 'bob@example.com');
    assert.equal(bob?.keys.size, 2);
    assert.equal(report.denials.total, 7);
    assert.deepEqual(Object.fromEntries(report.denials.byReason), {
      policy_denied: 1,
      stale_auth: 1,
      token_expired: 3,
      token_invalid: 2,
    });
    assert.deepEqual([...report.denials.byAddress], [['198.51.100.23', 5]]);
    assert.deepEqual(
      [
        report.keysRevoked.total,
        report.usersDisabled.total,
        report.sessionsTerminated.total,
        report.tokensRevoked.total,
        report.tokensMinted.total,
        report.tokensExchanged.total,
        report.provisioning.total,
        report.abandoned.total,
        report.droppedEvents,
        report.queries,
      ],
      [1, 1, 1, 1, 1, 4, 5, 1, 3, 4],
    );
    assert.deepEqual([...stats.unknown], [['approval.granted', 2]]);
    assert.equal(stats.torn, 1);
  });

  it('renders one self-contained page: people, keys, counts, charts, and nothing to fetch or run', async () => {
    const { report, stats } = await collectReport(fileLines([file]), SINCE, UNTIL);
    const page = render(report, stats);
    assertSelfContained(page);
    // The templates' own line breaks and indentation aside.
    const flat = page.replace(/>\s+</g, '><').replace(/\s+/g, ' ');
    for (const text of [
      '<h3>alice@example.com</h3>',
      '<h3>bob@example.com</h3>',
      '<h3>carol@example.com</h3>',
      '<h3>svc:nightly-etl</h3>',
      'also through agents: agent:report-bot (4)',
      'minted by alice@example.com',
      'YubiKey 5 Series with NFC',
      'iCloud Keychain',
      'lost on the train',
      'left the company',
      '3 events of this period were never recorded.',
      'approval.granted (2)',
      'Trail verified',
    ]) {
      assert.ok(flat.includes(text), `missing ${text}`);
    }
    // The chart: one stacked bar per database and day, and nine days on the axis.
    const bars = flat.match(/<rect[^>]*><title>[^<]* · [^<]*sessions?<\/title><\/rect/g) ?? [];
    assert.equal(bars.length, 12);
    assert.ok(flat.includes('<title>Nov 4, 2026 · prod: 2 sessions</title>'));
    assert.equal((flat.match(/<svg class="spark"/g) ?? []).length, 4);
    assert.match(flat, /<b>23<\/b><span>sessions<\/span>/);
    assert.match(flat, /<b>7<\/b><span>logins refused<\/span>/);
    assert.doesNotMatch(page, /NaN|undefined|Infinity|\[object/);
  });

  it('escapes every string from the trail: markup, quotes and bidi overrides are text', async () => {
    const { report, stats } = await collectReport(fileLines([file]), SINCE, UNTIL);
    const page = render(report, stats);
    assert.ok(
      page.includes('&lt;script&gt;alert(1)&lt;/script&gt;@prod&quot;&gt;&lt;img src=x&gt;'),
    );
    assert.ok(page.includes('admin‹U+202E›gnp.exe@prod'));
    assert.doesNotMatch(page, /[\u202a-\u202e\u2066-\u2069]/);
    // eslint-disable-next-line no-control-regex -- looking for control characters
    assert.doesNotMatch(page, /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/);
  });

  it('escapes hostile names everywhere they appear: person cards, legends, tooltips, tables', async () => {
    const hostile = join(dir, 'hostile.jsonl');
    const evil = `"><script>x</script>\u202E'&`;
    const client = { address: `10.0.0.1${evil}`, port: 1 };
    const lines = [
      {
        type: 'session.start',
        session: 'h1',
        role: evil,
        database: evil,
        rule: evil,
        email: evil,
        subject: evil,
        credential_id: 'KeyKeyKeyKey1',
        aaguid: evil,
        actor: evil,
      },
      {
        type: 'key.revoked',
        actor: evil,
        user: evil,
        credential_id: 'KeyKeyKeyKey1',
        reason: evil,
      },
      {
        type: 'token.minted',
        actor: evil,
        issuer: 'x',
        subject: evil,
        jti: 'j',
        name: evil,
        database: evil,
        role: evil,
        expires: evil,
      },
      { type: 'auth.failure', reason: evil, user: evil, database: evil },
    ].map((fields, i) =>
      JSON.stringify({ time: `2026-11-03T10:0${i}:00.000Z`, id: `h${i}`, client, ...fields }),
    );
    await writeFile(hostile, `${lines.join('\n')}\n`);
    const { report, stats } = await collectReport(fileLines([hostile]), SINCE, UNTIL);
    const page = render(report, stats, { state: 'failed', lines: [evil] });
    assertSelfContained(page);
    assert.doesNotMatch(page, /<script>x/);
    assert.doesNotMatch(page, /"><script/);
    assert.doesNotMatch(page, /\u202E/);
    assert.ok(page.includes('&quot;&gt;&lt;script&gt;x&lt;/script&gt;‹U+202E›&#39;&amp;'));
  });

  it('lists refused token requests: what was asked for, by whom, why (SOC 2 CC7.2)', async () => {
    const refusals = join(dir, 'refusals.jsonl');
    const alice = { issuer: 'test', subject: 'alice', email: 'alice@example.com' };
    const lines = [
      {
        operation: 'mint',
        reason: 'stale_auth',
        status: 401,
        name: 'ci',
        database: 'warehouse',
        role: 'reporting',
        ttl: '900',
        ...alice,
      },
      {
        operation: 'exchange',
        reason: 'person_required',
        status: 403,
        agent: 'agent:other-bot',
        ...alice,
        actor: 'agent:report-bot',
      },
      { operation: 'revoke', reason: 'token_missing', status: 401, jti: 'jti-9' },
    ].map((fields, i) =>
      JSON.stringify({
        time: `2026-11-03T10:0${i}:00.000Z`,
        id: `r${i}`,
        type: 'token.refused',
        client: { address: `198.51.100.${i + 1}`, port: 1 },
        ...fields,
      }),
    );
    await writeFile(refusals, `${lines.join('\n')}\n`);
    const { report, stats } = await collectReport(fileLines([refusals]), SINCE, UNTIL);
    assert.equal(report.tokensRefused.total, 3);
    assert.equal(report.denials.total, 0, 'not counted as refused logins');
    const flat = render(report, stats).replace(/>\s+</g, '><').replace(/\s+/g, ' ');
    assert.match(flat, /<b>3<\/b><span>token requests refused<\/span>/);
    for (const row of [
      'mint svc:ci for 900s</td><td class="">alice@example.com</td><td class="">reporting@warehouse</td><td class="">198.51.100.1</td><td class="">stale_auth</td><td class="">401</td>',
      'exchange to agent:other-bot</td><td class="">alice@example.com via agent:report-bot</td>',
      'revoke jti-9</td><td class="">–</td><td class="">–</td><td class="">198.51.100.3</td><td class="">token_missing</td>',
    ]) {
      assert.ok(flat.includes(row), `missing ${row}`);
    }
  });

  it("marks a revoked key in its owner's card, and flags a session opened with it afterwards", async () => {
    const after = join(dir, 'after.jsonl');
    const client = { address: '10.0.0.5', port: 1 };
    const who = {
      issuer: 'builtin',
      subject: 'u-d',
      email: 'dan@example.com',
      credential_id: 'DanKeyDanKey01',
      aaguid: 'cb69481e-8ff7-4039-93ec-0a2729a154a8',
    };
    const lines = [
      {
        time: '2026-11-02T09:00:00.000Z',
        type: 'session.start',
        session: 'd1',
        role: 'r',
        database: 'db',
        rule: 'x',
        client,
        ...who,
      },
      {
        time: '2026-11-03T09:00:00.000Z',
        type: 'key.revoked',
        actor: 'cli:root',
        user: 'dan@example.com',
        credential_id: 'DanKeyDanKey01',
        reason: 'lost',
      },
    ];
    const write = (records: readonly object[]) =>
      writeFile(
        after,
        `${records.map((r, i) => JSON.stringify({ id: `i${i}`, ...r })).join('\n')}\n`,
      );
    await write(lines);
    let { report, stats } = await collectReport(fileLines([after]), SINCE, UNTIL);
    let flat = render(report, stats).replace(/>\s+</g, '><').replace(/\s+/g, ' ');
    assert.ok(flat.includes('revoked 2026-11-03'));
    assert.ok(!flat.includes('used after its revocation'));
    await write([...lines, { ...lines[0], time: '2026-11-04T09:00:00.000Z', session: 'd2' }]);
    ({ report, stats } = await collectReport(fileLines([after]), SINCE, UNTIL));
    flat = render(report, stats).replace(/>\s+</g, '><').replace(/\s+/g, ' ');
    assert.ok(flat.includes('used after its revocation'));
  });

  it('renders an empty trail and an empty period', async () => {
    const empty = join(dir, 'empty.jsonl');
    await writeFile(empty, '');
    for (const files of [[empty], [file]]) {
      const { report, stats } = await collectReport(
        fileLines(files),
        Date.UTC(2025, 0, 1),
        Date.UTC(2025, 0, 31),
      );
      const page = render(report, stats, { state: 'not_verified', lines: ['no public key'] });
      assertSelfContained(page);
      assert.ok(page.includes('No sessions in this period.'));
      assert.ok(page.includes('No login was refused in this period.'));
      assert.ok(page.includes('No token request was refused in this period.'));
      assert.ok(page.includes('Not verified by this report'));
      assert.doesNotMatch(page, /NaN|undefined|Infinity/);
    }
  });
});

describe('report building blocks', () => {
  it('escapes markup, quotes, ampersands and shows hidden characters', () => {
    assert.equal(
      escapeHtml(`<a href="x">'&'</a>`),
      '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;',
    );
    assert.equal(
      escapeHtml('a\u202Eb\u2066c\u001bd\u0085e'),
      'a‹U+202E›b‹U+2066›c‹U+001B›d‹U+0085›e',
    );
    assert.equal(escapeHtml('Zoë 日本 👩‍💻'), 'Zoë 日本 👩‍💻');
  });

  it('escapes what is interpolated, never markup it built itself', () => {
    const cell = markup`<td>${'<b>'}</td>`;
    assert.equal(
      markup`<tr>${cell}${[cell, 'x&y']}${undefined}${false}${3}</tr>`.text,
      '<tr><td>&lt;b&gt;</td><td>&lt;b&gt;</td>x&amp;y3</tr>',
    );
    assert.equal(markup`${raw('<i>')}`.text, '<i>');
  });

  it('picks round axis steps', () => {
    assert.deepEqual(niceTicks(1), [0, 1]);
    assert.deepEqual(niceTicks(6), [0, 2, 4, 6]);
    assert.deepEqual(niceTicks(37), [0, 10, 20, 30, 40]);
    assert.deepEqual(niceTicks(1200), [0, 500, 1000, 1500]);
  });
});
