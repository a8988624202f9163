import { hashLine } from './record.ts';
import type { TrailPosition, TrailProblem } from './verify-report.ts';

interface Fragment {
  readonly at: TrailPosition;
  readonly text: string;
  readonly hash: string;
  readonly json: boolean;
  retriedAt?: TrailPosition;
}

/** What the unparseable lines of one source turned out to be. */
export interface FragmentVerdicts {
  readonly notes: { at: TrailPosition; message: string }[];
  readonly problems: TrailProblem[];
}

/**
 * The lines of one file that are not records (docs/events.md "Crashes and torn lines"). Two
 * kinds are accounted for: a line a crash cut short, which the next writer closed and named
 * in its `audit.chain_start` `torn`; and a write a sink repeated whole after it failed
 * part-way, so a later line starts with the fragment. Anything else is damage.
 */
export class TornLines {
  #fragments: Fragment[] = [];
  #acks = new Map<string, TrailPosition>();

  /** Every line, before it is parsed: it may be the whole of an earlier fragment. */
  seen(text: string, at: TrailPosition): void {
    for (const fragment of this.#fragments) {
      if (
        fragment.retriedAt === undefined &&
        text.length > fragment.text.length &&
        text.startsWith(fragment.text)
      ) {
        fragment.retriedAt = at;
      }
    }
  }

  /** A line that is not a chained record. */
  unparsed(bytes: Buffer, text: string, at: TrailPosition): void {
    this.#fragments.push({ at, text, hash: hashLine(bytes), json: isJson(text) });
  }

  /** A chain start that names the hash of the torn line it closed. */
  acknowledged(hash: string, at: TrailPosition): void {
    this.#acks.set(hash, at);
  }

  /** Ends the source: each fragment becomes a note or a problem; starts over. */
  settle(where: (at: TrailPosition) => string): FragmentVerdicts {
    const verdicts: FragmentVerdicts = { notes: [], problems: [] };
    for (const fragment of this.#fragments) {
      const ack = this.#acks.get(fragment.hash);
      const size = `${Buffer.byteLength(fragment.text)} bytes`;
      if (ack !== undefined) {
        verdicts.notes.push({
          at: fragment.at,
          message: `unfinished line (${size}) left by a crash, closed by the chain started at ${where(ack)}`,
        });
      } else if (fragment.retriedAt !== undefined) {
        verdicts.notes.push({
          at: fragment.at,
          message: `unfinished write (${size}), written whole at ${where(fragment.retriedAt)}`,
        });
      } else {
        verdicts.problems.push({
          at: fragment.at,
          kind: 'invalid',
          message: fragment.json
            ? 'not a chained audit record (no valid chain, seq or prev)'
            : 'not valid JSON: the line was damaged or edited',
        });
      }
    }
    this.#fragments = [];
    this.#acks = new Map();
    return verdicts;
  }
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
