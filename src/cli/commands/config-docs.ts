import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';

/** `pgkey config docs`: the configuration reference, generated from the schema. */
export const configDocs: Command = {
  name: 'config docs',
  summary: 'print the configuration reference (Markdown, generated from the schema)',
  usage: 'pgkey config docs [--out docs/configuration.md]',
  async run(args, io) {
    const { values } = parseCommandArgs(args, { out: { type: 'string', short: 'o' } });
    const { renderConfigDocs } = await import('../../config/docs.ts');
    const text = renderConfigDocs();
    if (values.out === undefined) io.stdout.write(text);
    else await writeFile(resolve(io.cwd, values.out), text);
    return 0;
  },
};
