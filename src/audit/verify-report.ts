/** Where a line of the trail is: `audit.jsonl:17`, or `pgkey_audit:17` (the row's `pos`). */
export interface TrailPosition {
  readonly source: string;
  /** Which source, in reading order: positions sort by it, then by line. */
  readonly index: number;
  readonly line: number;
}

export type TrailProblemKind =
  | 'invalid'
  | 'truncated'
  | 'link'
  | 'gap'
  | 'order'
  | 'duplicate'
  | 'start'
  | 'anchor'
  | 'checkpoint'
  | 'missing_file'
  | 'row';

export interface TrailProblem {
  readonly at: TrailPosition;
  /** A gap becomes `order` when the records it missed turn up later. */
  kind: TrailProblemKind;
  message: string;
}

export interface ChainSummary {
  readonly chain: string;
  /** `audit.chain_start` `writer`, when the chain's start was read. */
  readonly writer?: string;
  readonly records: number;
  readonly checkpoints: number;
  readonly lastSeq: number;
  /** Records up to this seq are covered by a valid signature (directly or through a later chain). */
  readonly signedThrough: number;
  /** Records after `signedThrough`: written, not yet vouched for by a checkpoint. */
  readonly unsigned: number;
  readonly last: TrailPosition;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly records: number;
  readonly checkpoints: number;
  /** Files (or 1 for a table) read. */
  readonly sources: number;
  readonly lastCheckpoint?: string;
  readonly chains: readonly ChainSummary[];
  /** In trail order; the first is the one to look at. */
  readonly problems: readonly TrailProblem[];
  /** Things worth knowing that are not problems: torn lines accounted for, unsigned tails. */
  readonly notes: readonly string[];
}

/** What `pgkey audit verify` prints: one summary line or the first problem, then notes. */
export function formatReport(report: VerifyReport, unit: 'file' | 'table'): string {
  const lines: string[] = [];
  const first = report.problems[0];
  if (first === undefined) {
    const where = unit === 'table' ? 'the table' : plural(report.sources, 'file');
    const writers = new Map<string, number>();
    for (const chain of report.chains) {
      const writer = chain.writer ?? 'unknown';
      writers.set(writer, (writers.get(writer) ?? 0) + 1);
    }
    const kinds = [...writers].map(([writer, n]) => (n === 1 ? writer : `${writer} ×${n}`));
    lines.push(
      `ok: ${plural(report.records, 'record')} in ${where}, ${plural(report.checkpoints, 'checkpoint')}, ` +
        `${plural(report.chains.length, 'chain')}${kinds.length === 0 ? '' : ` (${kinds.join(', ')})`}, ` +
        `last checkpoint ${report.lastCheckpoint ?? 'none'}`,
    );
  } else {
    lines.push(`${first.at.source}:${first.at.line}: ${first.message}`);
    const more = report.problems.length - 1;
    if (more > 0)
      lines.push(`(${plural(more, 'more problem')} after this one; --json lists them all)`);
  }
  for (const note of report.notes) lines.push(`note: ${note}`);
  for (const chain of report.chains) {
    if (chain.unsigned === 0) continue;
    lines.push(
      `note: chain ${chain.chain}${chain.writer === undefined ? '' : ` (${chain.writer})`}: ` +
        `${plural(chain.unsigned, 'record')} up to ${chain.last.source}:${chain.last.line} ` +
        `(seq ${chain.lastSeq - chain.unsigned + 1}–${chain.lastSeq}) not yet covered by a signature`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
