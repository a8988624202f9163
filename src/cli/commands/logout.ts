import { isPgkeyError } from '../../errors/pgkey-error.ts';
import { parseCommandArgs } from '../args.ts';
import { PROFILE_OPTION } from '../client-access.ts';
import type { Command } from '../command.ts';

/**
 * `pgkey logout`: revokes the refresh token at the provider (RFC 7009, when it has a
 * revocation endpoint) and deletes the profile's token cache. The cache goes even when the
 * provider cannot be reached; the access token itself lives until it expires (minutes).
 */
export const logout: Command = {
  name: 'logout',
  summary: "revoke the profile's refresh token and delete its cached tokens",
  usage: 'pgkey logout [--profile NAME] [--json]',
  async run(args, io) {
    const { values } = parseCommandArgs(args, { ...PROFILE_OPTION, json: { type: 'boolean' } });
    const [{ loadProfile }, cache, oidc] = await Promise.all([
      import('../../client/profiles.ts'),
      import('../../client/token-cache.ts'),
      import('../../client/oidc.ts'),
    ]);
    const profile = await loadProfile(io.env, values.profile);
    /** `yes`, `no refresh token`, `not supported`, or why it failed. */
    let revoked = 'no refresh token';
    const cached = await cache.readTokenCache(profile).catch((error: unknown) => {
      // A cache we refuse to read (mode, damage) is still one to delete.
      if (isPgkeyError(error)) return undefined;
      throw error;
    });
    if (cached?.refresh_token !== undefined) {
      try {
        const provider = await oidc.discoverProvider(profile);
        if (provider.revocationEndpoint === undefined) revoked = 'not supported';
        else {
          await oidc.revokeToken(provider, cached.refresh_token);
          revoked = 'yes';
        }
      } catch (error) {
        revoked = isPgkeyError(error) ? error.message : 'failed';
      }
    }
    const removed = await cache.removeTokenCache(profile);
    if (values.json) {
      io.stdout.write(
        `${JSON.stringify({ profile: profile.name, removed, revoked: revoked === 'yes', revocation: revoked }, null, 2)}\n`,
      );
      return 0;
    }
    if (!removed) {
      io.stdout.write(`Not logged in (profile ${profile.name}): nothing to remove\n`);
      return 0;
    }
    const revocation =
      revoked === 'yes'
        ? 'the refresh token is revoked at the provider'
        : revoked === 'not supported'
          ? 'the provider has no revocation endpoint; its refresh token lapses on its own'
          : revoked === 'no refresh token'
            ? 'there was no refresh token'
            : `revoking the refresh token failed (${revoked}); it lapses on its own`;
    io.stdout.write(
      `Logged out of profile ${profile.name}: cached tokens deleted, ${revocation}\n`,
    );
    return 0;
  },
};
