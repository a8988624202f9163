import { resolve } from 'node:path';
import { PgkeyError } from '../../errors/pgkey-error.ts';
import { parseCommandArgs } from '../args.ts';
import { describeExpiry } from '../client-access.ts';
import type { Command } from '../command.ts';
import { jsonTime, printable } from '../table.ts';

/**
 * `pgkey login`: a FIDO2 login at the profile's provider, tokens into the cache.
 *
 * - `pgkey login https://login.example.com` sets the profile up from that pgkey token
 *   service's `/.well-known/pgkey-configuration` first;
 * - `--issuer URL --gateway HOST:PORT [--ca FILE]` sets it up by hand (Okta, Entra ID,
 *   Keycloak: no pgkey endpoint needed);
 * - otherwise the existing profile is used.
 */
export const login: Command = {
  name: 'login',
  summary: 'sign in with your security key or passkey and cache the token',
  usage:
    'pgkey login [URL [--ca FILE]] [--profile NAME] [--device] [--fresh] [--no-browser] [--issuer URL --gateway HOST:PORT [--ca FILE] [--client-id ID] [--scopes "openid …"] [--token-service URL] [--redirect-port PORT]] [--json]',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(
      args,
      {
        profile: { type: 'string', short: 'p' },
        device: { type: 'boolean' },
        fresh: { type: 'boolean' },
        'no-browser': { type: 'boolean' },
        issuer: { type: 'string' },
        gateway: { type: 'string' },
        ca: { type: 'string' },
        'client-id': { type: 'string' },
        scopes: { type: 'string' },
        'token-service': { type: 'string' },
        'redirect-port': { type: 'string' },
        json: { type: 'boolean' },
      },
      { max: 1 },
    );
    const [{ bootstrapProfile }, profiles, { login: runLogin }] = await Promise.all([
      import('../../client/bootstrap.ts'),
      import('../../client/profiles.ts'),
      import('../../client/login.ts'),
    ]);
    const home = profiles.configHome(io.env);
    const url = positionals[0];
    const manual =
      values.issuer !== undefined ||
      values.gateway !== undefined ||
      values['client-id'] !== undefined ||
      values.scopes !== undefined ||
      values['token-service'] !== undefined ||
      values['redirect-port'] !== undefined;
    if (url !== undefined && manual) {
      throw new PgkeyError('ERR_USAGE', {
        message: 'give either a pgkey login URL or --issuer/--gateway, not both',
      });
    }
    const name = async () =>
      values.profile ??
      (io.env.PGKEY_PROFILE || undefined) ??
      (await profiles.readProfiles(home)).default ??
      'default';

    let profile;
    if (url !== undefined) {
      const ca = values.ca === undefined ? undefined : resolve(io.cwd, values.ca);
      profile = await bootstrapProfile(home, await name(), url, ca);
      io.stderr.write(
        `profile "${profile.name}": issuer ${profile.issuer}, gateway ${profile.gateway.host}:${profile.gateway.port} (from ${url})\n`,
      );
    } else if (manual || values.ca !== undefined) {
      const profileName = await name();
      const existing = (await profiles.readProfiles(home)).profiles.get(profileName);
      if (existing === undefined && (values.issuer === undefined || values.gateway === undefined)) {
        throw new PgkeyError('ERR_USAGE', {
          message: `profile "${profileName}" does not exist yet: --issuer and --gateway are both required`,
        });
      }
      profile = await profiles.saveProfile(home, profileName, {
        ...(values.issuer === undefined ? {} : { issuer: values.issuer.replace(/\/+$/, '') }),
        ...(values.gateway === undefined ? {} : { gateway: parseHostPort(values.gateway) }),
        ...(values.ca === undefined ? {} : { gateway_ca_file: resolve(io.cwd, values.ca) }),
        ...(values['client-id'] === undefined ? {} : { client_id: values['client-id'] }),
        ...(values.scopes === undefined ? {} : { scopes: values.scopes.split(/[\s,]+/) }),
        ...(values['token-service'] === undefined
          ? {}
          : { token_service: values['token-service'] }),
        ...(values['redirect-port'] === undefined
          ? {}
          : { redirect_port: Number(values['redirect-port']) }),
      });
    } else {
      profile = await profiles.loadProfile(io.env, values.profile);
    }

    const tokens = await runLogin({
      profile,
      device: values.device === true,
      fresh: values.fresh === true,
      browser: values['no-browser'] !== true,
      env: io.env,
      say: (line) => io.stderr.write(`${line}\n`),
    });
    const who = tokens.identity.email ?? tokens.identity.sub ?? 'unknown subject';
    if (values.json) {
      io.stdout.write(
        `${JSON.stringify(
          {
            profile: profile.name,
            issuer: profile.issuer,
            subject: tokens.identity.sub ?? null,
            email: tokens.identity.email ?? null,
            auth_time: jsonTime(
              tokens.identity.auth_time === undefined
                ? undefined
                : tokens.identity.auth_time * 1000,
            ),
            expires_at: jsonTime(tokens.expires_at),
            refreshable: tokens.refresh_token !== undefined,
          },
          null,
          2,
        )}\n`,
      );
    } else {
      io.stdout.write(
        `Logged in as ${printable(who)} (profile ${profile.name}); token valid until ${describeExpiry(tokens.expires_at)}${tokens.refresh_token === undefined ? '' : ', refreshed automatically'}\n`,
      );
    }
    return 0;
  },
};

/** `host:port` or `[v6]:port` or `host` (port 6432), as `--gateway` takes it. */
export function parseHostPort(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:\s]+))(?::(\d{1,5}))?$/.exec(text.trim());
  const host = match?.[1] ?? match?.[2];
  const port = match?.[3] === undefined ? 6432 : Number(match[3]); // profiles.ts DEFAULT_GATEWAY_PORT
  if (host === undefined || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new PgkeyError('ERR_USAGE', {
      message: `--gateway "${text}" is not HOST:PORT (for example db.example.com:6432)`,
    });
  }
  return { host, port };
}
