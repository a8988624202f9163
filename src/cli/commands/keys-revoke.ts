import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { withDirectory, writeJson } from '../directory-access.ts';
import { credentialJson } from '../directory-records.ts';
import { findKey, keyIdArgument } from '../key-ids.ts';
import { reasonArgument } from '../people.ts';
import { formatTime, NONE, printable } from '../table.ts';

const DEFAULT_REASON = 'revoked by an administrator';

/**
 * `pgkey keys revoke KEY_ID`: the key can no longer sign in, tokens minted with it are
 * refused, and a running gateway ends the sessions it opened within a second (the
 * directory's `credential.revoked` change reaches it from this process too). Revoking a
 * revoked key keeps the first reason and announces it again.
 */
export const keysRevoke: Command = {
  name: 'keys revoke',
  summary: 'revoke a key: refuse its tokens and end its live sessions',
  usage: 'pgkey keys revoke KEY_ID|PREFIX [--reason TEXT] [--config FILE] [--json]',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(
      args,
      {
        config: { type: 'string', short: 'c' },
        reason: { type: 'string' },
        json: { type: 'boolean' },
      },
      { min: 1, max: 1 },
    );
    const idOrPrefix = keyIdArgument(positionals[0] ?? '');
    const reason = reasonArgument(values.reason, DEFAULT_REASON);
    const { authenticatorName } = await import('../../idp/webauthn/aaguid-names.ts');
    const { before, after, owner } = await withDirectory(
      values.config,
      io,
      async ({ directory, clock, record }) => {
        const users = new Map((await directory.users.list()).map((u) => [u.id, u]));
        const ownerOf = (c: { userId: string }) => users.get(c.userId)?.email ?? NONE;
        const key = findKey(await directory.credentials.list(), idOrPrefix, ownerOf);
        const revoked = await directory.credentials.revoke(key.id, reason, clock.now());
        if (key.revokedAt === undefined) {
          await record({ type: 'key.revoked', user: ownerOf(key), credential_id: key.id, reason });
        }
        return { before: key, after: revoked, owner: users.get(key.userId) };
      },
    );
    const already = before.revokedAt !== undefined;
    if (values.json) {
      writeJson(io, {
        key: credentialJson(after, owner, authenticatorName(after.aaguid)),
        alreadyRevoked: already,
      });
      return 0;
    }
    const what = `key ${after.id} (${printable(after.name)}) of ${owner?.email ?? NONE}`;
    io.stdout.write(
      already
        ? `${what} was already revoked on ${formatTime(after.revokedAt)} ` +
            `(${printable(after.revokedReason ?? '')}); announced again\n`
        : `revoked ${what}: ${printable(reason)}\n` +
            'its tokens are refused and a running pgkey ends its sessions within a second\n',
    );
    return 0;
  },
};
