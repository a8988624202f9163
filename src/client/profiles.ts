/**
 * The person's client config: `profiles.yaml` in the pgkey config directory
 * (`$PGKEY_CONFIG_HOME`, else `${XDG_CONFIG_HOME:-~/.config}/pgkey`, mode 0700). A profile
 * names an OpenID provider and a gateway; `pgkey login` writes it, every client command reads it:
 *
 *   default: work
 *   profiles:
 *     work:
 *       issuer: https://login.example.com
 *       gateway: { host: db.example.com, port: 6432 }
 *       gateway_ca_file: work-gateway-ca.pem  # relative to this directory
 *       token_service: https://login.example.com
 *       role: analyst                         # optional default for psql/env/connstr
 *
 * Every key: docs/identity-providers.md. Validated with zod like the server config; a problem
 * names the key (`profiles.work.gateway.port`). Edits go through the YAML document, so a
 * person's comments survive `pgkey login`.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { isMap, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { formatPath, issueMessage } from '../config/issues.ts';
import { PgkeyError } from '../errors/pgkey-error.ts';
import { isSafeUrl } from '../identity/issuer-keys.ts';
import { readPrivateFile, writePrivateFile } from './private-files.ts';

/** What pgkey's provider grants `pgkey-cli` (src/idp/provider/configuration.ts OIDC_SCOPES). */
export const DEFAULT_SCOPES = ['openid', 'email', 'groups', 'offline_access'] as const;
/** OpenID Connect EAP ACR values: phishing-resistant, hardware-bound first. */
export const DEFAULT_ACR_VALUES = 'phrh phr';
export const DEFAULT_CLIENT_ID = 'pgkey-cli';
export const DEFAULT_GATEWAY_PORT = 6432;
/** Safe as a file name on every system, and as a YAML key without quoting. */
export const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** Parameters `pgkey login` sets itself: a profile must not override them. */
const RESERVED_PARAMS = new Set([
  'client_id',
  'redirect_uri',
  'response_type',
  'response_mode',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'scope',
  'acr_values',
  'request',
  'request_uri',
]);

const url = z
  .string()
  .refine(isSafeUrl, { message: 'must be an https:// URL (http:// only for localhost)' });

const profileSchema = z
  .object({
    issuer: url,
    client_id: z.string().min(1).default(DEFAULT_CLIENT_ID),
    scopes: z
      .union([z.string(), z.array(z.string().min(1))])
      .default([...DEFAULT_SCOPES])
      .transform((value) => (typeof value === 'string' ? value.split(/\s+/) : value))
      .transform((value) => value.filter((scope) => scope !== '')),
    acr_values: z.string().default(DEFAULT_ACR_VALUES),
    // For providers that compare the loopback redirect's port (Okta): a fixed port to register.
    redirect_port: z.number().int().min(1024).max(65535).optional(),
    // More authorization request parameters, e.g. Entra's `claims` asking for an
    // authentication context; never the ones the login itself owns.
    authorization_params: z
      .record(
        z.string().refine((key) => !RESERVED_PARAMS.has(key), {
          message: 'is set by pgkey login itself (scopes and acr_values have their own keys)',
        }),
        z.string(),
      )
      .optional(),
    gateway: z
      .object({
        host: z.string().min(1),
        port: z.number().int().min(1).max(65535).default(DEFAULT_GATEWAY_PORT),
      })
      .strict(),
    gateway_ca_file: z.string().min(1).optional(),
    token_service: url.optional(),
    database: z.string().min(1).optional(),
    role: z.string().min(1).optional(),
  })
  .strict();

const fileSchema = z
  .object({
    default: z.string().optional(),
    profiles: z.record(z.string().regex(PROFILE_NAME), profileSchema).default({}),
  })
  .strict();

/** issueMessage (the server config's wording), knowing that a record is a mapping too. */
function problemText(issue: Parameters<typeof issueMessage>[0]): string | undefined {
  if (issue.code === 'invalid_type' && issue.expected === 'record') {
    return issueMessage({ ...issue, expected: 'object' });
  }
  // Profile names are the record keys that have a pattern.
  if (issue.code === 'invalid_key') {
    return issue.issues.some((i) => i.code === 'invalid_format')
      ? 'not a profile name: use letters, digits, _ . - (at most 63, starting with a letter or digit)'
      : issue.issues[0]?.message;
  }
  return issueMessage(issue);
}

/** The YAML form of a profile (snake_case, as written in profiles.yaml). */
export type ProfileInput = z.input<typeof profileSchema>;

/** A validated profile: its `name`, the directory it came from, paths made absolute. */
export type Profile = z.output<typeof profileSchema> & {
  readonly name: string;
  /** The pgkey config directory; token caches live below it. */
  readonly home: string;
};

export interface ProfilesFile {
  readonly file: string;
  readonly default: string | undefined;
  readonly profiles: ReadonlyMap<string, Profile>;
}

/** `$PGKEY_CONFIG_HOME`, else `$XDG_CONFIG_HOME/pgkey`, else `~/.config/pgkey`. */
export function configHome(env: NodeJS.ProcessEnv): string {
  if (env.PGKEY_CONFIG_HOME) return resolve(env.PGKEY_CONFIG_HOME);
  const xdg = env.XDG_CONFIG_HOME ? resolve(env.XDG_CONFIG_HOME) : join(homedir(), '.config');
  return join(xdg, 'pgkey');
}

