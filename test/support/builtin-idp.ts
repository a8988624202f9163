import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { ConfigInput, IdpConfig } from '../../src/config/schema.ts';
import { loginWithSoftKey } from '../../src/demo/oidc-login-driver.ts';
import {
  SoftAuthenticator,
  type SoftAuthenticatorOptions,
} from '../../src/demo/soft-authenticator.ts';
import { WebAuthnCeremonies } from '../../src/idp/webauthn/ceremonies.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { silentLogger } from '../../src/runtime/logger.ts';
import type { PgkeyServer } from '../../src/server/pgkey-server.ts';
import { webauthnSettings } from '../../src/server/webauthn-settings.ts';
import type { Directory, User } from '../../src/store/directory.ts';

/**
 * The built-in provider inside a gateway harness (`startGatewayHarness({ idp: true })`):
 * people with keys in its directory, and tokens from it the way `pgkey login` gets them —
 * authorization code + PKCE for `pgkey-cli` through the real sign-in endpoints, the
 * software authenticator touching the "key".
 */
export interface BuiltinIdp {
  readonly issuer: string;
  readonly directory: Directory;
  /**
   * A user with these groups and one registered key (registered through the ceremonies).
   * `key` sets up the soft authenticator: default a device-bound key with no attestation.
   */
  enroll(
    email: string,
    groups: readonly string[],
    key?: SoftAuthenticatorOptions,
  ): Promise<EnrolledUser>;
  /** A fresh login: the provider's access token for the gateway. */
  token(person: EnrolledUser): Promise<string>;
}

export interface EnrolledUser {
  readonly user: User;
  readonly credentialId: string;
  readonly authenticator: SoftAuthenticator;
}

/** The issuer name the gateway knows the provider by (audit `issuer`). */
export const BUILTIN_ISSUER_NAME = 'builtin';

/** Config sections for a provider on a free localhost port, its directory in the temp dir. */
export async function builtinIdpConfig(
  extra: Record<string, unknown> = {},
): Promise<
  Pick<ConfigInput, 'idp' | 'directory'> & { issuerEntry: ConfigInput['issuers'][number] }
> {
  const port = await freePort();
  const issuer = `http://localhost:${port}`;
  return {
    idp: { issuer, address: `127.0.0.1:${port}`, ...extra },
    directory: { sqlite: { file: 'directory.db' } },
    issuerEntry: { name: BUILTIN_ISSUER_NAME, issuer, audience: 'pgkey', profile: 'builtin' },
  };
}

export async function builtinIdp(server: PgkeyServer, config: IdpConfig): Promise<BuiltinIdp> {
  const { directory, idp } = server;
  if (directory === undefined || idp === undefined) throw new Error('the server runs no idp');
  // Registration straight through the ceremonies: what the enrollment page calls, minus HTTP.
  const ceremonies = new WebAuthnCeremonies({
    directory,
    settings: await webauthnSettings(config, systemClock, silentLogger),
    clock: systemClock,
  });
  const origin = new URL(idp.issuer).origin;
  return {
    issuer: idp.issuer,
    directory,
    async enroll(email, groups, key = {}) {
      let user = await directory.users.create({
        id: randomBytes(16).toString('base64url'),
        email,
        displayName: email.split('@')[0] ?? email,
        now: Date.now(),
      });
      for (const group of groups) user = await directory.users.addGroup(user.id, group);
      const authenticator = new SoftAuthenticator(key);
      const begun = await ceremonies.beginRegistration(user, { flow: 'test' });
      const { credential } = await ceremonies.finishRegistration(
        begun.challengeId,
        await authenticator.create(begun.options, { origin }),
      );
      return { user, credentialId: credential.id, authenticator };
    },
    async token(person) {
      const tokens = await loginWithSoftKey({
        issuer: idp.issuer,
        authenticator: person.authenticator,
      });
      return tokens.accessToken;
    },
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
