import { isIP } from 'node:net';
import { PgkeyError } from '../errors/pgkey-error.ts';

export interface UpstreamSetupOptions {
  /** Where PostgreSQL will read the trust bundle (the `*-bundle.pem` pgkey writes). */
  readonly caBundlePath: string;
  /** The gateway's source addresses as CIDRs (a bare address means that one host). */
  readonly gatewayAddresses?: readonly string[];
}

/**
 * The PostgreSQL side of `auth: cert`, printed by `pgkey upstream init`: the server trusts
 * only pgkey's upstream CA for client certificates, and the gateway's addresses may log in
 * with nothing but such a certificate (PostgreSQL docs: "Certificate Authentication",
 * "The pg_hba.conf File", "Secure TCP/IP Connections with SSL").
 */
export function renderUpstreamSetup(options: UpstreamSetupOptions): string {
  const cidrs = (options.gatewayAddresses ?? ['127.0.0.1/32']).map(normalizeCidr);
  if (cidrs.length === 0) {
    throw new PgkeyError('ERR_USAGE', {
      message: 'at least one gateway address is required',
      reason: 'no_gateway_address',
    });
  }
  const rows = [
    ['# TYPE', 'DATABASE', 'USER', 'ADDRESS', 'METHOD'],
    ...cidrs.map((cidr) => ['hostssl', 'all', 'all', cidr, 'cert']),
    ...cidrs.map((cidr) => ['hostnossl', 'all', 'all', cidr, 'reject']),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const hba = rows.map((row) =>
    row
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
  return [
    '# ── postgresql.conf ─────────────────────────────────────────────────────────',
    'ssl = on',
    "ssl_cert_file = '/path/to/server.crt'   # the server's own certificate (not pgkey's CA)",
    "ssl_key_file = '/path/to/server.key'    # owned by the server's OS user, mode 0600",
    `ssl_ca_file = ${quoteConf(options.caBundlePath)}`,
    '#   ^ pgkey upstream CA bundle: the only CA PostgreSQL trusts for client certificates.',
    '#     During a CA rotation pgkey rewrites this file; apply it with',
    '#     `SELECT pg_reload_conf();` (ssl_* settings reload on SIGHUP, no restart needed).',
    "ssl_min_protocol_version = 'TLSv1.2'    # already the default since PostgreSQL 13",
    '# No password_encryption setting is needed: no role logs in with a password.',
    '',
    '# ── pg_hba.conf ─────────────────────────────────────────────────────────────',
    '# pg_hba.conf is read top to bottom and the FIRST line that matches the connection',
    '# type, database, user and address decides; later lines are never consulted. Put these',
    "# lines above every other line that could match the gateway's address (a `trust`,",
    '# `password` or `scram-sha-256` line earlier in the file would win over `cert`).',
    '# There must be no `host` line (TCP with or without TLS) for these addresses: `host`',
    '# also matches connections without TLS. The `hostnossl … reject` lines make that explicit.',
    '# `cert` checks the client certificate against ssl_ca_file and requires its CN to equal',
    '# the requested user name; it implies clientcert=verify-full.',
    ...hba,
    '',
    '# ── Version notes ───────────────────────────────────────────────────────────',
    '# PostgreSQL 16 and later: pg_hba.conf may `include`, `include_if_exists` or',
    '#   `include_dir` other files; a line in an included file counts at the place of the',
    '#   include directive, so check included files for earlier matching lines too.',
    '# PostgreSQL before 16: no include directives; only this file matters.',
    '# Any version since 10: after `SELECT pg_reload_conf();`, check the parsed rules with',
    '#   `SELECT line_number, type, address, auth_method, error FROM pg_hba_file_rules;`.',
    '',
  ].join('\n');
}

/** Accepts `a.b.c.d/n`, `x:y::z/n` or a bare address (made a single-host CIDR). */
function normalizeCidr(input: string): string {
  const [address = '', prefix, extra] = input.trim().split('/');
  const family = isIP(address);
  const max = family === 4 ? 32 : 128;
  const bits = prefix === undefined ? max : /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
  if (family === 0 || extra !== undefined || !(bits >= 0 && bits <= max)) {
    throw new PgkeyError('ERR_USAGE', {
      message: `gateway address ${JSON.stringify(input)} is not an IP address or CIDR`,
      hint: 'Use the addresses pgkey connects from, e.g. 10.0.0.5/32 or 10.0.0.0/24.',
      reason: 'bad_cidr',
    });
  }
  return `${address}/${bits}`;
}

/** postgresql.conf string literal: backslash is an escape character, a quote is doubled. */
function quoteConf(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`;
}
