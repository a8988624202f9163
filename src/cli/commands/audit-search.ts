import type { Writable } from 'node:stream';
import { PgkeyError } from '../../errors/pgkey-error.ts';
import { parseCommandArgs } from '../args.ts';
import { openTrailSource } from '../audit-trail.ts';
import type { Command } from '../command.ts';
import { plural } from '../table.ts';

/**
 * `pgkey audit search`: the events of the trail that match, oldest first, one line each —
 * "who touched production, with which key" in one command. Reads the trail as a stream
 * (rotated files included), so it works on a year of trail; `--json` prints the matching
 * records as stored, one per line. Exit 0 whether or not anything matched.
 */
export const auditSearch: Command = {
  name: 'audit search',
  summary: 'find audit events by person, database, role, type, key or session',
  usage:
    'pgkey audit search [FILE…] [--who NAME|=EXACT] [--db DATABASE] [--role ROLE] [--type TYPE,…]\n' +
    '       [--key KEY_ID] [--session ID] [--since 7d|2026-11-01|2026-11-01T09:30Z] [--until …]\n' +
    '       [--limit N] [--postgres] [--config FILE] [--json]\n' +
    '  --who matches e-mail, subject, agent or actor (part of it, any case; =NAME: all of it)\n' +
    '  --db, --role, --type take * as a wildcard (--type session.*); --key a key id prefix\n' +
    '  a bare date means its first instant, UTC; --until is exclusive',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(
      args,
      {
        who: { type: 'string' },
        db: { type: 'string' },
        role: { type: 'string' },
        type: { type: 'string' },
        key: { type: 'string' },
        session: { type: 'string' },
        since: { type: 'string' },
        until: { type: 'string' },
        limit: { type: 'string' },
        postgres: { type: 'boolean' },
        config: { type: 'string', short: 'c' },
        json: { type: 'boolean' },
      },
      { max: Infinity },
    );
    const [{ parsePeriod }, { searchTrail }, format] = await Promise.all([
      import('../../audit/reading/time-bounds.ts'),
      import('../../audit/reading/search.ts'),
      import('../../audit/reading/search-format.ts'),
    ]);
    const period = parsePeriod(values, Date.now());
    const limit = values.limit === undefined ? undefined : positiveInteger(values.limit);
    const source = await openTrailSource(
      {
        files: positionals,
        config: values.config,
        postgres: values.postgres === true,
        period,
        command: 'pgkey audit search',
      },
      io,
    );
    const json = values.json === true;
    const output = new Output(io.stdout);
    const out = new format.AlignedLines((text) => output.write(text), format.SEARCH_HEADERS);
    let result;
    try {
      result = await searchTrail(
        source.lines(),
        {
          period,
          filter: {
            ...(values.who === undefined ? {} : { who: values.who }),
            ...(values.db === undefined ? {} : { database: values.db }),
            ...(values.role === undefined ? {} : { role: values.role }),
            ...(values.type === undefined ? {} : { type: values.type }),
            ...(values.key === undefined ? {} : { key: values.key }),
            ...(values.session === undefined ? {} : { session: values.session }),
          },
          ...(limit === undefined ? {} : { limit }),
        },
        async (event) => {
          if (json) output.write(`${event.text}\n`);
          else out.add(format.searchCells(event));
          await output.drained();
        },
      );
    } catch (error) {
      if (error === PIPE_CLOSED) return 0; // `| head`: the reader has all it wants
      throw error;
    } finally {
      await source.close();
    }
    if (!json) {
      out.flush();
      if (result.matched === 0) {
        io.stdout.write(`no matching events (${plural(result.stats.records, 'record')} read)\n`);
      }
    }
    if (result.more) {
      io.stderr.write(
        `stopped at --limit ${limit ?? 0}: more events match (narrow the search or raise the limit)\n`,
      );
    }
    const { stats } = result;
    for (const [type, n] of stats.unknown) {
      io.stderr.write(
        `note: skipped ${plural(n, 'record')} of unknown type ${format.terminalText(type)}\n`,
      );
    }
    if (stats.unreadable > 0) {
      const first = stats.firstUnreadable;
      io.stderr.write(
        `note: skipped ${plural(stats.unreadable, 'unreadable line')}${first === undefined ? '' : ` (first at ${first.source}:${first.line})`}\n`,
      );
    }
    if (stats.torn > 0) {
      io.stderr.write(
        'note: the last line of the trail is incomplete (a write in progress, or cut short)\n',
      );
    }
    return 0;
  },
};

const PIPE_CLOSED = new Error('stdout closed');

/**
 * stdout with backpressure: a search that prints a year of trail into a slow pipe waits for
 * it instead of buffering, and stops quietly when the reader goes away (EPIPE from `head`).
 * The error listener stays: an EPIPE surfacing after the command returned is no crash either.
 */
class Output {
  readonly #stream: Writable;
  #closed = false;
  #full = false;
  readonly #onError = (): void => {
    this.#closed = true;
  };

  constructor(stream: Writable) {
    this.#stream = stream;
    stream.on('error', this.#onError);
  }

  write(text: string): void {
    if (!this.#closed && !this.#stream.write(text)) this.#full = true;
  }

  async drained(): Promise<void> {
    if (this.#full && !this.#closed) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#stream.off('drain', done).off('close', done).off('error', done);
          resolve();
        };
        this.#stream.on('drain', done).on('close', done).on('error', done);
      });
      this.#full = false;
    }
    if (this.#closed) throw PIPE_CLOSED;
  }
}

function positiveInteger(text: string): number {
  const n = Number(text);
  if (!/^\d{1,9}$/.test(text) || n < 1) {
    throw new PgkeyError('ERR_USAGE', {
      message: `--limit ${JSON.stringify(text)}: expected a positive whole number`,
    });
  }
  return n;
}
