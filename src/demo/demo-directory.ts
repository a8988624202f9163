/**
 * The demo directory itself: made on first use, reused after (keys, directory and database
 * survive a restart), wiped by `--fresh` — but only when it is a demo directory, marked by
 * a file of its own, or empty: `--dir ~` must never wipe a home directory.
 */
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { PgkeyError } from '../errors/pgkey-error.ts';

const MARKER = '.pgkey-demo';

export interface Ports {
  readonly gateway?: number | undefined;
  readonly idp?: number | undefined;
  readonly postgres?: number | undefined;
}

export async function prepareDemoDirectory(dir: string, fresh: boolean): Promise<void> {
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    if (!existsSync(join(dir, MARKER))) {
      throw new PgkeyError('ERR_USAGE', {
        message: `${dir} exists and is not a pgkey demo directory`,
        hint: 'choose another --dir, or remove it yourself',
        reason: 'demo_dir_foreign',
      });
    }
    if (fresh) rmSync(dir, { recursive: true, force: true });
  }
  // Others may pass through (the `postgres` user, to its data in <dir>/postgres) but not
  // list it; every secret in it is a 0600 file of its own.
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o711);
  writeFileSync(join(dir, MARKER), 'made by `pgkey demo`; `pgkey demo --fresh` wipes it\n');
}

/** The ports of the previous run, so links and commands stay the same when they are free. */
export function previousPorts(configFile: string): Ports {
  if (!existsSync(configFile)) return {};
  let value: unknown;
  try {
    value = parse(readFileSync(configFile, 'utf8'));
  } catch {
    return {}; // the demo writes a new one at start
  }
  const at = (...path: string[]): unknown =>
    path.reduce<unknown>(
      (node, key) =>
        typeof node === 'object' && node !== null
          ? (node as Record<string, unknown>)[key]
          : undefined,
      value,
    );
  const portOf = (address: unknown): number | undefined =>
    typeof address === 'string'
      ? Number(address.slice(address.lastIndexOf(':') + 1)) || undefined
      : undefined;
  const upstream = at('upstream', 'port');
  return {
    gateway: portOf(at('listen', 'address')),
    idp: portOf(at('idp', 'address')),
    postgres: typeof upstream === 'number' ? upstream : undefined,
  };
}
