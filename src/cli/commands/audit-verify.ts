import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { VerifyKey } from '../../audit/checkpoint.ts';
import type { verifyTable as VerifyTable } from '../../audit/verify-trail.ts';
import type { VerifyReport } from '../../audit/verify-report.ts';
import type { Config } from '../../config/schema.ts';
import { PgkeyError } from '../../errors/pgkey-error.ts';
import { configPath, parseCommandArgs } from '../args.ts';
import type { Command, CommandIo } from '../command.ts';

/**
 * `pgkey audit verify [FILE…]`: checks the hash chains and signed checkpoints of an audit
 * trail (docs/events.md "Verifying"). Without files it reads the config's `audit.file` and
 * its rotated predecessors, oldest first; `--postgres` reads the `postgres` sink's table.
 * The public key comes from `--key` (repeatable; a JWK or JWK Set), else `<file>.pub.jwk`.
 * Exit 0: intact. 1: a problem (the first is printed, with file:line). 78: configuration.
 */
export const auditVerify: Command = {
  name: 'audit verify',
  summary: 'check the audit trail: hash chains, missing or reordered records, signed checkpoints',
  usage: 'pgkey audit verify [FILE…] [--key JWK]… [--postgres] [--config FILE] [--json]',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(
      args,
      {
        config: { type: 'string', short: 'c' },
        key: { type: 'string', multiple: true },
        postgres: { type: 'boolean' },
        json: { type: 'boolean' },
      },
      { max: Infinity },
    );
    if (values.postgres === true && positionals.length > 0) {
      throw new PgkeyError('ERR_USAGE', { message: 'give files or --postgres, not both' });
    }
    const [{ loadVerifyKeys }, { formatReport }, trail] = await Promise.all([
      import('../../audit/checkpoint.ts'),
      import('../../audit/verify-report.ts'),
      import('../../audit/verify-trail.ts'),
    ]);
    const keyFiles = (values.key ?? []).map((file) => resolve(io.cwd, file));
    let report: VerifyReport;
    let unit: 'file' | 'table' = 'file';
    let files: string[] = [];
    if (positionals.length > 0) {
      files = positionals.map((file) => resolve(io.cwd, file));
      if (keyFiles.length === 0) {
        const { currentFileOf } = await import('../../audit/rotated-files.ts');
        keyFiles.push(...(await existing(`${currentFileOf(files[0] ?? '')}.pub.jwk`)));
      }
      report = await trail.verifyFiles(files, await loadVerifyKeys(keyFiles));
    } else {
      const config = await loadAuditConfig(values.config, io);
      if (keyFiles.length === 0) keyFiles.push(...(await existing(`${config.file}.pub.jwk`)));
      const keys = await loadVerifyKeys(keyFiles);
      // A trail kept only in PostgreSQL is verified there without asking.
      const tableOnly = !config.sinks.includes('file') && config.sinks.includes('postgres');
      if (values.postgres === true || tableOnly) {
        unit = 'table';
        report = await verifyPostgres(config, keys, trail.verifyTable);
      } else {
        const { trailFiles } = await import('../../audit/rotated-files.ts');
        files = await trailFiles(config.file);
        if (files.length === 0) {
          throw new PgkeyError('ERR_FILE', {
            message: `no audit trail at ${config.file}`,
            reason: 'audit_file',
          });
        }
        report = await trail.verifyFiles(files, keys);
      }
    }
    if (values.json === true) {
      io.stdout.write(
        `${JSON.stringify(
          {
            ...report,
            ...(unit === 'file' ? { files } : {}),
            keys: keyFiles,
            problems: report.problems.map(({ at, kind, message }) => ({
              source: at.source,
              line: at.line,
              kind,
              message,
            })),
            chains: report.chains.map(({ last, ...chain }) => ({
              ...chain,
              last: `${last.source}:${last.line}`,
            })),
          },
          null,
          2,
        )}\n`,
      );
    } else {
      io.stdout.write(formatReport(report, unit));
    }
    return report.ok ? 0 : 1;
  },
};

async function existing(file: string): Promise<string[]> {
  return access(file).then(
    () => [file],
    () => [],
  );
}

async function loadAuditConfig(
  configFlag: string | undefined,
  io: CommandIo,
): Promise<Config['audit']> {
  const { loadConfig } = await import('../../config/load.ts');
  return (await loadConfig(resolve(io.cwd, configPath(configFlag, io.env)))).audit;
}

async function verifyPostgres(
  audit: Config['audit'],
  keys: readonly VerifyKey[],
  verifyTable: typeof VerifyTable,
): Promise<VerifyReport> {
  if (audit.postgres === undefined) {
    throw new PgkeyError('ERR_CONFIG', {
      message: '--postgres needs audit.postgres in the config',
      reason: 'audit_postgres',
    });
  }
  const [{ readUrlFile }, { default: pg }] = await Promise.all([
    import('../../store/open-directory.ts'),
    import('pg'),
  ]);
  const pool = new pg.Pool({
    connectionString: await readUrlFile(audit.postgres.url_file, 'audit.postgres.url_file'),
    application_name: 'pgkey audit verify',
    max: 1,
  });
  pool.on('error', () => undefined);
  try {
    return await verifyTable(pool, audit.postgres.table, keys);
  } catch (cause) {
    if (cause instanceof PgkeyError) throw cause;
    throw new PgkeyError('ERR_STORE_UNAVAILABLE', {
      message: `cannot read the audit table ${audit.postgres.table}`,
      reason: 'audit_table',
      cause,
    });
  } finally {
    await pool.end();
  }
}
