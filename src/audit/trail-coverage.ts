import type { ChainSummary, TrailPosition, TrailProblem } from './verify-report.ts';

/** What the verifier knows about one chain while reading. */
export interface ChainState {
  readonly chain: string;
  writer?: string;
  records: number;
  checkpoints: number;
  lastSeq: number;
  lastHash: string;
  last: TrailPosition;
  /** The record its `audit.chain_start` links to. */
  anchor?: { readonly chain: string; readonly seq: number };
  /** Seqs skipped so far: a later arrival turns the gap into a reordering. */
  readonly gaps: { readonly from: number; readonly to: number; readonly problem: TrailProblem }[];
}

/**
 * How far each chain is vouched for. A valid checkpoint covers its chain up to itself; a
 * chain whose start is covered also covers the record it starts after (its `prev` is that
 * record's hash), so the restart after a crash signs, through its first checkpoint, the tail
 * the crashed process never signed.
 */
export function summarizeChains(
  states: readonly ChainState[],
  signedThrough: ReadonlyMap<string, number>,
): ChainSummary[] {
  const covered = new Map(states.map((s) => [s.chain, signedThrough.get(s.chain) ?? 0]));
  for (let changed = true; changed;) {
    changed = false;
    for (const state of states) {
      const { anchor } = state;
      if (anchor === undefined || (covered.get(state.chain) ?? 0) < 1) continue;
      const through = covered.get(anchor.chain);
      if (through !== undefined && through < anchor.seq) {
        covered.set(anchor.chain, anchor.seq);
        changed = true;
      }
    }
  }
  return states.map((state) => {
    const through = Math.min(covered.get(state.chain) ?? 0, state.lastSeq);
    return {
      chain: state.chain,
      ...(state.writer === undefined ? {} : { writer: state.writer }),
      records: state.records,
      checkpoints: state.checkpoints,
      lastSeq: state.lastSeq,
      signedThrough: through,
      unsigned: Math.min(state.lastSeq - through, state.records),
      last: state.last,
    };
  });
}
