/**
 * One line per selftest step, written as soon as the step ends: a mark (✓ passed, ✗ failed,
 * – not run because an earlier step failed), the step, how long it took, and what it found.
 *
 * The steps are planned up front. A step fails by throwing (its error's message is the
 * line's detail); `step` then throws StepsStopped, so the code after it — which needs what
 * the step would have returned — never runs, and `finish` lists the planned steps that did
 * not. Cleanup runs in `always`, whatever happened.
 */
import { performance } from 'node:perf_hooks';
import type { Writable } from 'node:stream';
import { isPgkeyError } from '../errors/pgkey-error.ts';

const TITLE_WIDTH = 26;

/** What a step throws when what it found is wrong (its message is the line's detail). */
export class StepFailed extends Error {
  override readonly name = 'StepFailed';
}

/** Thrown by `step` after a failure was reported: stop, run the cleanup, `finish`. */
export class StepsStopped extends Error {
  override readonly name = 'StepsStopped';
}

export interface StepResult<T> {
  readonly detail: string;
  readonly value: T;
}

export interface StepOutcome {
  readonly title: string;
  /** undefined: not run. */
  readonly ok: boolean | undefined;
  readonly detail: string;
  readonly ms: number;
}

export class StepReporter {
  readonly outcomes: StepOutcome[] = [];
  readonly #plan: readonly string[];
  readonly #out: Writable;

  constructor(out: Writable, plan: readonly string[]) {
    this.#out = out;
    this.#plan = plan;
  }

  get failed(): boolean {
    return this.outcomes.some((o) => o.ok !== true);
  }

  get passed(): number {
    return this.outcomes.filter((o) => o.ok === true).length;
  }

  /** Runs one step; `fn` returns the line's detail and, as `value`, what later steps need. */
  async step<T>(title: string, fn: () => StepResult<T> | Promise<StepResult<T>>): Promise<T> {
    const started = performance.now();
    try {
      const { detail, value } = await fn();
      this.#write({ title, ok: true, detail, ms: performance.now() - started });
      return value;
    } catch (error) {
      this.#write({ title, ok: false, detail: describe(error), ms: performance.now() - started });
      throw new StepsStopped(title, { cause: error });
    }
  }

  /** A step that runs whatever happened before (cleanup); its failure still counts. */
  async always(title: string, fn: () => Promise<string>): Promise<void> {
    const started = performance.now();
    try {
      const detail = await fn();
      this.#write({ title, ok: true, detail, ms: performance.now() - started });
    } catch (error) {
      this.#write({ title, ok: false, detail: describe(error), ms: performance.now() - started });
    }
  }

  /** Lists the planned steps that never ran. */
  finish(): void {
    const ran = new Set(this.outcomes.map((o) => o.title));
    for (const title of this.#plan.filter((t) => !ran.has(t))) {
      this.#write({ title, ok: undefined, detail: 'not run', ms: 0 });
    }
  }

  #write(outcome: StepOutcome): void {
    this.outcomes.push(outcome);
    const mark = outcome.ok === true ? '✓' : outcome.ok === false ? '✗' : '–';
    const time = outcome.ok === undefined ? '' : formatMs(outcome.ms);
    const detail = outcome.detail.replace(/\s*\n\s*/g, ' ').slice(0, 400);
    this.#out.write(
      `  ${mark} ${outcome.title.padEnd(TITLE_WIDTH)} ${time.padStart(8)}  ${detail}\n`,
    );
  }
}

/** The message, and the hint when it is a PgkeyError that has one. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  return isPgkeyError(error) && error.hint !== undefined
    ? `${error.message} (hint: ${error.hint})`
    : error.message;
}

export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}
