/**
 * The key catalogue and docs/configuration.md, both derived from the zod schema so neither
 * can drift from the parser. The catalogue also tells the loader which keys are file paths
 * and which keys exist where (for "did you mean" on unknown keys).
 */
import { z } from 'zod';
import { CONFIG_RULES } from './rules.ts';
import { configSchema } from './schema.ts';

export interface ConfigKey {
  /** Dotted path; `[]` stands for every item of a list: `issuers[].fido2.amr`. */
  readonly path: string;
  readonly type: string;
  readonly required: boolean;
  /** The default as written in YAML, or undefined when there is none. */
  readonly default: unknown;
  readonly description: string;
  /** `path` and `duration` strings, marked in schema.ts with `x-pgkey-type`. */
  readonly kind: 'path' | 'duration' | undefined;
}

interface JsonSchema {
  readonly type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  readonly description?: string;
  readonly default?: unknown;
  readonly enum?: readonly unknown[];
  readonly format?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly minItems?: number;
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: JsonSchema | boolean;
  readonly items?: JsonSchema;
  readonly anyOf?: readonly JsonSchema[];
  readonly 'x-pgkey-type'?: string;
}

function typeName(node: JsonSchema): string {
  const marked = node['x-pgkey-type'];
  if (marked !== undefined) return marked;
  if (node.enum !== undefined)
    return `one of ${node.enum.map((v) => `\`${String(v)}\``).join(', ')}`;
  if (node.anyOf !== undefined) return node.anyOf.map(typeName).join(' or ');
  switch (node.type) {
    case 'array': {
      const item = node.items === undefined ? 'values' : typeName(node.items);
      return `${node.minItems === undefined ? 'list' : 'non-empty list'} of ${item}`;
    }
    case 'object':
      return typeof node.additionalProperties === 'object'
        ? `map of name to ${typeName(node.additionalProperties)}`
        : 'section';
    case 'integer': {
      // MAX_SAFE_INTEGER is zod's implicit bound for .int(), not a real limit worth printing.
      const max = node.maximum === undefined || node.maximum > 2 ** 32 ? '' : `${node.maximum}`;
      return node.minimum === undefined ? 'integer' : `integer ${node.minimum}–${max || '…'}`;
    }
    case 'string':
      return node.format === 'uri' ? 'URL' : 'string';
    case 'number':
    case 'boolean':
      return node.type;
    case undefined:
      return 'value';
  }
}

function walk(node: JsonSchema, path: string, required: boolean, out: ConfigKey[]): void {
  if (path !== '') {
    const marked = node['x-pgkey-type'];
    out.push({
      path,
      type: typeName(node),
      required: required && node.default === undefined,
      default: node.default,
      description: node.description ?? '',
      kind: marked === 'path' || marked === 'duration' ? marked : undefined,
    });
  }
  const object = node.type === 'array' && node.items?.type === 'object' ? node.items : node;
  const prefix = object === node ? path : `${path}[]`;
  for (const [name, child] of Object.entries(object.properties ?? {})) {
    walk(
      child,
      prefix === '' ? name : `${prefix}.${name}`,
      object.required?.includes(name) ?? false,
      out,
    );
  }
}

let catalogue: readonly ConfigKey[] | undefined;

/** Every key the schema accepts, parents before children, in schema order. */
export function configKeys(): readonly ConfigKey[] {
  if (catalogue === undefined) {
    const root = z.toJSONSchema(configSchema, { io: 'input' }) as JsonSchema;
    const out: ConfigKey[] = [];
    walk(root, '', true, out);
    catalogue = out;
  }
  return catalogue;
}

/** The contract example from the issue; examples/pgkey.yaml holds the same text (a test checks). */
export const EXAMPLE_CONFIG = `# pgkey example configuration; docs/configuration.md describes every key.
listen:
  address: 127.0.0.1:6432
  tls: { cert: certs/gateway.pem, key: certs/gateway-key.pem }
issuers:
  - name: corp
    issuer: https://idp.example.com # OIDC discovery; http:// only for loopback issuers
    audience: pgkey
    profile: okta # builtin | okta | entra | keycloak | generic | workload
    groups_claim: groups # default: groups
  - name: offline
    issuer: https://idp.internal
    audience: pgkey
    jwks_file: keys/idp-jwks.json # static keys, no network
    profile: generic
    fido2: { amr: [hwk, pop] } # or { acr: [phr, phrh] }: what proves a FIDO2 login
upstream:
  host: 127.0.0.1
  port: 5432
  tls: { ca: certs/postgres-ca.pem } # verify-full
  auth: cert # cert | scram
  ca: { cert: pgkey-data/upstream-ca.pem, key: pgkey-data/upstream-ca-key.pem }
  # scram: { secrets_file: secrets/roles.yaml }   (role -> password, file mode 0600 enforced)
policy:
  - name: dba
    match: { groups: [dba] }
    databases: ['*']
    roles: [postgres]
    fresh_auth: 10m # FIDO2 login no older than this (auth_time)
  - name: analysts
    match: { groups: [analytics] }
    databases: [warehouse]
    roles: [analyst, reporting]
audit:
  file: pgkey-data/audit.jsonl
`;

const INTRO = `pgkey reads one YAML file. Keys are snake_case.
Unknown keys, duplicate keys and wrong types are errors that name the exact key, e.g.
\`pgkey.yaml: issuers[1].fido2: required for profile "generic"\`; \`pgkey config check\` prints
every problem, one per line.

- **durations** are strings such as \`90s\`, \`10m\`, \`12h\`, \`7d\` or combined (\`1h30m\`).
- **paths** that are relative start at the directory of the config file, not the working directory.
- \`[]\` in a key path means "each item of the list".`;

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function defaultCell(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'object' && value !== null && Object.keys(value).length === 0) return '';
  return `\`${typeof value === 'string' ? value : JSON.stringify(value)}\``;
}

/** docs/configuration.md; regenerate with `npm run docs` after changing schema.ts or rules.ts. */
export function renderConfigDocs(): string {
  const lines = [
    '# Configuration reference',
    '',
    '<!-- Generated from src/config/schema.ts and src/config/rules.ts by `pgkey config docs`. Do not edit. -->',
    '',
    INTRO,
    '',
    '## Example',
    '',
    '```yaml',
    EXAMPLE_CONFIG.trimEnd(),
    '```',
  ];
  for (const section of configKeys().filter(
    (key) => !key.path.includes('.') && !key.path.includes('['),
  )) {
    lines.push(
      '',
      `## \`${section.path}\``,
      '',
      `${section.description}${section.required ? ' Required.' : ''}`,
      '',
    );
    lines.push('| key | type | required | default | description |', '|---|---|---|---|---|');
    for (const key of configKeys().filter(
      (k) => k.path.startsWith(`${section.path}.`) || k.path.startsWith(`${section.path}[]`),
    )) {
      const row = [
        `\`${key.path}\``,
        key.type,
        key.required ? 'yes' : 'no',
        defaultCell(key.default),
        key.description,
      ];
      lines.push(`| ${row.map(cell).join(' | ')} |`);
    }
  }
  lines.push(
    '',
    '## Rules across keys',
    '',
    'Checked after the schema; each problem names the key to change.',
    '',
  );
  for (const rule of CONFIG_RULES) lines.push(`- **${rule.name}**: ${rule.description}`);
  return `${lines.join('\n')}\n`;
}
