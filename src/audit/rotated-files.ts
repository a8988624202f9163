import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** `20260501T120000.000Z`: ISO 8601 basic format, so names sort in time order. */
const STAMP = /^\d{8}T\d{6}\.\d{3}Z$/;

/** The name `audit.rotate_bytes` gives the current file when it starts a new one. */
export function rotatedName(file: string, ms: number): string {
  return `${file}.${new Date(ms).toISOString().replace(/[-:]/g, '')}`;
}

/** The file a rotated file was rotated from (`audit.jsonl.2026…Z` → `audit.jsonl`), or itself. */
export function currentFileOf(file: string): string {
  const at = file.lastIndexOf('.');
  return at > 0 && STAMP.test(file.slice(at + 1)) ? file.slice(0, at) : file;
}

/**
 * The whole trail of `file`, oldest first: its rotated predecessors in name (= time) order,
 * then the file itself when it exists. Other files beside it (`.pub.jwk`, …) are not matched.
 */
export async function trailFiles(file: string): Promise<string[]> {
  const directory = dirname(file);
  const prefix = `${basename(file)}.`;
  let names: string[];
  try {
    names = await readdir(directory);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const rotated = names
    .filter((name) => name.startsWith(prefix) && STAMP.test(name.slice(prefix.length)))
    .sort()
    .map((name) => join(directory, name));
  const current = await stat(file).then(
    (stats) => stats.isFile(),
    () => false,
  );
  return current ? [...rotated, file] : rotated;
}
