/**
 * zod issues in an operator's words: one problem per unknown key (with the closest accepted
 * key), unions reported from the branch whose shape fit, and paths written the way they look
 * in YAML (`issuers[1].fido2`).
 */
import type { z } from 'zod';
import { configKeys } from './docs.ts';
import type { ConfigPath, ConfigProblem } from './rules.ts';

/** `issuers[1].fido2`; keys that are not plain words are quoted: `claims["https://x/y"]`. */
export function formatPath(path: ConfigPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

const EXPECTED: Readonly<Record<string, string>> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
};

function shown(input: unknown): string {
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object' && input !== null) return 'a mapping';
  if (typeof input === 'string')
    return JSON.stringify(input.length > 60 ? `${input.slice(0, 60)}…` : input);
  return String(input);
}

/** Operator wording for zod's issues; messages written in schema.ts take precedence. */
export function issueMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type': {
      const expected = EXPECTED[issue.expected] ?? issue.expected;
      if (issue.input === undefined) return 'required';
      // `key:` with nothing after it parses as null.
      if (issue.input === null) return `has no value; expected ${expected}`;
      return `expected ${expected}, got ${shown(issue.input)}`;
    }
    case 'too_small':
      if (issue.origin === 'array')
        return Number(issue.minimum) === 1
          ? 'must not be empty'
          : `must list at least ${String(issue.minimum)} values`;
      if (issue.origin === 'string')
        return Number(issue.minimum) === 1
          ? 'must not be empty'
          : `must be at least ${String(issue.minimum)} characters`;
      return `must be at least ${String(issue.minimum)}`;
    case 'too_big':
      return issue.origin === 'string'
        ? `must be at most ${String(issue.maximum)} characters`
        : `must be at most ${String(issue.maximum)}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map(String).join(', ')}; got ${shown(issue.input)}`;
    case 'invalid_format':
      return issue.format === 'url' ? `not a URL: ${shown(issue.input)}` : undefined;
    // Worded elsewhere: schemaProblems splits unknown keys and unions; custom ones bring their own.
    case 'unrecognized_keys':
    case 'invalid_union':
    case 'custom':
    case 'invalid_key':
    case 'invalid_element':
    case 'not_multiple_of':
      return undefined;
  }
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitute = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitute));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** `unknown key`, with the closest key accepted at the same place when one is close. */
function unknownKey(parent: ConfigPath, key: string): string {
  const pattern = formatPath(parent.map((s) => (typeof s === 'number' ? 0 : s))).replaceAll(
    '[0]',
    '[]',
  );
  const siblings = configKeys()
    .map((k) => k.path)
    .filter((p) => p.startsWith(pattern === '' ? '' : `${pattern}.`))
    .map((p) => p.slice(pattern === '' ? 0 : pattern.length + 1))
    .filter((name) => /^[a-z_0-9]+$/.test(name));
  const best = siblings
    .map((name) => ({ name, distance: editDistance(key.toLowerCase(), name) }))
    .sort((a, b) => a.distance - b.distance)[0];
  return best !== undefined && best.distance <= Math.max(2, Math.floor(key.length / 3))
    ? `unknown key (did you mean "${best.name}"?)`
    : `unknown key; expected one of ${siblings.join(', ')}`;
}

/** zod issues → problems: one per unknown key, and unions reported from the branch that fit. */
export function schemaProblems(
  issues: readonly z.core.$ZodIssue[],
  prefix: ConfigPath = [],
): ConfigProblem[] {
  return issues.flatMap((issue): ConfigProblem[] => {
    const path = [...prefix, ...issue.path.map((s) => (typeof s === 'symbol' ? String(s) : s))];
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: [...path, key], message: unknownKey(path, key) }));
    }
    if (issue.code === 'invalid_union') {
      const fitting = issue.errors.filter((branch) =>
        branch.some((i) => i.code !== 'invalid_type' || i.path.length > 0),
      );
      const [only] = fitting;
      if (fitting.length === 1 && only !== undefined) return schemaProblems(only, path);
      const expected = issue.errors.flatMap((branch) =>
        branch.map((i) => (i.code === 'invalid_type' ? EXPECTED[i.expected] : undefined)),
      );
      return [
        {
          path,
          message: `expected ${[...new Set(expected.filter((e) => e !== undefined))].join(' or ')}`,
        },
      ];
    }
    return [{ path, message: issue.message }];
  });
}
