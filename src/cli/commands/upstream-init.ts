import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PgkeyError } from '../../errors/pgkey-error.ts';
import { configPath, parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';

/**
 * `pgkey upstream init`: creates the upstream CA named by `upstream.ca` and prints the
 * postgresql.conf and pg_hba.conf lines that make PostgreSQL trust it and nothing else.
 */
export const upstreamInit: Command = {
  name: 'upstream init',
  summary: 'create the upstream CA and print the PostgreSQL settings that trust it',
  usage: 'pgkey upstream init [--config FILE] [--gateway-address CIDR]... [--force]',
  async run(args, io) {
    const { values } = parseCommandArgs(args, {
      config: { type: 'string', short: 'c' },
      'gateway-address': { type: 'string', multiple: true },
      force: { type: 'boolean' },
    });
    const [
      { loadConfig },
      { initUpstreamCa },
      { rotationFiles, trustBundlePem },
      { renderUpstreamSetup },
    ] = await Promise.all([
      import('../../config/load.ts'),
      import('../../pki/upstream-ca.ts'),
      import('../../pki/ca-rotation.ts'),
      import('../../pki/upstream-setup.ts'),
    ]);
    const config = await loadConfig(resolve(io.cwd, configPath(values.config, io.env)));
    const files = config.upstream.ca;
    if (files === undefined) {
      throw new PgkeyError('ERR_CONFIG', {
        message: 'upstream.ca is not set: `pgkey upstream init` creates the CA it names',
        hint: 'add upstream.ca: { cert: pgkey-data/upstream-ca.pem, key: pgkey-data/upstream-ca-key.pem }',
      });
    }
    const ca = await initUpstreamCa(files, { force: values.force ?? false });
    const bundle = rotationFiles(files).bundle;
    await writeFile(bundle, await trustBundlePem(files), { mode: 0o644 });
    io.stdout.write(
      [
        `Created the upstream CA`,
        `  certificate: ${files.cert}`,
        `  private key: ${files.key} (mode 0600; keep it only on pgkey hosts)`,
        `  subject:     ${ca.subject}`,
        `  sha256:      ${ca.fingerprint}`,
        `Copy ${bundle} to the PostgreSQL server, then set:`,
        '',
        renderUpstreamSetup({
          caBundlePath: bundle,
          ...(values['gateway-address'] === undefined
            ? {}
            : { gatewayAddresses: values['gateway-address'] }),
        }),
        '',
        'Reload PostgreSQL (SELECT pg_reload_conf();) and start pgkey.',
        '',
      ].join('\n'),
    );
    return 0;
  },
};
