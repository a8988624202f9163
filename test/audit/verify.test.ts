import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { calculateJwkThumbprint } from 'jose';
import { loadVerifyKeys, type VerifyKey } from '../../src/audit/checkpoint.ts';
import { openAuditLog } from '../../src/audit/open-audit.ts';
import { MAX_LINE_BYTES } from '../../src/audit/reading/trail-lines.ts';
import { hashLine } from '../../src/audit/record.ts';
import { trailFiles } from '../../src/audit/rotated-files.ts';
import { verifyFiles } from '../../src/audit/verify-trail.ts';
import type { VerifyReport } from '../../src/audit/verify-report.ts';
import { main } from '../../src/cli/main.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import { ManualClock } from '../../src/runtime/clock.ts';

const client = { address: '203.0.113.9', port: 40000 };

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

async function cli(dir: string, ...args: string[]) {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main(['audit', 'verify', ...args], { stdout, stderr, env: {}, cwd: dir });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const lines = async (file: string): Promise<string[]> =>
  (await readFile(file, 'utf8')).split('\n').slice(0, -1);
const writeLines = (file: string, text: readonly string[]): Promise<void> =>
  writeFile(file, text.map((line) => `${line}\n`).join(''));
const field = (line: string | undefined): Record<string, unknown> =>
  JSON.parse(line ?? '') as Record<string, unknown>;

/**
 * A trail as `pgkey serve` and a CLI command write it: the gateway's chain with sessions
 * and checkpoints over several rotated files, a CLI chain interleaved in the first file.
 */
async function writeTrail(audit: Config['audit']): Promise<void> {
  const clock = new ManualClock(Date.UTC(2026, 4, 1, 9));
  const serve = await openAuditLog(audit, { writer: 'serve', gateway: true, clock });
  for (let n = 0; n < 30; n++) {
    clock.advance(1000);
    await serve.emit({
      type: 'session.start',
      client,
      session: `s${n}`,
      issuer: 'corp',
      subject: `u${n}`,
      role: 'analyst',
      database: 'warehouse',
      rule: 'analysts',
    });
    if (n === 3) {
      const command = await openAuditLog(audit, { writer: 'cli', clock });
      await command.emit({ type: 'user.created', actor: 'cli:root', user: 'eve@example.com' });
      await command.emit({
        type: 'group.added',
        actor: 'cli:root',
        user: 'eve@example.com',
        group: 'dba',
      });
      await command.close();
    }
    await serve.emit({
      type: 'session.end',
      client,
      session: `s${n}`,
      reason: 'client_closed',
      duration_ms: 5,
      bytes_from_client: 100,
      bytes_from_server: 2000,
    });
  }
  await serve.close();
}

describe('audit verify', () => {
  let dir: string;
  let config: string;
  let audit: Config['audit'];
  let pristine: string;
  let keys: VerifyKey[];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgkey-verify-'));
    config = join(dir, 'pgkey.yaml');
    await writeFile(
      config,
      JSON.stringify({
        listen: { address: '127.0.0.1:0', tls: { cert: 'gw.pem', key: 'gw-key.pem' } },
        issuers: [
          { name: 'corp', issuer: 'https://idp.example.com', audience: 'pgkey', profile: 'okta' },
        ],
        upstream: {
          host: '127.0.0.1',
          tls: { ca: 'pg-ca.pem' },
          auth: 'cert',
          ca: { cert: 'ca.pem', key: 'ca-key.pem' },
        },
        policy: [
          {
            name: 'analysts',
            match: { groups: ['analytics'] },
            databases: ['*'],
            roles: ['analyst'],
          },
        ],
        audit: { file: 'trail/audit.jsonl', rotate_bytes: 6000, checkpoint_records: 10 },
      }),
    );
    audit = (await loadConfig(config)).audit;
    await writeTrail(audit);
    pristine = join(dir, 'pristine');
    await cp(join(dir, 'trail'), pristine, { recursive: true });
    keys = await loadVerifyKeys([`${audit.file}.pub.jwk`]);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A fresh copy of the trail to damage; returns its files, oldest first. */
  async function copy(): Promise<string[]> {
    const target = await mkdtemp(join(dir, 'case-'));
    await cp(pristine, target, { recursive: true });
    return trailFiles(join(target, 'audit.jsonl'));
  }

  function firstProblem(report: VerifyReport) {
    assert.equal(report.ok, false, 'the damage was not noticed');
    const [problem] = report.problems;
    assert.ok(problem !== undefined);
    return problem;
  }

  /** Index of a line in `text` of `type` and chain of the gateway, at least `from`. */
  function lineOf(text: readonly string[], type: string, from = 2): number {
    const at = text.findIndex((line, i) => i >= from && field(line).type === type);
    assert.ok(at >= 0, `no ${type} line`);
    return at;
  }

  it('passes a clean multi-file trail from the CLI, with chains, checkpoints and the last one', async () => {
    const files = await trailFiles(audit.file);
    assert.ok(files.length >= 3, `${files.length} files`);
    const run = await cli(dir, '--config', config);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(
      run.stdout,
      new RegExp(
        `^ok: \\d+ records in ${files.length} files, \\d+ checkpoints, 2 chains \\(serve, cli\\), last checkpoint 2026-05-01T09:00:30\\.000Z\\n$`,
      ),
    );
    const json = await cli(dir, '--config', config, '--json');
    const report = JSON.parse(json.stdout) as Record<string, unknown>;
    assert.equal(report.ok, true);
    assert.deepEqual(report.problems, []);
    assert.deepEqual(
      (report.chains as { writer: string; unsigned: number }[]).map((c) => [c.writer, c.unsigned]),
      [
        ['serve', 0],
        ['cli', 0],
      ],
    );
    // Explicit files, relative to the working directory, with the key pinned.
    const explicit = await cli(
      dir,
      ...files.map((f) => f.slice(dir.length + 1)),
      '--key',
      `${audit.file}.pub.jwk`,
    );
    assert.equal(explicit.code, 0, explicit.stdout);
  });

  it('catches an edited record: the next link breaks', async () => {
    const files = await copy();
    const text = await lines(files[0] ?? '');
    const at = lineOf(text, 'session.start', 5);
    text[at] = (text[at] ?? '').replace('"role":"analyst"', '"role":"postgres"');
    await writeLines(files[0] ?? '', text);
    const problem = firstProblem(await verifyFiles(files, keys));
    assert.equal(problem.kind, 'link');
    assert.equal(problem.at.source, basename(files[0] ?? ''));
    assert.match(problem.message, new RegExp(`at ${basename(files[0] ?? '')}:${at + 1}:`));
  });

  it('reports a line longer than any record as invalid, without holding it', async () => {
    const files = await copy();
    const text = await lines(files[0] ?? '');
    const at = lineOf(text, 'session.start', 5);
    text[at] = `{"pad":"${'x'.repeat(MAX_LINE_BYTES)}"}`;
    await writeLines(files[0] ?? '', text);
    const problem = firstProblem(await verifyFiles(files, keys));
    assert.equal(problem.kind, 'invalid');
    assert.equal(problem.at.line, at + 1);
    assert.match(problem.message, /longer than/);
  });

  it('catches an edited record even when every later hash of its chain is recomputed', async () => {
    const files = await copy();
    const text = await lines(files[0] ?? '');
    // After the CLI's chain: its start is anchored to a gateway record, and would break first.
    const cli = field(text[lineOf(text, 'user.created', 0)]).chain;
    const at = lineOf(
      text,
      'session.start',
      text.findLastIndex((l) => field(l).chain === cli),
    );
    text[at] = (text[at] ?? '').replace('"role":"analyst"', '"role":"postgres"');
    // The forger relinks the chain (prev, and head in checkpoints) but cannot re-sign.
    const chain = field(text[at]).chain;
    let head = hashLine(text[at] ?? '');
    for (let i = at + 1; i < text.length; i++) {
      const record = field(text[i]);
      if (record.chain !== chain) continue;
      const edited = {
        ...record,
        prev: head,
        ...(record.type === 'audit.checkpoint' ? { head } : {}),
      };
      text[i] = JSON.stringify(edited);
      head = hashLine(text[i] ?? '');
    }
    await writeLines(files[0] ?? '', text);
    const report = await verifyFiles(files, keys);
    const problem = firstProblem(report);
    assert.equal(problem.kind, 'checkpoint');
    assert.match(problem.message, /names another head/);
  });

  it('catches a deleted record: a gap in its chain', async () => {
    const files = await copy();
    const text = await lines(files[0] ?? '');
    const at = lineOf(text, 'session.end', 5);
    const seq = field(text[at]).seq;
    text.splice(at, 1);
    await writeLines(files[0] ?? '', text);
    const problem = firstProblem(await verifyFiles(files, keys));
    assert.equal(problem.kind, 'gap');
    assert.match(problem.message, new RegExp(`missing seq ${String(seq)} `));
  });

  it('catches two swapped records', async () => {
    const files = await copy();
    const text = await lines(files[0] ?? '');
    const at = lineOf(text, 'session.end', 12);
    assert.equal(field(text[at]).chain, field(text[at + 1]).chain);
    [text[at], text[at + 1]] = [text[at + 1] ?? '', text[at] ?? ''];
    await writeLines(files[0] ?? '', text);
    const problem = firstProblem(await verifyFiles(files, keys));
    assert.equal(problem.kind, 'order');
    assert.equal(problem.at.line, at + 1);
  });

  it('catches a replayed record', async () => {
    const files = await copy();
    const text = await lines(files[1] ?? '');
    const at = lineOf(text, 'session.start', 3);
    text.splice(at + 3, 0, text[at] ?? '');
    await writeLines(files[1] ?? '', text);
    const problem = firstProblem(await verifyFiles(files, keys));
    assert.equal(problem.kind, 'duplicate');
  });

  it('catches a forged checkpoint: signed with another key, or no signature at all', async () => {
    const files = await copy();
    const text = await lines(files[0] ?? '');
    const gateway = field(text[0]).chain;
    const at = text.findIndex(
      (l) => field(l).type === 'audit.checkpoint' && field(l).chain === gateway,
    );
    const record = field(text[at]);
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const kid = await calculateJwkThumbprint(publicKey.export({ format: 'jwk' }));
    const header = Buffer.from(
      JSON.stringify({ alg: 'EdDSA', typ: 'pgkey-audit-checkpoint', kid }),
    ).toString('base64url');
    const payload = String(record.jws).split('.')[1];
    const input = `${header}.${payload}`;
    const forged = `${input}.${sign(null, Buffer.from(input), privateKey).toString('base64url')}`;
    // Re-signing changes the line, so the forger also relinks the next record of the chain.
    text[at] = JSON.stringify({ ...record, jws: forged });
    const next = text.findIndex((line, i) => i > at && field(line).chain === record.chain);
    text[next] = JSON.stringify({ ...field(text[next]), prev: hashLine(text[at] ?? '') });
    await writeLines(files[0] ?? '', text);
    const problem = firstProblem(await verifyFiles(files, keys));
    assert.equal(problem.kind, 'checkpoint');
    assert.match(
      problem.message,
      new RegExp(`signed by key ${kid}, which is not among the trusted keys`),
    );

    const unsigned = await verifyFiles(files, []);
    assert.match(firstProblem(unsigned).message, /no public key/);
  });

  it('catches a truncated file: cut inside a line, or records cut off a rotated file', async () => {
    const files = await copy();
    const current = files.at(-1) ?? '';
    const text = await readFile(current, 'utf8');
    await writeFile(current, text.slice(0, text.length - 30));
    const cut = firstProblem(await verifyFiles(files, keys));
    assert.equal(cut.kind, 'truncated');
    assert.equal(cut.at.source, 'audit.jsonl');

    const again = await copy();
    const rotated = await lines(again[0] ?? '');
    await writeLines(again[0] ?? '', rotated.slice(0, -3));
    const short = firstProblem(await verifyFiles(again, keys));
    assert.equal(short.kind, 'gap');
    assert.equal(short.at.source, basename(again[1] ?? ''));
    assert.equal(short.at.line, 1);
  });

  it('reports a missing rotated file, and accepts a trail whose oldest files were removed', async () => {
    const files = await copy();
    await unlink(files[1] ?? '');
    const remaining = [files[0] ?? '', ...files.slice(2)];
    const problem = firstProblem(await verifyFiles(remaining, keys));
    assert.equal(problem.kind, 'missing_file');
    assert.match(problem.message, new RegExp(`file ${basename(files[1] ?? '')} is missing`));

    const retention = await verifyFiles(files.slice(2), keys);
    assert.deepEqual(retention.problems, []);
    assert.match(
      retention.notes[0] ?? '',
      new RegExp(`continues from ${basename(files[1] ?? '')}, which was not given`),
    );
  });

  it('catches a deleted chain that a later chain started after', async () => {
    const sub = await mkdtemp(join(dir, 'anchor-'));
    const small = {
      ...audit,
      file: join(sub, 'audit.jsonl'),
      signing_key: audit.signing_key ?? `${audit.file}.key.jwk`,
    };
    const clock = new ManualClock();
    for (const user of ['ann@example.com', 'bob@example.com']) {
      const command = await openAuditLog(small, { writer: 'cli', clock });
      await command.emit({ type: 'user.created', actor: 'cli:root', user });
      await command.close();
    }
    const text = await lines(small.file);
    assert.deepEqual(
      text.map((line) => field(line).type),
      [
        'audit.chain_start',
        'user.created',
        'audit.checkpoint',
        'audit.chain_start',
        'user.created',
        'audit.checkpoint',
      ],
    );
    const second = field(text[3]);
    assert.deepEqual(second.after, { chain: field(text[2]).chain, seq: 3 });
    assert.equal(second.prev, hashLine(text[2] ?? ''));
    assert.equal((await verifyFiles([small.file], keys)).ok, true);
    await writeLines(small.file, text.slice(3));
    const problem = firstProblem(await verifyFiles([small.file], keys));
    assert.equal(problem.kind, 'anchor');
    assert.match(
      problem.message,
      /starts after seq 3 of chain \S+, which is not before it in this file/,
    );
  });

  it('exit codes: 1 with the first problem as file:line, 78 for a broken config', async () => {
    const files = await copy();
    const text = await lines(files[0] ?? '');
    text.splice(lineOf(text, 'session.end', 5), 1);
    await writeLines(files[0] ?? '', text);
    const run = await cli(dir, ...files, '--key', `${audit.file}.pub.jwk`);
    assert.equal(run.code, 1);
    assert.match(
      run.stdout,
      new RegExp(`^${basename(files[0] ?? '')}:\\d+: chain \\S+ is missing seq \\d+ between`),
    );
    await writeFile(join(dir, 'broken.yaml'), 'audit: [');
    assert.equal((await cli(dir, '--config', 'broken.yaml')).code, 78);
    assert.equal((await cli(dir, files[0] ?? '', '--key', config)).code, 78);
  });
});
