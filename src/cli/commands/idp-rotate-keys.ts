import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { withIdpDirectory, writeJson } from '../directory-access.ts';
import { formatTime, jsonTime } from '../table.ts';

/**
 * `pgkey idp rotate-keys`: a new token signing key for the built-in provider. It is
 * published in JWKS at once and signs from 15 minutes on, when the current key retires;
 * the retired key stays in JWKS until every token it signed has expired, so no verifier
 * ever meets a kid it cannot resolve (signing-keys.ts).
 */
export const idpRotateKeys: Command = {
  name: 'idp rotate-keys',
  summary: "rotate the built-in provider's token signing key without refusing a token",
  usage: 'pgkey idp rotate-keys [--config FILE] [--json]',
  async run(args, io) {
    const { values } = parseCommandArgs(args, {
      config: { type: 'string', short: 'c' },
      json: { type: 'boolean' },
    });
    const [{ rotateSigningKeys }, { longestTokenLifetimeMs }] = await Promise.all([
      import('../../idp/provider/signing-keys.ts'),
      import('../../idp/provider/settings.ts'),
    ]);
    const why = 'the signing keys belong to the built-in provider';
    const rotation = await withIdpDirectory(values.config, io, why, ({ directory, clock, idp }) =>
      rotateSigningKeys({ directory, clock, tokenLifetimeMs: longestTokenLifetimeMs(idp) }),
    );
    const pickUp =
      'a running pgkey picks the new key up at its next key poll (every minute by default), or at once on SIGHUP';
    if (values.json) {
      writeJson(io, {
        kid: rotation.kid,
        activatesAt: jsonTime(rotation.activatesAt),
        retired: rotation.retired.map((old) => ({
          kid: old.kid,
          retiredAt: jsonTime(old.retiredAt),
          expiresAt: jsonTime(old.expiresAt),
        })),
        note: pickUp,
      });
      return 0;
    }
    const lines = [
      `new signing key ${rotation.kid}`,
      `  published in JWKS now, signs from ${formatTime(rotation.activatesAt)}`,
      ...(rotation.retired.length === 0 ? ['no earlier key to retire'] : []),
      ...rotation.retired.map(
        (old) =>
          `retiring key ${old.kid}\n` +
          `  stops signing ${formatTime(old.retiredAt)}, leaves JWKS ${formatTime(old.expiresAt)}`,
      ),
      pickUp,
    ];
    io.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
};
