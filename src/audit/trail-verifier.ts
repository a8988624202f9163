import { basename } from 'node:path';
import { verifyCheckpointJws, type CheckpointPayload, type VerifyKey } from './checkpoint.ts';
import { GENESIS, hashLine, parseRecord, type ParsedRecord } from './record.ts';
import { TornLines } from './torn-lines.ts';
import { summarizeChains, type ChainState } from './trail-coverage.ts';
import type {
  TrailPosition,
  TrailProblem,
  TrailProblemKind,
  VerifyReport,
} from './verify-report.ts';

export interface TrailVerifierOptions {
  readonly keys: readonly VerifyKey[];
  /** `table`: chains may start after records that only the writers' files hold. */
  readonly kind: 'files' | 'table';
}

/**
 * Checks a trail record by record, in the order it was stored (docs/events.md "Verifying"):
 * every line a chained record; per chain, `seq` up by one and `prev` the hash of the record
 * before (a gap is a missing record, a smaller seq a reordering or a replay); every chain
 * starting with `audit.chain_start` linked to its anchor, or continuing from the previous
 * file after `audit.rotated`; every checkpoint naming its chain's head and signed by a
 * trusted key. It keeps going after a problem, and reports them in trail order.
 */
export class TrailVerifier {
  readonly #options: TrailVerifierOptions;
  readonly #sources: string[] = [];
  readonly #chains = new Map<string, ChainState>();
  readonly #problems: TrailProblem[] = [];
  readonly #notes: { at: TrailPosition; message: string }[] = [];
  readonly #signatures: { at: TrailPosition; jws: string; expected: CheckpointPayload }[] = [];
  /** Per source: records by `chain:seq` (anchors point inside their file). */
  #index = new Map<string, { hash: string; at: TrailPosition }>();
  readonly #torn = new TornLines();
  #records = 0;
  #checkpoints = 0;
  #lastCheckpoint: string | undefined;

  constructor(options: TrailVerifierOptions) {
    this.#options = options;
  }

  startSource(name: string): void {
    this.#endSource();
    this.#sources.push(name);
  }

  /** Index of the source being read (`startSource` order). */
  get sourceIndex(): number {
    return this.#sources.length - 1;
  }

