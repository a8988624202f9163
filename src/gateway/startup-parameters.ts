import { PgkeyError } from '../errors/pgkey-error.ts';

/**
 * What a client's StartupMessage may carry through pgkey. `user` and `database` name the
 * role and database the client asks for (policy decides); a short allowlist of session
 * settings any role may set is forwarded to PostgreSQL as startup parameters; everything
 * else is refused with the parameter named, rather than silently dropped (a dropped
 * `statement_timeout` would change what the client's code means).
 *
 * Refused on purpose: `replication` (walsender), `role`/`session_authorization` (identity is
 * pgkey's to decide, Teleport CVE-2021-41395 class) and any setting that needs privileges.
 */
export const FORWARDED_PARAMETERS: ReadonlySet<string> = new Set([
  // Compared case-insensitively, as PostgreSQL compares setting names.
  'application_name',
  'client_encoding',
  'datestyle',
  'intervalstyle',
  'timezone',
  'extra_float_digits',
  'search_path',
  'statement_timeout',
  'lock_timeout',
  'idle_in_transaction_session_timeout',
  'default_transaction_isolation',
  'default_transaction_read_only',
  'default_transaction_deferrable',
  'bytea_output',
  'standard_conforming_strings',
  'geqo',
  'jit',
  'work_mem',
  'row_security',
]);

/** Byte caps: names like PostgreSQL identifiers, values generous but bounded. */
const MAX_NAME_BYTES = 63;
const MAX_VALUE_BYTES = 1024;

export interface StartupRequest {
  readonly user: string;
  readonly database: string;
  /** Parameters to send upstream besides user and database, in the client's order. */
  readonly forwarded: ReadonlyArray<readonly [string, string]>;
  readonly applicationName: string | undefined;
}

export function parseStartupParameters(parameters: ReadonlyMap<string, string>): StartupRequest {
  const user = parameters.get('user') ?? '';
  if (user === '') throw new PgkeyError('ERR_NO_USER');
  // protocol-message-formats StartupMessage: database defaults to the user name.
  const database = parameters.get('database') || user;
  const forwarded: Array<readonly [string, string]> = [];
  for (const [name, value] of parameters) {
    switch (name) {
      case 'user':
      case 'database':
        break;
      case 'replication':
        throw refused(name, 'replication connections are not available through pgkey');
      case 'options':
        for (const pair of parseOptions(value)) forwarded.push(pair);
        break;
      default:
        forwarded.push(checked(name, value));
    }
  }
  if (Buffer.byteLength(user) > MAX_NAME_BYTES || Buffer.byteLength(database) > MAX_NAME_BYTES) {
    throw refused('user', 'user and database names are at most 63 bytes');
  }
  const seen = new Set<string>();
  for (const [name] of forwarded) {
    const key = name.toLowerCase();
    if (seen.has(key)) throw refused(name, `parameter "${name}" is given twice`);
    seen.add(key);
  }
  // The name the session will really run under, however the client spelled or sent it.
  const applicationName = forwarded.find(
    ([name]) => name.toLowerCase() === 'application_name',
  )?.[1];
  return { user, database, forwarded, applicationName };
}

function checked(name: string, value: string): readonly [string, string] {
  if (!FORWARDED_PARAMETERS.has(name.toLowerCase())) {
    throw refused(name, `startup parameter "${truncate(name)}" is not allowed by pgkey`);
  }
  if (Buffer.byteLength(value) > MAX_VALUE_BYTES) {
    throw refused(name, `startup parameter "${name}" is longer than ${MAX_VALUE_BYTES} bytes`);
  }
  return [name, value];
}

/**
 * `options` holds backend command-line switches (libpq `options`, PGOPTIONS). pgkey accepts
 * only `-c name=value` / `--name=value` for allowlisted settings and forwards them as plain
 * startup parameters, so no client text reaches PostgreSQL's own option parser. Arguments
 * are separated by spaces; a backslash escapes the next character (postgres
 * pg_split_opts).
 */
export function parseOptions(options: string): Array<readonly [string, string]> {
  const args = splitOptions(options);
  const out: Array<readonly [string, string]> = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    let setting: string | undefined;
    if (arg === '-c') {
      setting = args[++i];
      if (setting === undefined) throw refused('options', 'startup option "-c" needs name=value');
    } else if (arg.startsWith('-c')) setting = arg.slice(2);
    else if (arg.startsWith('--')) setting = arg.slice(2);
    if (setting === undefined) {
      throw refused('options', `startup option "${truncate(arg)}" is not allowed by pgkey`);
    }
    const eq = setting.indexOf('=');
    if (eq <= 0) throw refused('options', `startup option "${truncate(setting)}" needs name=value`);
    // postgres guc.c accepts dashes for underscores on the command line.
    out.push(checked(setting.slice(0, eq).replaceAll('-', '_'), setting.slice(eq + 1)));
  }
  return out;
}

function splitOptions(text: string): string[] {
  const args: string[] = [];
  let current = '';
  let escaped = false;
  let inArg = false;
  for (const ch of text) {
    if (escaped) {
      current += ch;
      escaped = false;
      inArg = true;
    } else if (ch === '\\') {
      escaped = true;
    } else if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') {
      if (inArg) args.push(current);
      current = '';
      inArg = false;
    } else {
      current += ch;
      inArg = true;
    }
  }
  if (inArg) args.push(current);
  return args;
}

function refused(parameter: string, message: string): PgkeyError {
  return new PgkeyError('ERR_STARTUP_PARAMETER', {
    message,
    reason: parameter === 'replication' ? 'replication_refused' : 'startup_parameter_refused',
    hint: `pgkey forwards only these settings: ${[...FORWARDED_PARAMETERS].join(', ')}`,
  });
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
