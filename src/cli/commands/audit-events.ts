import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';

/** `pgkey audit events`: the audit event reference (docs/events.md), generated from the catalogue. */
export const auditEvents: Command = {
  name: 'audit events',
  summary: 'print the audit event catalogue and record format (Markdown)',
  usage: 'pgkey audit events [--out docs/events.md]',
  async run(args, io) {
    const { values } = parseCommandArgs(args, { out: { type: 'string', short: 'o' } });
    const { renderEventsDoc } = await import('../../audit/events-doc.ts');
    const text = renderEventsDoc();
    if (values.out === undefined) io.stdout.write(text);
    else await writeFile(resolve(io.cwd, values.out), text);
    return 0;
  },
};
