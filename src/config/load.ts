/**
 * Loading runs in stages, like changesets' config parser: YAML text → plain value → schema
 * (types, defaults, durations) → cross-field rules → paths made absolute. Every problem
 * names the key to edit and is placed at its line in the file, so the first one reported is
 * the first one an operator meets reading top to bottom.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LineCounter, isMap, isSeq, parseDocument, type Document, type Node } from 'yaml';
import { PgkeyError } from '../errors/pgkey-error.ts';
import { configKeys } from './docs.ts';
import { formatPath, issueMessage, schemaProblems } from './issues.ts';
import { checkRules, type ConfigPath, type ConfigProblem } from './rules.ts';
import { configSchema, type Config } from './schema.ts';

/** A problem placed in the file. `path` is empty for YAML syntax problems. */
export interface ConfigDiagnostic {
  readonly path: string;
  readonly message: string;
  readonly line: number;
  readonly column: number;
}

export interface ConfigCheck {
  /** The validated config with absolute paths; undefined whenever `errors` is not empty. */
  readonly config: Config | undefined;
  readonly errors: readonly ConfigDiagnostic[];
  readonly warnings: readonly ConfigDiagnostic[];
}

/** Config files are a few kilobytes; a cap keeps a wrong `--config` from reading a disk image. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** One line per problem: `issuers[1].fido2: message`, or `3:7: message` for YAML syntax. */
export function formatDiagnostic(diagnostic: ConfigDiagnostic, fileName?: string): string {
  const where = diagnostic.path === '' ? `${diagnostic.line}:${diagnostic.column}` : undefined;
  if (fileName === undefined) return `${where ?? diagnostic.path}: ${diagnostic.message}`;
  return where === undefined
    ? `${fileName}: ${diagnostic.path}: ${diagnostic.message}`
    : `${fileName}:${where}: ${diagnostic.message}`;
}

/** The deepest YAML node on `path` (the key itself when it exists, so the line is the key's). */
function locate(
  doc: Document,
  lines: LineCounter,
  path: ConfigPath,
): { line: number; column: number } {
  let node: unknown = doc.contents;
  let at: Node | null = doc.contents;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (p.key as { value?: unknown } | null)?.value === segment);
      if (pair === undefined) break;
      at = (pair.key as Node | null) ?? at;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number' && node.items[segment] !== undefined) {
      node = node.items[segment];
      at = node as Node;
    } else break;
  }
  const { line, col } = lines.linePos(at?.range?.[0] ?? 0);
  return { line, column: col };
}

/** Relative path values start at the config file's directory; the catalogue says which keys are paths. */
function resolvePaths(value: unknown, segments: readonly string[], baseDir: string): void {
  const [head, ...rest] = segments;
  if (head === undefined || typeof value !== 'object' || value === null) return;
  if (head === '[]') {
    if (Array.isArray(value)) for (const item of value) resolvePaths(item, rest, baseDir);
    return;
  }
  const record = value as Record<string, unknown>;
  const child = record[head];
  if (rest.length > 0) resolvePaths(child, rest, baseDir);
  else if (typeof child === 'string') record[head] = resolve(baseDir, child);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** yaml points at the repeated key's first character; the key runs to its colon. */
function duplicateKey(text: string, offset: number): string {
  const key = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^:\n]*?)\s*:/.exec(
    text.slice(offset, offset + 300),
  );
  const raw = key?.[1] ?? '';
  return raw.startsWith('"') || raw.startsWith("'") ? raw : JSON.stringify(raw);
}

/** Every problem in `text`, and the config when there are none. Never throws for bad input. */
export function checkConfig(text: string, baseDir: string): ConfigCheck {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const syntax = [...doc.errors, ...doc.warnings].map((error): ConfigDiagnostic => {
    const { line, col } = lines.linePos(error.pos[0]);
    const message =
      error.code === 'DUPLICATE_KEY'
        ? `duplicate key ${duplicateKey(text, error.pos[0])}`
        : error.message.replace(/ at line \d+, column \d+.*$/s, '');
    return { path: '', message, line, column: col };
  });
  if (syntax.length > 0) return { config: undefined, errors: syntax, warnings: [] };

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (cause) {
    // yaml refuses alias bombs ("billion laughs") here.
    const message = cause instanceof Error ? cause.message : 'cannot be read';
    return { config: undefined, errors: [{ path: '', message, line: 1, column: 1 }], warnings: [] };
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    const message = 'expected a mapping with the sections listen, issuers, upstream, policy, …';
    const where = locate(doc, lines, []);
    return { config: undefined, errors: [{ path: '', message, ...where }], warnings: [] };
  }

  const place = (problem: ConfigProblem): ConfigDiagnostic => ({
    path: formatPath(problem.path),
    message: problem.message,
    ...locate(doc, lines, problem.path),
  });
  const byPosition = (a: ConfigDiagnostic, b: ConfigDiagnostic) =>
    a.line - b.line || a.column - b.column;

  const parsed = configSchema.safeParse(data, { error: issueMessage });
  if (!parsed.success) {
    const errors = schemaProblems(parsed.error.issues).map(place);
    return { config: undefined, errors: errors.sort(byPosition), warnings: [] };
  }
  const ruled = checkRules(parsed.data);
  const errors = ruled.errors.map(place).sort(byPosition);
  const warnings = ruled.warnings.map(place).sort(byPosition);
  if (errors.length > 0) return { config: undefined, errors, warnings };

  const config = parsed.data;
  for (const key of configKeys()) {
    if (key.kind === 'path')
      resolvePaths(config, key.path.replaceAll('[]', '.[]').split('.'), baseDir);
  }
  return { config: deepFreeze(config), errors, warnings };
}

function invalid(check: ConfigCheck, fileName: string): PgkeyError {
  const [first] = check.errors;
  return new PgkeyError('ERR_CONFIG', {
    message: first === undefined ? `${fileName}: invalid` : formatDiagnostic(first, fileName),
    detail: check.errors.map((d) => formatDiagnostic(d)).join('\n'),
    reason: 'config_invalid',
  });
}

/** Parses config text; relative paths resolve against `baseDir`. Throws ERR_CONFIG naming the first problem. */
export function parseConfig(text: string, baseDir: string, fileName = 'config'): Config {
  const check = checkConfig(text, baseDir);
  if (check.config === undefined) throw invalid(check, fileName);
  return check.config;
}

/** Reads a config file without judging it: ERR_CONFIG when it cannot be read at all. */
export async function readConfigText(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : 'cannot be read';
    throw new PgkeyError('ERR_CONFIG', {
      message: `${file}: ${why}`,
      reason: 'config_unreadable',
      cause,
    });
  }
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES) {
    throw new PgkeyError('ERR_CONFIG', {
      message: `${file}: larger than 1 MiB`,
      reason: 'config_unreadable',
    });
  }
  return text;
}

/** For `pgkey config check`: every error and warning in the file. */
export async function checkConfigFile(file: string): Promise<ConfigCheck> {
  return checkConfig(await readConfigText(file), dirname(resolve(file)));
}

/** Reads, validates and normalizes the config file; throws ERR_CONFIG naming the first problem. */
export async function loadConfig(file: string): Promise<Config> {
  const check = await checkConfigFile(file);
  if (check.config === undefined) throw invalid(check, file);
  return check.config;
}
