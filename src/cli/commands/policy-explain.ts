import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PgkeyError } from '../../errors/pgkey-error.ts';
import { configPath, parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';

/**
 * `pgkey policy explain`: the gateway's decision for a set of token claims, with the reason
 * for every rule. The claims file is the JSON payload of a token (what `pgkey token --claims`
 * or jwt.io shows); it is not verified, only read.
 */
export const policyExplain: Command = {
  name: 'policy explain',
  summary: 'show which rule grants or denies a token access, and why',
  usage:
    'pgkey policy explain --claims claims.json --db DATABASE --role ROLE [--issuer NAME] [--config FILE] [--json]',
  async run(args, io) {
    const { values } = parseCommandArgs(args, {
      config: { type: 'string', short: 'c' },
      claims: { type: 'string' },
      db: { type: 'string' },
      role: { type: 'string' },
      issuer: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (values.claims === undefined || values.db === undefined || values.role === undefined) {
      throw new PgkeyError('ERR_USAGE', { message: '--claims, --db and --role are required' });
    }
    const [{ loadConfig }, { toIdentity }, { explainDecision }] = await Promise.all([
      import('../../config/load.ts'),
      import('../../identity/claim-profiles.ts'),
      import('../../policy/explain.ts'),
    ]);
    const config = await loadConfig(resolve(io.cwd, configPath(values.config, io.env)));
    const claims = await readClaims(resolve(io.cwd, values.claims));
    const issuer =
      values.issuer === undefined
        ? config.issuers.find((i) => i.issuer === claims.iss)
        : config.issuers.find((i) => i.name === values.issuer);
    if (issuer === undefined) {
      throw new PgkeyError('ERR_USAGE', {
        message:
          values.issuer === undefined
            ? `no configured issuer has issuer URL ${JSON.stringify(claims.iss)}; pass --issuer NAME`
            : `no issuer named "${values.issuer}" in the config`,
        hint: `configured issuers: ${config.issuers.map((i) => i.name).join(', ')}`,
      });
    }
    const identity = toIdentity(issuer, claims);
    const explained = explainDecision(
      config.policy,
      identity,
      { database: values.db, role: values.role },
      Date.now(),
    );
    io.stdout.write(
      values.json ? `${JSON.stringify(explained.json, null, 2)}\n` : `${explained.text}\n`,
    );
    return explained.decision.allowed ? 0 : 1;
  },
};

async function readClaims(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new PgkeyError('ERR_FILE', { message: `cannot read ${file}`, cause: error });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new PgkeyError('ERR_USAGE', {
      message: `${file} is not JSON: ${(error as Error).message}`,
    });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PgkeyError('ERR_USAGE', {
      message: `${file} must hold a JSON object of token claims`,
    });
  }
  return value as Record<string, unknown>;
}