export function profilesFile(home: string): string {
  return join(home, 'profiles.yaml');
}

export async function readProfiles(home: string): Promise<ProfilesFile> {
  const file = profilesFile(home);
  const text = await readPrivateFile(file, { secret: false });
  const doc = parseDocument(text ?? '');
  if (doc.errors.length > 0) {
    throw new PgkeyError('ERR_CONFIG', {
      message: `${file}: ${doc.errors[0]?.message ?? 'not YAML'}`,
    });
  }
  const parsed = fileSchema.safeParse(doc.toJS() ?? {}, { error: problemText });
  if (!parsed.success) {
    const problems = parsed.error.issues.flatMap((issue) => {
      const path = issue.path.map((s) => (typeof s === 'symbol' ? String(s) : s));
      return issue.code === 'unrecognized_keys'
        ? issue.keys.map((key) => `${formatPath([...path, key])}: unknown key`)
        : [`${formatPath(path) || '(top)'}: ${issue.message}`];
    });
    throw new PgkeyError('ERR_CONFIG', {
      message: `${file}: ${problems[0] ?? 'invalid'}`,
      ...(problems.length > 1 ? { detail: problems.slice(1).join('\n') } : {}),
    });
  }
  const profiles = new Map<string, Profile>();
  for (const [name, value] of Object.entries(parsed.data.profiles)) {
    profiles.set(name, {
      ...value,
      ...(value.gateway_ca_file === undefined
        ? {}
        : { gateway_ca_file: resolve(home, value.gateway_ca_file) }),
      name,
      home,
    });
  }
  return { file, default: parsed.data.default, profiles };
}

/**
 * The profile to use: `--profile`, else `$PGKEY_PROFILE`, else the file's `default`, else
 * the only one there is.
 */
export async function loadProfile(env: NodeJS.ProcessEnv, name?: string): Promise<Profile> {
  const home = configHome(env);
  const all = await readProfiles(home);
  const wanted = name ?? (env.PGKEY_PROFILE || undefined) ?? all.default;
  const only = all.profiles.size === 1 ? [...all.profiles.values()][0] : undefined;
  const profile = wanted === undefined ? only : all.profiles.get(wanted);
  if (profile !== undefined) return profile;
  const names = [...all.profiles.keys()];
  throw new PgkeyError('ERR_LOGIN_REQUIRED', {
    message:
      wanted === undefined
        ? names.length === 0
          ? `no pgkey profile yet (${all.file})`
          : `several profiles and no default: pass --profile (${names.join(', ')})`
        : `no profile named "${wanted}" in ${all.file}`,
    hint:
      names.length === 0 || wanted !== undefined
        ? `pgkey login https://<your pgkey login URL>${wanted === undefined ? '' : ` --profile ${wanted}`}, or pgkey login --issuer URL --gateway HOST:PORT`
        : undefined,
  });
}

/**
 * Creates or updates one profile (only the keys given change; `undefined` removes an
 * optional key) and returns it validated. The first profile becomes the default.
 */
export async function saveProfile(
  home: string,
  name: string,
  changes: Partial<Record<keyof ProfileInput, unknown>>,
  options: { makeDefault?: boolean } = {},
): Promise<Profile> {
  if (!PROFILE_NAME.test(name)) {
    throw new PgkeyError('ERR_USAGE', {
      message: `profile name "${name}" is not allowed: use letters, digits, _ . - (at most 63)`,
    });
  }
  const file = profilesFile(home);
  const doc: Document = parseDocument((await readPrivateFile(file, { secret: false })) ?? '');
  if (!isMap(doc.contents)) doc.contents = doc.createNode({});
  const existing = doc.get('default');
  // Set first, so a new file starts with `default:`.
  if (options.makeDefault === true || existing === undefined || existing === null) {
    doc.set('default', name);
  }
  if (!isMap(doc.get('profiles'))) doc.set('profiles', doc.createNode({}));
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) doc.deleteIn(['profiles', name, key]);
    else doc.setIn(['profiles', name, key], doc.createNode(value, { flow: isFlowValue(value) }));
  }
  const text = doc.toString();
  // Validate before writing: a bad --gateway must not leave a broken file behind.
  const checked = fileSchema.safeParse(parseDocument(text).toJS(), { error: problemText });
  if (!checked.success) {
    const issue = checked.error.issues[0];
    const path = issue?.path.map((s) => (typeof s === 'symbol' ? String(s) : s)) ?? [];
    throw new PgkeyError('ERR_USAGE', {
      message: `${formatPath(path)}: ${issue?.message ?? 'invalid'}`,
    });
  }
  await writePrivateFile(file, text);
  const saved = (await readProfiles(home)).profiles.get(name);
  if (saved === undefined) throw new PgkeyError('ERR_INTERNAL', { message: 'profile not saved' });
  return saved;
}

/** `gateway: { host: …, port: … }` on one line reads better than a block. */
function isFlowValue(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
