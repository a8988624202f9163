import { resolve } from 'node:path';
import { PgkeyError } from '../../errors/pgkey-error.ts';
import { configPath, parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';

/**
 * `pgkey upstream rotate-ca`: replaces the upstream CA without a refused login, in three
 * steps the operator runs in order:
 *   1. (no flag)   create the next CA; PostgreSQL must trust the bundle of old + new;
 *   2. --activate  pgkey signs with the new CA (send SIGHUP to running gateways);
 *   3. --finish    drop the old CA from the bundle, once certificates it signed expired.
 */
export const upstreamRotateCa: Command = {
  name: 'upstream rotate-ca',
  summary: 'rotate the upstream CA without downtime (prepare, --activate, --finish, --status)',
  usage: 'pgkey upstream rotate-ca [--config FILE] [--activate | --finish | --status] [--json]',
  async run(args, io) {
    const { values } = parseCommandArgs(args, {
      config: { type: 'string', short: 'c' },
      activate: { type: 'boolean' },
      finish: { type: 'boolean' },
      status: { type: 'boolean' },
      json: { type: 'boolean' },
    });
    const chosen = [values.activate, values.finish, values.status].filter(Boolean).length;
    if (chosen > 1)
      throw new PgkeyError('ERR_USAGE', {
        message: 'choose one of --activate, --finish, --status',
      });
    const [{ loadConfig }, rotation] = await Promise.all([
      import('../../config/load.ts'),
      import('../../pki/ca-rotation.ts'),
    ]);
    const config = await loadConfig(resolve(io.cwd, configPath(values.config, io.env)));
    const files = config.upstream.ca;
    if (files === undefined)
      throw new PgkeyError('ERR_CONFIG', { message: 'upstream.ca is not set' });

    if (values.status) {
      const status = await rotation.rotationStatus(files);
      if (values.json) io.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      else {
        const line = (
          label: string,
          ca: { subject: string; fingerprint: string; notAfter: string } | undefined,
        ) =>
          ca === undefined
            ? []
            : [
                `  ${label.padEnd(9)} ${ca.subject}  sha256 ${ca.fingerprint}  until ${ca.notAfter}`,
              ];
        io.stdout.write(
          [
            `rotation step: ${status.step}`,
            ...line('active', status.active),
            ...line('next', status.next),
            ...line('previous', status.previous),
            `trust bundle: ${status.files.bundle}`,
            '',
          ].join('\n'),
        );
      }
      return 0;
    }

    const result = values.activate
      ? await rotation.activateRotation(files)
      : values.finish
        ? await rotation.finishRotation(files, { minAgeMs: config.upstream.cert_ttl })
        : await rotation.prepareRotation(files);
    const next = values.activate
      ? 'Send SIGHUP to every pgkey gateway: new logins now use the new CA. After upstream.cert_ttl, run `pgkey upstream rotate-ca --finish`.'
      : values.finish
        ? `Install ${result.bundlePath} as ssl_ca_file on PostgreSQL again and reload it: the old CA is no longer trusted.`
        : `Install ${result.bundlePath} (old + new CA) as PostgreSQL's ssl_ca_file and reload it, then run \`pgkey upstream rotate-ca --activate\`.`;
    if (values.json)
      io.stdout.write(
        `${JSON.stringify({ step: result.step, bundle: result.bundlePath, next })}\n`,
      );
    else io.stdout.write(`rotation step: ${result.step}\n${next}\n`);
    return 0;
  },
};
