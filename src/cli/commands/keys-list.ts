import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { withDirectory, writeJson } from '../directory-access.ts';
import { credentialJson, describeKeyState } from '../directory-records.ts';
import { shortIdLength } from '../key-ids.ts';
import { emailArgument, userByEmail } from '../people.ts';
import { formatTime, NONE, renderTable } from '../table.ts';

/**
 * `pgkey keys list [EMAIL]`: every registered security key and passkey (or one person's),
 * by owner, oldest first. The table shortens ids to a prefix `pgkey keys revoke` accepts;
 * `--json` has them in full.
 */
export const keysList: Command = {
  name: 'keys list',
  summary: 'list registered keys: owner, model, last use, whether device-bound, state',
  usage: 'pgkey keys list [EMAIL] [--config FILE] [--json]',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(
      args,
      { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } },
      { max: 1 },
    );
    const email = positionals[0] === undefined ? undefined : emailArgument(positionals[0]);
    const { authenticatorName } = await import('../../idp/webauthn/aaguid-names.ts');
    const { users, credentials, owner } = await withDirectory(
      values.config,
      io,
      async ({ directory }) => ({
        owner: email === undefined ? undefined : await userByEmail(directory, email),
        users: await directory.users.list(),
        credentials: await directory.credentials.list(),
      }),
    );
    const byId = new Map(users.map((user) => [user.id, user]));
    const emailOf = (userId: string) => byId.get(userId)?.email ?? NONE;
    // Prefixes unique among all keys, not only those shown: `keys revoke` matches them all.
    const idLength = shortIdLength(credentials.map((c) => c.id));
    const shown = credentials
      .filter((c) => owner === undefined || c.userId === owner.id)
      .sort((a, b) => emailOf(a.userId).localeCompare(emailOf(b.userId)));
    if (values.json) {
      const keys = shown.map((c) =>
        credentialJson(c, byId.get(c.userId), authenticatorName(c.aaguid)),
      );
      writeJson(io, { keys });
      return 0;
    }
    if (shown.length === 0) {
      io.stdout.write(
        owner === undefined
          ? 'no keys registered yet: `pgkey users invite EMAIL` creates an enrollment link\n'
          : `${owner.email} has no keys: \`pgkey users invite ${owner.email}\` creates an enrollment link\n`,
      );
      return 0;
    }
    const rows = shown.map((c) => [
      c.id.slice(0, idLength),
      emailOf(c.userId),
      c.name,
      authenticatorName(c.aaguid),
      formatTime(c.createdAt),
      formatTime(c.lastUsedAt),
      c.backupEligible ? 'no' : 'yes',
      c.attested ? 'yes' : 'no',
      describeKeyState(c),
    ]);
    const headers = ['id', 'owner', 'name', 'model', 'added', 'last used', 'device-bound'];
    io.stdout.write(renderTable([...headers, 'attested', 'state'], rows));
    return 0;
  },
};