  /** One line, without its newline; `terminated` false for bytes after the last newline. */
  line(bytes: Buffer, line: number, terminated = true): void {
    const at = { source: this.#sources.at(-1) ?? '', index: this.#sources.length - 1, line };
    const text = bytes.toString('utf8');
    if (!terminated) {
      this.problem(
        at,
        'truncated',
        'the file ends inside a line: it was cut short, or a write is in progress',
      );
      return;
    }
    this.#torn.seen(text, at);
    const record = parseRecord(text);
    if (record === undefined) {
      this.#torn.unparsed(bytes, text, at);
      return;
    }
    this.#records++;
    const hash = hashLine(bytes);
    const state = this.#chains.get(record.chain);
    if (state === undefined) this.#startChain(record, hash, at);
    else this.#continueChain(state, record, hash, at);
    this.#index.set(`${record.chain}:${record.seq}`, { hash, at });
    if (record.type === 'audit.checkpoint') this.#checkpoint(record, at);
  }

  problem(at: TrailPosition, kind: TrailProblemKind, message: string): void {
    this.#problems.push({ at, kind, message });
  }

  async finish(): Promise<VerifyReport> {
    this.#endSource();
    const signedThrough = new Map<string, number>();
    for (const { at, jws, expected } of this.#signatures) {
      const check = await verifyCheckpointJws(jws, this.#options.keys);
      if (!check.ok) {
        this.problem(at, 'checkpoint', `checkpoint signature: ${check.why}`);
        continue;
      }
      const { payload } = check;
      if (
        payload.chain !== expected.chain ||
        payload.seq !== expected.seq ||
        payload.head !== expected.head ||
        payload.time !== expected.time
      ) {
        this.problem(
          at,
          'checkpoint',
          'the signed checkpoint names another head, seq or time than its record',
        );
        continue;
      }
      // The checkpoint covers its head and, being signed, itself.
      signedThrough.set(
        payload.chain,
        Math.max(signedThrough.get(payload.chain) ?? 0, payload.seq + 1),
      );
    }
    const problems = [...this.#problems].sort(byPosition);
    const notes = [...this.#notes].sort(byPosition).map((n) => `${where(n.at)}: ${n.message}`);
    const chains = summarizeChains([...this.#chains.values()], signedThrough);
    return {
      ok: problems.length === 0,
      records: this.#records,
      checkpoints: this.#checkpoints,
      sources: this.#sources.length,
      ...(this.#lastCheckpoint === undefined ? {} : { lastCheckpoint: this.#lastCheckpoint }),
      chains,
      problems,
      notes,
    };
  }

  #startChain(record: ParsedRecord, hash: string, at: TrailPosition): void {
    const { chain, seq, body } = record;
    const state: ChainState = {
      chain,
      records: 1,
      checkpoints: 0,
      lastSeq: seq,
      lastHash: hash,
      last: at,
      gaps: [],
    };
    this.#chains.set(chain, state);
    if (record.type === 'audit.chain_start') {
      state.writer = typeof body.writer === 'string' ? body.writer : undefined;
      if (seq !== 1) this.problem(at, 'start', `chain ${chain} starts with seq ${seq}, not 1`);
      this.#checkAnchor(record, at, state);
      const torn = body.torn as { hash?: unknown } | undefined;
      if (typeof torn?.hash === 'string') this.#torn.acknowledged(torn.hash, at);
      return;
    }
    if (record.type === 'audit.rotated') {
      const previous = String(body.previous_file);
      if (at.index === 0) {
        this.#notes.push({
          at,
          message: `chain ${chain} continues from ${previous}, which was not given`,
        });
      } else {
        this.problem(
          at,
          'missing_file',
          `chain ${chain} continues here from ${previous}, which is missing`,
        );
      }
      return;
    }
    this.problem(
      at,
      'start',
      `chain ${chain} begins at seq ${seq} (${record.type}) without audit.chain_start: the records before it are missing`,
    );
  }

  #checkAnchor(record: ParsedRecord, at: TrailPosition, state: ChainState): void {
    const after = record.body.after as { chain?: unknown; seq?: unknown } | undefined;
    if (typeof after?.chain !== 'string' || typeof after.seq !== 'number') {
      if (record.prev !== GENESIS) {
        this.problem(
          at,
          'anchor',
          `chain ${record.chain} links its start to a record it does not name`,
        );
      }
      return;
    }
    state.anchor = { chain: after.chain, seq: after.seq };
    const found = this.#index.get(`${after.chain}:${after.seq}`);
    if (found === undefined) {
      const message = `chain ${record.chain} starts after seq ${after.seq} of chain ${after.chain}, which is not before it`;
      if (this.#options.kind === 'table')
        this.#notes.push({ at, message: `${message} in this table` });
      else this.problem(at, 'anchor', `${message} in this file: deleted or moved`);
    } else if (found.hash !== record.prev) {
      this.problem(
        at,
        'anchor',
        `prev does not match the record this chain starts after (${where(found.at)}): one of the two was changed`,
      );
    }
  }

  #continueChain(state: ChainState, record: ParsedRecord, hash: string, at: TrailPosition): void {
    const { chain, seq } = record;
    const expected = state.lastSeq + 1;
    if (record.type === 'audit.chain_start') {
      this.problem(at, 'start', `a second audit.chain_start for chain ${chain}`);
    }
    if (record.type === 'audit.rotated' && this.#options.kind === 'files' && seq >= expected) {
      const previous = String(record.body.previous_file);
      if (state.last.index === at.index) {
        // A rename that failed (the sink recovered and went on in the same file).
        this.#notes.push({
          at,
          message: `the rotation to ${previous} did not take place; chain ${chain} goes on in this file`,
        });
      } else if (basename(this.#sources[state.last.index] ?? '') !== previous) {
        this.problem(
          at,
          'missing_file',
          `file ${previous} is missing: chain ${chain} continues here from it, but its record before is at ${where(state.last)}`,
        );
        this.#advance(state, seq, hash, at);
        return;
      }
    }
    if (seq === expected) {
      if (record.prev !== state.lastHash) {
        this.problem(
          at,
          'link',
          `prev does not match the hash of seq ${seq - 1} of chain ${chain} at ${where(state.last)}: that record or this one was changed`,
        );
      }
    } else if (seq > expected) {
      const range = seq - 1 === expected ? `seq ${expected}` : `seq ${expected}–${seq - 1}`;
      const problem: TrailProblem = {
        at,
        kind: 'gap',
        message: `chain ${chain} is missing ${range} between ${where(state.last)} and here: records deleted`,
      };
      this.#problems.push(problem);
      state.gaps.push({ from: expected, to: seq - 1, problem });
    } else {
      const gap = state.gaps.find((g) => seq >= g.from && seq <= g.to);
      if (gap !== undefined) {
        gap.problem.kind = 'order';
        gap.problem.message = `records out of order: seq ${gap.to + 1} of chain ${chain} comes before seq ${seq} (at ${where(at)})`;
      } else {
        const first = this.#index.get(`${chain}:${seq}`);
        this.problem(
          at,
          'duplicate',
          `seq ${seq} of chain ${chain} appears again${first === undefined ? '' : ` (first at ${where(first.at)})`}: a replayed or copied record`,
        );
      }
      return;
    }
    this.#advance(state, seq, hash, at);
  }

  #advance(state: ChainState, seq: number, hash: string, at: TrailPosition): void {
    state.lastSeq = seq;
    state.lastHash = hash;
    state.last = at;
    state.records++;
  }

  #checkpoint(record: ParsedRecord, at: TrailPosition): void {
    const { chain, seq, prev, time, body } = record;
    const state = this.#chains.get(chain);
    this.#checkpoints++;
    if (state !== undefined) state.checkpoints++;
    if (this.#lastCheckpoint === undefined || time > this.#lastCheckpoint)
      this.#lastCheckpoint = time;
    if (body.head !== prev || body.head_seq !== seq - 1 || typeof body.jws !== 'string') {
      this.problem(
        at,
        'checkpoint',
        `the checkpoint does not name the record before it (seq ${seq - 1}) as its head`,
      );
      return;
    }
    this.#signatures.push({
      at,
      jws: body.jws,
      expected: { chain, seq: seq - 1, head: prev, time },
    });
  }

  /** Unparseable lines of the source just read: accounted for, or problems. */
  #endSource(): void {
    const { notes, problems } = this.#torn.settle(where);
    this.#notes.push(...notes);
    this.#problems.push(...problems);
    this.#index = new Map();
  }
}

export function where(at: TrailPosition): string {
  return `${at.source}:${at.line}`;
}

function byPosition(a: { at: TrailPosition }, b: { at: TrailPosition }): number {
  return a.at.index - b.at.index || a.at.line - b.at.line;
}
